"""Renders `envoy.yaml.tmpl` into an Envoy config: `python -m gateway.render --out PATH`.

Every value comes from `GatewayConfig`; `config_from_env()` fills it from `STUDYSYNC_*` variables.
Paths are written absolute, so Envoy does not depend on its working directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

from gateway.openapi import OPENAPI_OUT
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
# Methods of HTTP itself; any other (QUERY, PROPFIND, …) is answered 405 with the JSON error shape
# (Envoy's own reply to some of them has no body at all).
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
UNKNOWN_METHOD = (
    "this HTTP method is not allowed here: the API uses GET, HEAD and POST (see /api/openapi.json)"
)
PROTOCOL_ERROR = "not a valid HTTP request: an unknown method, or a malformed request line or header"
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
    edge_revalidation_lua_path: Path = HERE / "edge_revalidation.lua"
    openapi_path: Path = OPENAPI_OUT
    max_request_bytes: int = 8 * 1024 * 1024
    max_response_bytes: int = 32 * 1024 * 1024
    # URL and headers of a request → 431 beyond. The services take far more metadata (Settings.
    # max_metadata_bytes), so nothing the gateway forwards can hit gRPC's metadata limit.
    max_request_headers_kib: int = 64
    rate_limit_tokens: int = 2000
    rate_limit_fill_seconds: int = 1
    max_downstream_connections: int = 10_000  # open client connections; new ones refused beyond
    jwt_issuer: str = "studysync"
    # More replicas of a service behind the same cluster: ("progress", (host, port)), … (least request).
    extra_endpoints: tuple[tuple[str, Address], ...] = ()
    otlp_address: Address | None = None  # an OTLP/gRPC collector: Envoy starts and exports traces
    trace_sample_percent: float = 100.0  # of requests that start a trace (a caller's decision is kept)
    # Swagger UI from npm (tools/: `npm ci --prefix tools`), for the docs page at /api/docs.
    swagger_ui: Path = HERE.parent / "tools" / "node_modules" / "swagger-ui-dist"
    docs_page: Path = HERE / "docs"  # the page and its start-up script
    # The built web client (`make web`), served at / by Envoy itself; missing: / says how to build it.
    web_dist: Path = HERE.parent / "clients" / "web" / "dist"
    # Dev only (the dev stack and tests): GET /app-config.json hands the page a token and its
    # sync timings. None (every production render, compose) leaves the route out: sign-in form.
    app_config: Mapping[str, object] | None = None
    # The dev stack's run id, sent by /healthz as x-studysync-instance (empty: no header).
    instance_id: str = ""


# The files the config names that `--assets` copies beside it (the JWKS is the state folder's own).
ASSET_PATHS = ("descriptor_path", "lua_path", "edge_revalidation_lua_path", "openapi_path")


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


# Content types by suffix; anything else is served as bytes.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
}
IMMUTABLE = "public, max-age=31536000, immutable"
# Vite's content-hashed output (dist/assets/name-HASH.ext) never changes under its name; everything
# else (index.html, sw.js, the manifest, icons from public/) must be revalidated to pick up a release.
REVALIDATE = "no-cache"


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML flow scalar


def _direct_route(path: str, body: str, content_type: str, cache_control: str, status: int = 200) -> str:
    return (
        f"              - match: {{path: {_yaml_str(path)}}}\n"
        f"                direct_response:\n"
        f"                  status: {status}\n"
        f"                  body: {body}\n"
        "                response_headers_to_add:\n"
        f"                - header: {{key: content-type, value: {_yaml_str(content_type)}}}\n"
        "                  append_action: OVERWRITE_IF_EXISTS_OR_ADD\n"
        f"                - header: {{key: cache-control, value: {_yaml_str(cache_control)}}}\n"
        "                  append_action: OVERWRITE_IF_EXISTS_OR_ADD\n"
        "                - header: {key: x-content-type-options, value: nosniff}\n"
        "                  append_action: OVERWRITE_IF_EXISTS_OR_ADD\n"
        # The transcoder answers every path it cannot map to a method with 404 before the router.
        "                typed_per_filter_config:\n"
        "                  envoy.filters.http.grpc_json_transcoder:\n"
        '                    "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig\n'
        "                    disabled: true\n"
        # The Lua filter's HEAD handling is for transcoded replies; Envoy answers HEAD to a direct
        # response itself, with the file's length.
        "                  envoy.filters.http.lua:\n"
        '                    "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig\n'
        "                    disabled: true\n"
    )


def web_files(dist: Path) -> dict[str, Path]:
    """URL path → file for every file of the built web client (empty when it is not built)."""
    if not (dist / "index.html").is_file():
        return {}
    files = {
        "/" + f.relative_to(dist).as_posix(): f.resolve() for f in sorted(dist.rglob("*")) if f.is_file()
    }
    files["/"] = files["/index.html"]
    return files


def web_routes(config: GatewayConfig) -> str:
    """Exact-path static routes for the web client (and the dev app config), before the catch-all."""
    routes: list[str] = []
    if config.app_config is not None:
        body = _yaml_str(json.dumps(dict(config.app_config), separators=(",", ":")))
        routes.append(
            _direct_route("/app-config.json", f"{{inline_string: {body}}}", "application/json", "no-store")
        )
    files = web_files(Path(config.web_dist))
    if not files:
        message = "The web client is not built: run `make web` (npm ci and npm run build in clients/web)."
        routes.append(
            _direct_route(
                "/", f"{{inline_string: {_yaml_str(message)}}}", "application/json", "no-store", status=503
            )
        )
    for path, file in files.items():
        hashed = path.startswith("/assets/")
        routes.append(
            _direct_route(
                path,
                f"{{filename: {_yaml_str(str(file))}}}",
                CONTENT_TYPES.get(file.suffix, "application/octet-stream"),
                IMMUTABLE if hashed else REVALIDATE,
            )
        )
    return "".join(routes)


def docs_files(config: GatewayConfig) -> dict[str, Path]:
    """URL path → file of the API docs page (empty when Swagger UI is not installed)."""
    ui = Path(config.swagger_ui)
    if not (ui / "swagger-ui-bundle.js").exists():
        return {}
    return {
        "/api/docs": Path(config.docs_page) / "index.html",
        "/api/docs/init.js": Path(config.docs_page) / "init.js",
        "/api/docs/swagger-ui.css": ui / "swagger-ui.css",
        "/api/docs/swagger-ui-bundle.js": ui / "swagger-ui-bundle.js",
    }


def docs_routes(config: GatewayConfig) -> str:
    """The human docs page of the OpenAPI document, public like the document itself."""
    files = docs_files(config)
    if not files:
        message = "The docs page needs Swagger UI from npm: run `npm ci --prefix tools`."
        return _direct_route(
            "/api/docs", f"{{inline_string: {_yaml_str(message)}}}", "application/json", "no-store", 503
        )
    return "".join(
        _direct_route(path, f"{{filename: {_yaml_str(str(file))}}}", CONTENT_TYPES[file.suffix], REVALIDATE)
        for path, file in files.items()
    )


def max_web_file_bytes(config: GatewayConfig) -> int:
    """Envoy's limit on a direct_response body (default 4 KiB): the largest file, with headroom."""
    files = [*web_files(Path(config.web_dist)).values(), *docs_files(config).values()]
    sizes = [f.stat().st_size for f in files]
    if Path(config.openapi_path).exists():  # the API reference is a direct response too
        sizes.append(Path(config.openapi_path).stat().st_size)
    return max([1024 * 1024, *(2 * s for s in sizes)])


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
        f"{indent}content_type: application/json\n"
        f"{indent}omit_empty_values: true"  # no `request_id: null` when the codec refused the request
    )


