"""The `studysync` command: dev tokens and migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jwt


def run_cli(*args: str, state: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.runtime.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "STUDYSYNC_STATE_DIR": str(state), **env},
    )


def test_token_command_prints_a_token_the_dev_jwks_verifies(tmp_path: Path):
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


def test_migrate_command_creates_each_service_schema_on_sqlite(tmp_path: Path):
    result = run_cli("migrate", state=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {line.split(":")[0] for line in result.stdout.splitlines()} == {"progress", "packages", "sync"}
    assert {p.name for p in tmp_path.glob("*.db")} == {"progress.db", "packages.db", "sync.db"}
