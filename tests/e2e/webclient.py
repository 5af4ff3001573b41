"""Where the web client lives and how the browser suite's Node scenarios are driven from pytest.

A scenario is `node clients/web/e2e/run.mjs <name>`; it may ask for `CONTROL stop <service>` /
`CONTROL start <service>` on its stdout, which the driver does on the real stack and answers `OK` on
its stdin, so a scenario can make the server really unavailable.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from devstack.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "clients" / "web"
DIST = Path(os.environ.get("STUDYSYNC_WEB_DIST") or WEB / "dist")  # as gateway.render reads it
E2E = WEB / "e2e"
ARTIFACTS = E2E / "artifacts"  # git-ignored; one folder per run, so runs side by side never mix
RUN_ARTIFACTS = ARTIFACTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
KEEP_RUNS = 5


def new_run_artifacts() -> Path:
    """This run's screenshot folder; only the newest few runs are kept."""
    RUN_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    runs = sorted((d for d in ARTIFACTS.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime)
    for old in runs[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
    return RUN_ARTIFACTS


CHROMIUM = Path("/usr/bin/chromium")


def require_node_modules() -> None:
    if not (WEB / "node_modules").is_dir():
        pytest.fail(f"{WEB}/node_modules is missing: run `make web` (npm ci + npm run build)")


def require_browser_build() -> None:
    require_node_modules()
    if not (DIST / "index.html").is_file():
        pytest.fail(f"{DIST} is not built: run `make web`")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")


def run_scenario(stack: Stack, name: str, env: Mapping[str, str], timeout: float = 300) -> str:
    """Runs one scenario to its end; fails the test with the scenario's name and its whole output."""
    node = shutil.which("node")
    assert node, "node not found (Node 20 is needed for the browser suite)"
    process = subprocess.Popen(
        [node, str(E2E / "run.mjs"), name],
        cwd=E2E,
        env={**os.environ, "ARTIFACTS": str(RUN_ARTIFACTS), **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert process.stdin is not None and process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def read(stream=process.stdout) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"scenario {name} still running after {timeout}s:\n{''.join(output)}")
            if line is None:
                break
            output.append(line)
            if line.startswith("CONTROL "):
                process.stdin.write(_control(stack, line.split()[1:]) + "\n")
                process.stdin.flush()
        code = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = "".join(output)
    print(text)
    if code != 0:
        pytest.fail(f"scenario {name} failed (exit {code}):\n{text}", pytrace=False)
    return text


def _control(stack: Stack, words: list[str]) -> str:
    """`stop progress` / `start progress`: the real process of the stack, not a fake answer."""
    match words:
        case ["stop", service] if service in stack.processes and service != "envoy":
            stack.stop_service(service)
        case ["start", service] if service in stack.grpc_ports and service not in stack.processes:
            stack.start_service(service)
        case _:
            return f"unknown control {' '.join(words)!r}"
    return "OK"