def error_mappers(indent: str = "            ") -> str:
    """local_reply_config mappers: one per status in GATEWAY_ERRORS, after one for requests the HTTP
    codec refused (an unknown method such as QUERY, a malformed request line): Envoy gives those
    no body of its own, so the mapper says what was wrong."""
    protocol_error = (
        f"{indent}- filter:\n"
        f"{indent}    response_flag_filter: {{flags: [DPE]}}\n"
        f'{indent}  body: {{inline_string: "{PROTOCOL_ERROR}"}}\n'
        f"{indent}  body_format_override:\n"
        + _error_format(3, "INVALID_HTTP_REQUEST", indent + "    ")
        + "\n"
    )
    unknown_method = (
        f"{indent}- filter:\n"
        f"{indent}    header_filter:\n"
        f"{indent}      header:\n"
        f'{indent}        name: ":method"\n'
        f'{indent}        string_match: {{safe_regex: {{regex: "^({"|".join(HTTP_METHODS)})$"}}}}\n'
        f"{indent}        invert_match: true\n"
        f"{indent}  status_code: 405\n"
        f'{indent}  body: {{inline_string: "{UNKNOWN_METHOD}"}}\n'
        f"{indent}  body_format_override:\n" + _error_format(12, "METHOD_NOT_ALLOWED", indent + "    ") + "\n"
    )
    return (
        unknown_method
        + protocol_error
        + "\n".join(
            f"{indent}- filter:\n"
            f"{indent}    status_code_filter:\n"
            f"{indent}      comparison: {{op: EQ, value: {{default_value: {status}, runtime_key: studysync.error_{status}}}}}\n"
            f"{indent}  body_format_override:\n" + _error_format(code, reason, indent + "    ")
            for status, (code, reason) in GATEWAY_ERRORS.items()
        )
    )


