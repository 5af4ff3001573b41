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

from gateway.openapi import OPENAPI_OUT

HERE = Path(__file__).resolve().parent
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
    openapi_path: Path = OPENAPI_OUT
    max_request_bytes: int = 8 * 1024 * 1024
    max_response_bytes: int = 32 * 1024 * 1024
    rate_limit_tokens: int = 2000
    rate_limit_fill_seconds: int = 1
    jwt_issuer: str = "studysync"
    # More replicas of a service behind the same cluster: ("progress", (host, port)), … (least request).
    extra_endpoints: tuple[tuple[str, Address], ...] = ()
    otlp_address: Address | None = None  # an OTLP/gRPC collector: Envoy starts and exports traces
    trace_sample_percent: float = 100.0  # of requests that start a trace (a caller's decision is kept)


TRACING = """\
          tracing:
            random_sampling: {{value: {percent}}}
            provider:
              name: envoy.tracers.opentelemetry
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                service_name: studysync-gateway
                grpc_service:
                  envoy_grpc: {{cluster_name: otlp}}
                  timeout: 1s
"""

TRACING_CLUSTER = """\
  - name: otlp
    type: STRICT_DNS
    dns_lookup_family: V4_PREFERRED
    connect_timeout: 1s
    typed_extension_protocol_options: *http2
    load_assignment:
      cluster_name: otlp
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{address: {host}, port_value: {port}}}
"""


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
    for name in ("descriptor_path", "jwks_path", "lua_path", "openapi_path"):
        values[name] = os.path.abspath(getattr(config, name))
    values["tracing"] = values["tracing_cluster"] = ""
    if config.otlp_address is not None:
        host, port = config.otlp_address
        values["tracing"] = TRACING.format(percent=config.trace_sample_percent)
        values["tracing_cluster"] = TRACING_CLUSTER.format(host=host, port=int(port))
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
        rate_limit_tokens=num("RATE_LIMIT_TOKENS", base.rate_limit_tokens),
        rate_limit_fill_seconds=num("RATE_LIMIT_FILL_SECONDS", base.rate_limit_fill_seconds),
        otlp_address=_address(env["STUDYSYNC_OTLP_ADDR"]) if env.get("STUDYSYNC_OTLP_ADDR") else None,
        trace_sample_percent=float(env.get("STUDYSYNC_TRACE_SAMPLE_PERCENT") or base.trace_sample_percent),
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
        copied = {
            name: Path(shutil.copyfile(getattr(config, name), args.assets / getattr(config, name).name))
            for name in ("descriptor_path", "lua_path", "openapi_path")
        }
        config = dataclasses.replace(config, **copied)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(config))


if __name__ == "__main__":
    main()
