"""Service settings, read once from environment variables (one naming scheme for all services)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from services.runtime.keys import SERVICE_TOKEN_FILE


def state_dir() -> Path:
    """The local state folder: SQLite files, the dev signing key and its JWKS (never committed)."""
    return Path(os.environ.get("STUDYSYNC_STATE_DIR", ".studysync")).resolve()


def port_variables(service: str) -> tuple[str, str]:
    """The variables that set a service's gRPC and metrics ports (the dev stack names them in errors)."""
    return f"{service.upper()}_PORT", f"{service.upper()}_METRICS_PORT"


def instance_health_name(instance_id: str) -> str:
    """The health service name only the processes of one dev-stack run answer SERVING for."""
    return f"studysync.instance.{instance_id}"


@dataclass(frozen=True)
class Settings:
    service: str
    host: str
    port: int
    metrics_port: int | None
    database_url: str
    db_schema: str
    redis_url: str | None
    state_dir: Path
    grace_seconds: float
    max_message_bytes: int
    migrate_on_start: bool
    concurrent_calls: int = 0  # product RPCs worked on at once; 0: no limit (see interceptors.admission)
    otlp_endpoint: str | None = None  # where spans go over OTLP/gRPC; None: tracing off (runtime.tracing)
    # Request metadata a call may carry, one limit (gRPC's soft limit, below which nothing is refused,
    # and its hard limit are set equal: between the two gRPC refuses calls at random, as a retryable
    # RESOURCE_EXHAUSTED). Well above what the gateway forwards: its 64 KiB of URL and headers, plus
    # the transcoder's copy of the URL (x-envoy-original-path).
    max_metadata_bytes: int = 256 * 1024
    # This service's identity for internal calls (sync → packages); None: <state_dir>/service-token.jwt.
    service_token_file: Path | None = None

    @property
    def service_token_path(self) -> Path:
        return self.service_token_file or self.state_dir / SERVICE_TOKEN_FILE

    # STUDYSYNC_INSTANCE_ID: the dev stack's id for this run; health answers SERVING for the name
    # `studysync.instance.<id>` too, so the stack's readiness check knows it reached its own process.
    instance_id: str = ""
    db_pool_size: int = 10  # PostgreSQL connections per process (processes × pool < max_connections)
    # The service's own settings (e.g. where sync finds packages), read by its ServiceSpec.
    options: object = None

    @classmethod
    def from_env(
        cls,
        service: str,
        default_port: int,
        default_metrics_port: int,
        default_concurrent_calls: int = 0,
        options: object = None,
    ) -> Settings:
        """Reads `<SERVICE>_*` variables first, then the shared `STUDYSYNC_*` ones."""
        prefix = service.upper()

        def env(name: str, default: str | None = None) -> str | None:
            return os.environ.get(f"{prefix}_{name}", os.environ.get(f"STUDYSYNC_{name}", default))

        state = state_dir()
        port_variable, _ = port_variables(service)
        metrics = env("METRICS_PORT", str(default_metrics_port))
        return cls(
            service=service,
            host=env("HOST", "127.0.0.1") or "127.0.0.1",
            port=int(os.environ.get(port_variable, default_port)),
            metrics_port=int(metrics) if metrics not in (None, "", "off") else None,
            database_url=env("DATABASE_URL") or f"sqlite+aiosqlite:///{state / f'{service}.db'}",
            db_schema=env("DB_SCHEMA") or service,
            redis_url=env("REDIS_URL", os.environ.get("REDIS_URL")) or None,
            state_dir=state,
            grace_seconds=float(env("GRACE_SECONDS", "5") or 5),
            max_message_bytes=int(env("MAX_MESSAGE_BYTES", str(16 * 1024 * 1024)) or 0),
            migrate_on_start=(env("MIGRATE_ON_START", "1") or "1") not in ("0", "false", "no"),
            concurrent_calls=int(env("CONCURRENT_CALLS", str(default_concurrent_calls)) or 0),
            # The OpenTelemetry SDK's own variables, as every OTel user expects.
            otlp_endpoint=os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or None,
            max_metadata_bytes=int(env("MAX_METADATA_BYTES", str(256 * 1024)) or 256 * 1024),
            service_token_file=Path(token_file) if (token_file := env("SERVICE_TOKEN_FILE")) else None,
            instance_id=os.environ.get("STUDYSYNC_INSTANCE_ID", ""),
            db_pool_size=int(env("DB_POOL_SIZE", "10") or 10),
            options=options,
        )
