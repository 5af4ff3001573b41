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

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "envoy.yaml.tmpl"

Address = tuple[str, int]

ERROR_DOMAIN = "studysync.dev"  # ErrorInfo.domain, as the services' errors carry it
# The replies Envoy makes itself, in the services' error shape (google.rpc.Status as JSON):
# HTTP status -> (gRPC code number, ErrorInfo reason). The README's "Errors" table is this one.
GATEWAY_ERRORS: dict[int, tuple[int, str]] = {
    400: (3, "INVALID_REQUEST"),  # malformed JSON, a wrong type, an unknown field (the transcoder)
    401: (16, "UNAUTHENTICATED"),  # no, malformed, expired or unknown-key token (jwt_authn)
    403: (7, "PERMISSION_DENIED"),
    404: (5, "ROUTE_NOT_FOUND"),  # no such route or method
    413: (8, "BODY_TOO_LARGE"),  # STUDYSYNC_MAX_BODY_BYTES
    415: (3, "UNSUPPORTED_MEDIA_TYPE"),  # a request body that is not application/json
    429: (8, "RATE_LIMITED"),  # STUDYSYNC_RATE_LIMIT_*: retry after the retry-after header
    500: (13, "INTERNAL"),
    502: (14, "UPSTREAM_UNAVAILABLE"),
    503: (14, "UPSTREAM_UNAVAILABLE"),  # a service is down or unhealthy: retry later
    504: (4, "UPSTREAM_TIMEOUT"),
}
# Any other status Envoy makes itself: still the same shape.
GATEWAY_ERROR_FALLBACK = (2, "GATEWAY_ERROR")


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
    rate_limit_tokens: int = 2000
    rate_limit_fill_seconds: int = 1
    jwt_issuer: str = "studysync"
    # More replicas of a service behind the same cluster: ("progress", (host, port)), … (least request).
    extra_endpoints: tuple[tuple[str, Address], ...] = ()
    # The dev stack's run id, sent by /healthz as x-studysync-instance (empty: no header).
    instance_id: str = ""


def _error_format(code: int, reason: str, indent: str) -> str:
    """A local reply body_format: google.rpc.Status JSON with one ErrorInfo (field: see the Lua filter)."""
    return (
        f"{indent}json_format:\n"
        f"{indent}  code: {code}\n"
        f'{indent}  message: "%LOCAL_REPLY_BODY%"\n'
        f"{indent}  details:\n"
        f'{indent}  - "@type": type.googleapis.com/google.rpc.ErrorInfo\n'
        f"{indent}    reason: {reason}\n"
        f"{indent}    domain: {ERROR_DOMAIN}\n"
        f'{indent}    metadata: {{request_id: "%REQ(X-REQUEST-ID)%"}}\n'
        f"{indent}content_type: application/json"
    )


def error_mappers(indent: str = "            ") -> str:
    """local_reply_config mappers: one per status in GATEWAY_ERRORS."""
    return "\n".join(
        f"{indent}- filter:\n"
        f"{indent}    status_code_filter:\n"
        f"{indent}      comparison: {{op: EQ, value: {{default_value: {status}, runtime_key: studysync.error_{status}}}}}\n"
        f"{indent}  body_format_override:\n" + _error_format(code, reason, indent + "    ")
        for status, (code, reason) in GATEWAY_ERRORS.items()
    )


def render(config: GatewayConfig) -> str:
    """The Envoy YAML for `config`."""
    values: dict[str, object] = asdict(config)
    values["error_mappers"] = error_mappers()
    values["error_fallback_format"] = _error_format(*GATEWAY_ERROR_FALLBACK, "              ")
    values["healthz_unhealthy_format"] = _error_format(14, "NOT_ALL_SERVICES_HEALTHY", "                ")
    for name in ("progress", "packages", "sync"):
        addresses = [getattr(config, f"{name}_address")] + [a for n, a in config.extra_endpoints if n == name]
        values[f"{name}_endpoints"] = "\n".join(
            "        - endpoint:\n            address:\n"
            f"              socket_address: {{address: {host}, port_value: {int(port)}}}"
            for host, port in addresses
        )
    for name in ("descriptor_path", "jwks_path", "lua_path"):
        values[name] = os.path.abspath(getattr(config, name))
    return Template(TEMPLATE.read_text()).substitute(values)


def _address(value: str) -> Address:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


# The gateway's environment variables: GatewayConfig field -> variable. `python -m gateway.render`
# (compose) and the dev stack (`make run`) both read them through config_from_env.
ENV_VARIABLES: dict[str, str] = {
    "listen_host": "STUDYSYNC_ENVOY_LISTEN_HOST",
    "http_port": "STUDYSYNC_HTTP_PORT",
    "admin_port": "STUDYSYNC_ENVOY_ADMIN_PORT",
    "progress_address": "STUDYSYNC_PROGRESS_ADDR",
    "packages_address": "STUDYSYNC_PACKAGES_ADDR",
    "sync_address": "STUDYSYNC_SYNC_ADDR",
    "max_request_bytes": "STUDYSYNC_MAX_BODY_BYTES",
    "max_response_bytes": "STUDYSYNC_MAX_RESPONSE_BYTES",
    "rate_limit_tokens": "STUDYSYNC_RATE_LIMIT_TOKENS",
    "rate_limit_fill_seconds": "STUDYSYNC_RATE_LIMIT_FILL_SECONDS",
}


def config_from_env(env: Mapping[str, str] | None = None) -> GatewayConfig:
    """A config from `STUDYSYNC_*` variables (ENV_VARIABLES); unset ones keep the dataclass defaults.
    A value that is not a number (or host:port) is a ValueError naming the variable."""
    env = os.environ if env is None else env
    state = Path(env.get("STUDYSYNC_STATE_DIR", ".studysync"))
    values: dict[str, object] = {"jwks_path": state / "jwks.json"}
    for name, variable in ENV_VARIABLES.items():
        text = env.get(variable)
        if not text:
            continue
        if name.endswith("_address"):
            values[name] = _address(text)
        elif name == "listen_host":
            values[name] = text
        else:
            try:
                values[name] = int(text)
            except ValueError:
                raise ValueError(f"{variable}={text!r}: expected a whole number") from None
    return dataclasses.replace(GatewayConfig(), **values)  # type: ignore[arg-type]


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
