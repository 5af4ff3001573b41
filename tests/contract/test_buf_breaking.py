"""`buf breaking` (FILE rules) against main: a branch may not break what main's clients send and read.

The comparison is with the main the branch starts from (`git merge-base HEAD main`; on main itself,
HEAD), so a branch is checked for its own changes only, whatever has been merged since.

A deliberate break is accepted only against the protos it breaks: accepted_breaks.json is keyed by
that main's `protos/` tree (`git rev-parse <base>:protos`) and lists the exact findings allowed, with
why. Once the change is on main, main's tree is another one, the entry matches nothing, and the
comparison is plain again (the entry can then go).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import ROOT, buf_setup

Finding = tuple[str, str, str]  # (rule, file under protos/, message)

# A main protos/ tree → {"why": ..., "findings": [[rule, file, message], ...]} accepted against it.
ACCEPTED = json.loads((Path(__file__).with_name("accepted_breaks.json")).read_text())


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def base() -> str:
    """The commit of main this branch starts from; origin/main in a clone that has only the remote."""
    for ref in ("main", "origin/main"):
        found = subprocess.run(["git", "merge-base", "HEAD", ref], cwd=ROOT, capture_output=True, text=True)
        if found.returncode == 0:
            return found.stdout.strip()
    pytest.fail("no main branch to compare the protos with: `git fetch origin main:main`")


def findings(result: subprocess.CompletedProcess[str]) -> set[Finding]:
    """buf's JSON findings as (rule, file under protos/, message); buf failing to run is an error."""
    assert result.returncode in (0, 100), result.stdout + result.stderr  # 100: breaking changes found
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {(r["type"], r["path"].rpartition("protos/")[2], r["message"]) for r in rows}


def test_the_protos_break_nothing_main_serves(base):
    found = findings(buf_setup().breaking_against(base))
    entry = ACCEPTED.get(_git("rev-parse", f"{base}:protos"), {"findings": []})
    accepted = {tuple(finding) for finding in entry["findings"]}
    unexpected = sorted(found - accepted)
    assert not unexpected, "\n".join(f"{rule} {path}: {message}" for rule, path, message in unexpected)


def _workspace(dest: Path, edit: Callable[[str], str] | None = None) -> Path:
    """A copy of this buf workspace, its resources.proto of packages changed by `edit`."""
    shutil.copytree(ROOT / "protos", dest / "protos")
    shutil.copy(ROOT / "buf.yaml", dest / "buf.yaml")
    buf_setup().copy_google_protos(dest / "build" / "third_party")
    if edit is not None:
        resources = dest / "protos" / "studysync" / "packages" / "v1" / "resources.proto"
        text = resources.read_text()
        assert edit(text) != text, "the edit must change the file"
        resources.write_text(edit(text))
    return dest


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (lambda text: text.replace("  string version_hash = 7;\n", "", 1), "FIELD_NO_DELETE"),
        (
            lambda text: text.replace("string version_hash = 7;", "string version_hash = 15;", 1),
            "FIELD_NO_DELETE",
        ),
        (lambda text: text.replace("int32 version = 6;", "int64 version = 6;", 1), "FIELD_SAME_TYPE"),
    ],
    ids=["field-removed", "field-renumbered", "type-changed"],
)
def test_the_check_fails_on_a_removed_renumbered_or_retyped_field(tmp_path, edit, rule):
    before = _workspace(tmp_path / "before")
    after = _workspace(tmp_path / "after", edit)
    result = buf_setup().breaking(before, after)
    assert result.returncode != 0
    assert rule in {found[0] for found in findings(result)}, result.stdout


def test_an_unchanged_copy_passes(tmp_path):
    assert (
        buf_setup().breaking(_workspace(tmp_path / "before"), _workspace(tmp_path / "after")).returncode == 0
    )
