"""Imports run one way (the contracts in pyproject.toml's [tool.importlinter]), and the check bites."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "devstack", "clients", "gateway", "bench")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("services/runtime/errors.py", "import services.sync.domain", "The runtime imports no service"),
        (
            "services/progress/domain.py",
            "import services.packages.domain",
            "Services never import one another",
        ),
        ("services/sync/domain.py", "import devstack.stack", "Services never import the dev stack"),
        ("clients/offline_queue.py", "import services.runtime.auth", "Clients speak the public protocol"),
    ],
)
def test_a_wrong_way_import_breaks_its_contract(tmp_path, module, bad_import, contract):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("node_modules"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{bad_import}  # the wrong way\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout
