"""Small helpers the tests share."""

from __future__ import annotations

import importlib.util
import re
import shutil
import uuid
from pathlib import Path
from types import ModuleType

import grpc
from google.rpc import error_details_pb2, status_pb2

from services.sync.domain import payload_hash

ROOT = Path(__file__).resolve().parent.parent


def buf_setup() -> ModuleType:
    """scripts/buf_setup.py (buf from npm, the google protos beside protos/), imported from its path."""
    spec = importlib.util.spec_from_file_location("buf_setup", ROOT / "scripts" / "buf_setup.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    """The google.rpc.ErrorInfo the server attached to a failed call."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    raise AssertionError(f"no ErrorInfo on {error.code()}: {error.details()}")


def metric_value(metrics_text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in metrics_text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return 0.0


async def scrape_metrics(url: str) -> str:
    """The Prometheus text a service exposes on its metrics port."""
    import httpx

    async with httpx.AsyncClient() as client:
        return (await client.get(url)).text


def new_attempt(question_id: str, option: int = 1, answered_at: str = "2026-01-28T10:00:00Z") -> dict:
    """One attempt as a device queues it (REST JSON): fresh ids, its own offline session, a right hash."""
    return {
        "client_attempt_id": str(uuid.uuid4()),
        "idempotency_key": str(uuid.uuid4()),
        "offline_session_id": str(uuid.uuid4()),
        "question_id": question_id,
        "selected_option_index": option,
        "answered_at": answered_at,
        "payload_hash": payload_hash(answered_at, question_id, option),
    }


def redis_server_command(port: int, folder: Path, *extra: str) -> list[str]:
    """A private redis-server a test may flush, stop or freeze (never the shared one): no disk."""
    binary = shutil.which("redis-server") or "redis-server"
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(folder), *extra]  # fmt: skip
