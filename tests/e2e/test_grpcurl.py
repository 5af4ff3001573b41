"""People debug with grpcurl: every service lists and answers over server reflection."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.registry import SPECS

pytestmark = pytest.mark.e2e


def grpcurl(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or "grpcurl"
    return subprocess.run([binary, "-plaintext", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_grpcurl_lists_each_service_by_reflection(stack, spec):
    result = grpcurl(stack.grpc_target(spec.name), "list")
    assert result.returncode == 0, result.stderr
    assert spec.full_name in result.stdout.split()
    assert "grpc.health.v1.Health" in result.stdout.split()


def test_grpcurl_calls_a_method_with_a_token(stack):
    token = stack.token("user-1", ["p-grpcurl"])
    result = grpcurl(
        "-H",
        f"authorization: Bearer {token}",
        "-d",
        json.dumps({"profile_id": "p-grpcurl"}),
        stack.grpc_target("progress"),
        "studysync.progress.v1.ProgressService/GetFeatures",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"offline_progress": True}
