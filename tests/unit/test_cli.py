"""The `studysync` command: dev tokens and migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from services.runtime.keys import ensure_dev_keys

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, state: Path | None, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devstack.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{ROOT}:{ROOT / 'gen' / 'python'}",
            **({"STUDYSYNC_STATE_DIR": str(state)} if state else {}),
            **env,
        },
    )


def verified_claims(token: str, state: Path) -> dict:
    jwks = json.loads((state / "jwks.json").read_text())
    return jwt.decode(token, jwt.PyJWK(jwks["keys"][0]).key, algorithms=["ES256"], issuer="studysync")


def test_token_command_prints_a_token_the_dev_jwks_verifies(tmp_path: Path):
    ensure_dev_keys(tmp_path)  # the stack made them at its first start
    result = run_cli(
        "token",
        "--sub",
        "ann",
        "--profile",
        "kid-1",
        "--profile",
        "kid-2",
        "--role",
        "admin",
        "--ttl",
        "60",
        state=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    jwks = json.loads((tmp_path / "jwks.json").read_text())
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(token, key, algorithms=["ES256"], issuer="studysync")
    assert (claims["sub"], claims["profiles"], claims["roles"]) == ("ann", ["kid-1", "kid-2"], ["admin"])
    assert claims["exp"] - claims["iat"] == 60
    assert not (tmp_path / "signing-key.pem").stat().st_mode & 0o077  # private key readable by owner only


def test_token_command_never_makes_a_second_key_pair(tmp_path: Path):
    empty = tmp_path / "not-a-stack"
    empty.mkdir()
    result = run_cli("token", "--sub", "ann", state=empty)
    assert result.returncode == 1 and not result.stdout
    [line] = result.stderr.splitlines()
    assert "no dev signing key" in line and "STUDYSYNC_STATE_DIR" in line
    assert list(empty.iterdir()) == []


def test_token_command_finds_the_stack_from_a_subfolder_of_the_project(tmp_path: Path):
    ensure_dev_keys(tmp_path / ".studysync")
    deep = tmp_path / "clients" / "somewhere"
    deep.mkdir(parents=True)
    result = run_cli("token", "--sub", "ann", state=None, cwd=deep)
    assert result.returncode == 0, result.stderr
    assert verified_claims(result.stdout.strip(), tmp_path / ".studysync")["sub"] == "ann"
    assert not (deep / ".studysync").exists()


@pytest.mark.parametrize("scope_data", ["[2]", "null", "2", "{not json"])
def test_scope_data_that_is_not_a_json_object_is_a_usage_error(tmp_path: Path, scope_data):
    result = run_cli("packages", "generate", "--scope", "BLOCK", "--scope-data", scope_data, state=tmp_path)
    assert result.returncode == 2
    assert "--scope-data" in result.stderr.splitlines()[-1] and "Traceback" not in result.stderr


def test_import_help_describes_the_file_formats(tmp_path: Path):
    result = run_cli("packages", "import", "--help", state=tmp_path)
    assert result.returncode == 0
    for words in (".json", ".csv", "option_1", "correct_index", '{"questions": [...]}'):
        assert words in result.stdout, words


def test_make_help_lists_the_targets():
    result = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert {"run", "test", "gen", "lint", "bench", "clean", "help"} <= listed


def test_migrate_command_creates_each_service_schema_on_sqlite(tmp_path: Path):
    result = run_cli("migrate", state=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {line.split(":")[0] for line in result.stdout.splitlines()} == {"progress", "packages", "sync"}
    assert {p.name for p in tmp_path.glob("*.db")} == {"progress.db", "packages.db", "sync.db"}
