"""The dev stack's supervisor: a dying child is reported and restarted with a doubling backoff."""

from __future__ import annotations

import io
import sys
import time

from devstack.stack import Stack, Supervisor


def _wait_dead(stack: Stack, name: str) -> None:
    deadline = time.monotonic() + 30
    while stack.processes[name].poll() is None:
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.05)


def test_a_dying_child_is_reported_with_its_last_lines_and_restarted_with_backoff(tmp_path):
    stack = Stack(tmp_path, log_dir=tmp_path / "logs")
    stack._spawn("worker", [sys.executable, "-c", "print('about to fail'); raise SystemExit(3)"], {})
    out = io.StringIO()
    supervisor = Supervisor(stack, out=out)
    try:
        _wait_dead(stack, "worker")
        supervisor.check(now=100.0)
        report = out.getvalue()
        assert "worker (pid" in report and "exited with code 3; restarting it in 1s" in report
        assert "| about to fail" in report
        first = stack.processes["worker"].pid
        supervisor.check(now=100.5)  # not yet
        assert stack.processes["worker"].pid == first
        supervisor.check(now=101.0)
        assert stack.processes["worker"].pid != first and "worker restarted" in out.getvalue()
        _wait_dead(stack, "worker")
        supervisor.check(now=101.5)
        assert "restarting it in 2s" in out.getvalue()  # it died again: the wait doubles
    finally:
        stack.stop()
