"""Renders `envoy.yaml.tmpl` into an Envoy config: `python -m gateway.render --out PATH`.

Every value comes from `GatewayConfig`; `config_from_env()` fills it from `STUDYSYNC_*` variables.
Paths are written absolute, so Envoy does not depend on its working directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

from services.runtime import visibility

HERE = Path(__file__).resolve().parent
# Envoy cluster → the gRPC service it serves.
CLUSTER_SERVICES = (
    ("progress", "studysync.progress.v1.ProgressService"),
    ("packages", "studysync.packages.v1.PackagesService"),
    ("sync", "studysync.sync.v1.SyncService"),
)
TEMPLATE = HERE / "envoy.yaml.tmpl"

Address = tuple[str, int]


@dataclass(frozen=True)
class GatewayConfig:
    listen_host: str = "127.0.0.1"
    http_port: int = 8080
    admin_port: int = 9901
    progress_address: Address = ("127.0.0.1", 50051)
    packages_address: Address = ("127.0.0.1", 50052)
    sync_address: Address = ("127.0.0.1", 50053)
    descriptor_path: Path = HERE / "build" / "studysync.pb"
    jwks_path: Path = Path(".studysync/jwks.json")
    lua_path: Path = HERE / "http_status.lua"
    max_request_bytes: int = 8 * 1024 * 1024
    max_response_bytes: int = 32 * 1024 * 1024
    # URL and headers of a request → 431 beyond. The services take far more metadata (Settings.
    # max_metadata_bytes), so nothing the gateway forwards can hit gRPC's metadata limit.
    max_request_headers_kib: int = 64
    rate_limit_tokens: int = 2000
    rate_limit_fill_seconds: int = 1
    jwt_issuer: str = "studysync"
    # More replicas of a service behind the same cluster: ("progress", (host, port)), … (least request).
    extra_endpoints: tuple[tuple[str, Address], ...] = ()


def render(config: GatewayConfig) -> str:
    """The Envoy YAML for `config`."""
    values: dict[str, object] = asdict(config)
    for name in ("progress", "packages", "sync"):
        addresses = [getattr(config, f"{name}_address")] + [a for n, a in config.extra_endpoints if n == name]
        values[f"{name}_endpoints"] = "\n".join(
            "        - endpoint:\n            address:\n"
            f"              socket_address: {{address: {host}, port_value: {int(port)}}}"
            for host, port in addresses
        )
    values["grpc_routes"] = "\n".join(
        f"              - match: {{path: {path}}}\n                route: {{cluster: {cluster}, timeout: 30s}}"
        for cluster, service in CLUSTER_SERVICES
        for path in visibility.public_paths(service)
    )
    for name in ("descriptor_path", "jwks_path", "lua_path"):
        values[name] = os.path.abspath(getattr(config, name))
    return Template(TEMPLATE.read_text()).substitute(values)


def _address(value: str) -> Address:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


def config_from_env(env: Mapping[str, str] | None = None) -> GatewayConfig:
    """A config from `STUDYSYNC_*` variables; unset ones keep the dataclass defaults."""
    env = os.environ if env is None else env
    base = GatewayConfig()
    state = Path(env.get("STUDYSYNC_STATE_DIR", ".studysync"))

    def num(name: str, default: int) -> int:
        return int(env.get(f"STUDYSYNC_{name}") or default)

    def addr(name: str, default: Address) -> Address:
        value = env.get(f"STUDYSYNC_{name}_ADDR")
        return _address(value) if value else default

    return GatewayConfig(
        listen_host=env.get("STUDYSYNC_ENVOY_LISTEN_HOST") or base.listen_host,
        http_port=num("HTTP_PORT", base.http_port),
        admin_port=num("ENVOY_ADMIN_PORT", base.admin_port),
        progress_address=addr("PROGRESS", base.progress_address),
        packages_address=addr("PACKAGES", base.packages_address),
        sync_address=addr("SYNC", base.sync_address),
        jwks_path=state / "jwks.json",
        max_request_bytes=num("MAX_BODY_BYTES", base.max_request_bytes),
        max_response_bytes=num("MAX_RESPONSE_BYTES", base.max_response_bytes),
        max_request_headers_kib=num("MAX_HEADER_KIB", base.max_request_headers_kib),
        rate_limit_tokens=num("RATE_LIMIT_TOKENS", base.rate_limit_tokens),
        rate_limit_fill_seconds=num("RATE_LIMIT_FILL_SECONDS", base.rate_limit_fill_seconds),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the Envoy YAML")
    parser.add_argument(
        "--assets",
        type=Path,
        help="copy the descriptor set and the Lua filter here and point the config at them "
        "(for an Envoy container that shares only this folder, as in compose.yaml)",
    )
    args = parser.parse_args(argv)
    config = config_from_env()
    if args.assets is not None:
        args.assets.mkdir(parents=True, exist_ok=True)
        descriptor = shutil.copyfile(config.descriptor_path, args.assets / config.descriptor_path.name)
        lua = shutil.copyfile(config.lua_path, args.assets / config.lua_path.name)
        config = dataclasses.replace(config, descriptor_path=Path(descriptor), lua_path=Path(lua))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(config))


if __name__ == "__main__":
    main()