def enum_names() -> dict[str, str]:
    """Each enum of the services' protos → its value names but the zero one (`"PROGRAM, YEAR, BLOCK,
    THEME"`): the Lua filter lists them when the transcoder refuses a name the enum does not have."""
    names: dict[str, str] = {}
    files = [visibility.service_descriptor(service).file for _, service in CLUSTER_SERVICES]
    seen: set[str] = set()
    while files:
        file = files.pop()
        if file.name in seen or not file.package.startswith("studysync."):
            continue
        seen.add(file.name)
        files.extend(file.dependencies)
        enums = list(file.enum_types_by_name.values())
        messages = list(file.message_types_by_name.values())
        while messages:
            message = messages.pop()
            enums.extend(message.enum_types)
            messages.extend(message.nested_types)
        for enum in enums:
            names[enum.full_name] = ", ".join(value.name for value in enum.values if value.number != 0)
    return dict(sorted(names.items()))


def render(config: GatewayConfig) -> str:
    """The Envoy YAML for `config`."""
    values: dict[str, object] = asdict(config)
    values["web_routes"] = web_routes(config) + docs_routes(config)
    values["max_direct_response_body_size_bytes"] = max_web_file_bytes(config)
    values["error_mappers"] = error_mappers()
    values["enum_names"] = json.dumps(enum_names())
    values["error_fallback_format"] = _error_format(*GATEWAY_ERROR_FALLBACK, "              ")
    values["healthz_unhealthy_format"] = _error_format(14, "NOT_ALL_SERVICES_HEALTHY", "                ")
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
    for name in (*ASSET_PATHS, "jwks_path"):
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
    "max_downstream_connections": "STUDYSYNC_MAX_CONNECTIONS",
    "max_request_headers_kib": "STUDYSYNC_MAX_HEADER_KIB",
    "otlp_address": "STUDYSYNC_OTLP_ADDR",
    "trace_sample_percent": "STUDYSYNC_TRACE_SAMPLE_PERCENT",
    "web_dist": "STUDYSYNC_WEB_DIST",
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
        elif name == "web_dist":
            values[name] = Path(text)
        elif name == "trace_sample_percent":
            values[name] = _number(variable, text, float)
        else:
            values[name] = _number(variable, text, int)
    return dataclasses.replace(GatewayConfig(), **values)  # type: ignore[arg-type]


def _number(variable: str, text: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{variable}={text!r}: expected a {'whole ' if kind is int else ''}number") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the Envoy YAML")
    parser.add_argument(
        "--assets",
        type=Path,
        help="copy the descriptor set and the Lua filters here and point the config at them "
        "(for an Envoy container that shares only this folder, as in compose.yaml)",
    )
    args = parser.parse_args(argv)
    config = config_from_env()
    if args.assets is not None:
        args.assets.mkdir(parents=True, exist_ok=True)
        copied: dict[str, Path] = {
            name: Path(shutil.copyfile(getattr(config, name), args.assets / getattr(config, name).name))
            for name in ASSET_PATHS
        }
        if docs_files(config):
            for name, folder in (("swagger_ui", "swagger-ui"), ("docs_page", "docs")):
                shutil.copytree(getattr(config, name), args.assets / folder, dirs_exist_ok=True)
                copied[name] = args.assets / folder
        web = args.assets / "web"
        if web_files(config.web_dist):
            shutil.copytree(config.web_dist, web, dirs_exist_ok=True)
        config = dataclasses.replace(config, **copied, web_dist=web)  # type: ignore[arg-type]  # Path fields
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(config))


if __name__ == "__main__":
    main()
