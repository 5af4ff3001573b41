"""A stack on free ports serving the web client through Envoy: `python -m tests.e2e.webstack`.

For working on clients/web (SQLite, no Redis, a temp state folder, the sample bank loaded) and for the
browser suite, which starts the same stack once. Envoy reads the built files when it starts, so this
command restarts Envoy whenever `npm run build` rewrites dist/index.html.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from clients.packages_admin import load_sample
from devstack.stack import WEB_PROFILE, WEB_TIMINGS, Stack, envoy_binary, wait_http_ok, web_app_config
from gateway.render import GatewayConfig, render
from services.runtime.keys import ensure_dev_keys

WEB_DIST = GatewayConfig().web_dist


def web_stack(
    state: Path,
    dist: Path = WEB_DIST,
    config: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> Stack:
    """A stack on free ports (not started) whose Envoy serves `dist` and the dev app config."""
    ensure_dev_keys(state)
    return Stack.on_free_ports(
        state,
        env=dict(env or {}),
        log_dir=state / "logs",
        gateway={"web_dist": dist, "app_config": dict(config or web_app_config(state))},
    )


def restart_envoy(stack: Stack, timeout: float = 30) -> None:
    """Re-renders the gateway (new file list after a build) and restarts Envoy on the same ports."""
    stack.stop_service("envoy")
    config_path = stack.state / "envoy.yaml"
    config_path.write_text(render(stack.gateway_config()))
    command = [envoy_binary(), "-c", str(config_path), "--disable-hot-restart", "--log-level", "warn"]
    stack._spawn("envoy", command, dict(os.environ))  # the stack's own way to start a child
    wait_http_ok(f"{stack.http_url}/healthz", timeout, stack.processes["envoy"])


def _built_at(dist: Path) -> float:
    try:
        return (dist / "index.html").stat().st_mtime
    except FileNotFoundError:
        return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dist", type=Path, default=WEB_DIST, help="the built web client (default: %(default)s)"
    )
    parser.add_argument("--state", type=Path, help="state folder (default: a new temp folder)")
    parser.add_argument("--profile", default=WEB_PROFILE, help="profile_id in /app-config.json")
    for name, value in WEB_TIMINGS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value, dest=name)
    args = parser.parse_args(argv)
    state = args.state or Path(tempfile.mkdtemp(prefix="studysync-web-"))
    state.mkdir(parents=True, exist_ok=True)
    timings = {name: getattr(args, name) for name in WEB_TIMINGS}
    stack = web_stack(state, args.dist.resolve(), web_app_config(state, args.profile, **timings))
    stack.start()
    stopping: list[int] = []
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        admin = stack.token("dev-admin", [args.profile], ["admin"])
        packages = load_sample(stack.grpc_target("packages"), admin)
        built = _built_at(args.dist)
        print(
            f"web app: {stack.http_url}/   (app config: {stack.http_url}/app-config.json)\n"
            f"  dist: {args.dist}{'' if built else '  (not built yet: npm run build in clients/web)'}\n"
            f"  profile {args.profile}, {len(packages)} published packages, state + logs: {state}\n"
            f"  admin token: {admin}\n"
            f"  timings: {json.dumps(timings)}\n"
            "  Envoy restarts by itself after each `npm run build`; Ctrl-C stops everything.",
            flush=True,
        )
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping", file=sys.stderr)
                    return 1
            now = _built_at(args.dist)
            if now != built:
                time.sleep(0.5)  # let the build finish writing the other files
                built = _built_at(args.dist)
                restart_envoy(stack)
                print(f"dist changed: Envoy restarted, serving {stack.http_url}/", flush=True)
            time.sleep(0.5)
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
