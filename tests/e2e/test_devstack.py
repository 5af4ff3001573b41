"""`make run` as a developer uses it: every documented variable, two stacks on one host, a port
already in use, and a child that dies while the rest keeps running."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.stack import free_port
from services.runtime.settings import instance_health_name
from tests.e2e.conftest import assert_json_error

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


class Up:
    """`studysync up` (what `make run` runs) as a child process, its output read line by line."""

    def __init__(self, state: Path, env: dict[str, str]) -> None:
        self.env = env
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack.cli", "up"],
            cwd=ROOT,
            env={**os.environ, "STUDYSYNC_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.seen[-60:]))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def port_env() -> dict[str, str]:
    env = {"STUDYSYNC_HTTP_PORT": str(free_port()), "STUDYSYNC_ENVOY_ADMIN_PORT": str(free_port())}
    for name in ("PROGRESS", "PACKAGES", "SYNC"):
        env[f"{name}_PORT"] = str(free_port())
        env[f"{name}_METRICS_PORT"] = str(free_port())
    return env


def serving_as(port: str, instance: str) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        request = health_pb2.HealthCheckRequest(service=instance_health_name(instance))
        try:
            status = health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status
        except grpc.RpcError:
            return False
        return status == health_pb2.HealthCheckResponse.SERVING


def test_two_stacks_on_one_host_each_on_the_ports_its_variables_name(tmp_path):
    env_a, env_b = port_env(), port_env()
    env_a["STUDYSYNC_MAX_BODY_BYTES"] = "4096"  # a gateway variable honoured by make run
    a, b = Up(tmp_path / "a", env_a), Up(tmp_path / "b", env_b)
    try:
        instance_a = a.wait_for(r"StudySync is up .*\(instance (\w+)\)").group(1)
        instance_b = b.wait_for(r"StudySync is up .*\(instance (\w+)\)").group(1)
        for name in ("PROGRESS", "PACKAGES", "SYNC"):
            assert serving_as(env_a[f"{name}_PORT"], instance_a) and serving_as(
                env_b[f"{name}_PORT"], instance_b
            )
            assert not serving_as(env_a[f"{name}_PORT"], instance_b)
            metrics = httpx.get(f"http://127.0.0.1:{env_a[f'{name}_METRICS_PORT']}/metrics", timeout=10)
            assert metrics.status_code == 200 and "studysync_rpc" in metrics.text
        for env, instance in ((env_a, instance_a), (env_b, instance_b)):
            health = httpx.get(f"http://127.0.0.1:{env['STUDYSYNC_HTTP_PORT']}/healthz", timeout=10)
            assert health.headers["x-studysync-instance"] == instance
            admin = httpx.get(f"http://127.0.0.1:{env['STUDYSYNC_ENVOY_ADMIN_PORT']}/ready", timeout=10)
            assert admin.status_code == 200
        # Each stack's dev token works on its own gateway only (each has its own key).
        token_a = subprocess.run(
            [sys.executable, "-m", "devstack.cli", "token", "--sub", "u", "--profile", "p"],
            env={**os.environ, "STUDYSYNC_STATE_DIR": str(tmp_path / "a")},
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        headers = {"Authorization": f"Bearer {token_a}"}
        for env, status in ((env_a, 200), (env_b, 401)):
            url = f"http://127.0.0.1:{env['STUDYSYNC_HTTP_PORT']}/api/v1/features"
            assert (
                httpx.get(url, params={"profile_id": "p"}, headers=headers, timeout=10).status_code == status
            )
        big = httpx.post(
            f"http://127.0.0.1:{env_a['STUDYSYNC_HTTP_PORT']}/api/v1/progress/batch",
            json={"profile_id": "p", "items": [], "pad": "x" * 8000},
            headers=headers,
            timeout=10,
        )
        assert_json_error(big, 413, "BODY_TOO_LARGE")

        # A child that dies is reported (which, how, its last lines) and restarted; the rest runs on.
        pid = int(a.wait_for(r"gRPC sync\s.*pid (\d+)").group(1))
        os.kill(pid, signal.SIGKILL)
        a.wait_for(rf"sync \(pid {pid}\) killed by SIGKILL; restarting it in 1s")
        a.wait_for(r"sync is ready again")
        assert serving_as(env_a["SYNC_PORT"], instance_a)
        assert serving_as(env_a["PROGRESS_PORT"], instance_a)
        assert a.process.poll() is None and b.process.poll() is None
    finally:
        assert a.stop() == 0
        assert b.stop() == 0


def test_a_port_in_use_stops_start_up_with_one_line_naming_port_and_variable(tmp_path):
    env = port_env()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env["SYNC_METRICS_PORT"] = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "devstack.cli", "up"],
            cwd=ROOT,
            env={**os.environ, "STUDYSYNC_STATE_DIR": str(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert env["SYNC_METRICS_PORT"] in line and "SYNC_METRICS_PORT" in line and "in use" in line
    assert "StudySync is up" not in result.stdout
