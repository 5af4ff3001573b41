"""The web client's own checks, in `make test`: its vitest units and the TypeScript type check."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.e2e.webclient import WEB, require_node_modules

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("script", ["test", "typecheck"])
def test_web_client_npm_script_passes(script):
    require_node_modules()
    npm = shutil.which("npm")
    assert npm, "npm not found (Node 20 + npm are needed for the web client)"
    result = subprocess.run(
        [npm, "run", "--silent", script], cwd=WEB, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"npm run {script} failed in {WEB}:\n{result.stdout}\n{result.stderr}"
