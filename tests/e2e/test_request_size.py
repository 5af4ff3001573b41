"""Long URLs and big headers: 500 receipt keys work every time, oversized requests are a clear 431
(never gRPC's retryable-looking "metadata size exceeds limit" 429), and refusals are counted."""

from __future__ import annotations

import socket
import threading
import uuid

import httpx
import pytest

from tests.e2e.conftest import assert_json_error
from tests.helpers import metric_value

pytestmark = pytest.mark.e2e

PROFILE = "size-kid"


@pytest.fixture
def kid(bearer) -> dict:
    return bearer("size-user", [PROFILE])


def raw_get(port: int, target: str, headers: dict[str, str]) -> tuple[int, str, str]:
    """A GET over a plain socket: HTTP client libraries refuse URLs this long before sending them.
    Envoy answers before the request is fully sent and then resets the connection, so the answer is
    read while sending, by a second thread."""
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        received = bytearray()

        def read() -> None:
            try:
                while chunk := sock.recv(65536):
                    received.extend(chunk)
            except OSError:
                pass  # the reset after the answer

        reader = threading.Thread(target=read)
        reader.start()
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except OSError:
            pass  # Envoy stopped reading once it had refused the request
        reader.join(30)
    head, _, body = received.decode(errors="replace").partition("\r\n\r\n")
    assert head, "no answer before the connection closed"
    return int(head.split(" ", 2)[1]), head, body


def test_500_receipt_keys_in_the_url_work_every_time_on_both_services(http, kid):
    keys = [str(uuid.uuid4()) for _ in range(500)]
    for _ in range(10):  # the old failure was random above ~150 keys
        progress = http.get(
            "/api/v1/progress/receipts", params={"profile_id": PROFILE, "idempotency_keys": keys}, headers=kid
        )
        assert progress.status_code == 200, progress.text
        assert len(progress.json()["receipts"]) == 500
        sync = http.get("/api/v1/sync/receipts", params={"idempotency_keys": keys}, headers=kid)
        assert sync.status_code == 200, sync.text
        assert len(sync.json()["receipts"]) == 500


def test_receipts_batch_get_carries_the_keys_in_the_body(http, kid):
    long_keys = [f"{n:03d}" + "k" * 125 for n in range(500)]  # 64 KiB of keys: no URL could hold them
    progress = http.post(
        "/api/v1/progress/receipts:batchGet",
        json={"profile_id": PROFILE, "idempotency_keys": long_keys},
        headers=kid,
    )
    assert progress.status_code == 200, progress.text
    assert [r["idempotency_key"] for r in progress.json()["receipts"]] == long_keys
    keys = [str(uuid.uuid4()) for _ in range(500)]
    sync = http.post("/api/v1/sync/receipts:batchGet", json={"idempotency_keys": keys}, headers=kid)
    assert sync.status_code == 200, sync.text
    assert [r["idempotency_key"] for r in sync.json()["receipts"]] == keys


@pytest.mark.parametrize(
    ("target", "extra"),
    [
        (f"/api/v1/progress?profile_id={PROFILE}&page_token=" + "x" * 1_000_000, {}),
        (f"/api/v1/progress?profile_id={PROFILE}", {"x-padding": "p" * 70_000}),
        (
            f"/api/v1/tests/packages/{uuid.uuid4()}",
            {"If-None-Match": ", ".join(f'"{uuid.uuid4().hex}"' for _ in range(3000))},
        ),
        (
            f"/api/v1/progress/receipts?profile_id={PROFILE}&"
            + "&".join(["idempotency_keys=" + "k" * 128] * 500),
            {},
        ),
    ],
    ids=["1MB-page-token", "70KB-header", "100KB-if-none-match", "500-long-keys-in-url"],
)
def test_oversized_requests_are_431_revealing_no_other_header(stack, kid, target, extra):
    status, head, body = raw_get(stack.http_port, target, {**kid, "x-secret-name": "s", **extra})
    assert status == 431, head
    assert "application/json" in head
    assert "Too Large" in body
    for leaked in ("authorization", "x-secret-name", "x-padding", "if-none-match", "RESOURCE_EXHAUSTED"):
        assert leaked not in body.lower()


def test_a_20kb_header_is_simply_accepted(http, kid):
    response = http.get(
        "/api/v1/progress", params={"profile_id": PROFILE}, headers={**kid, "x-padding": "p" * 20_000}
    )
    assert response.status_code == 200, response.text


def test_too_many_receipt_keys_is_400_and_counted(stack, http, kid):
    url = f"http://127.0.0.1:{stack.metrics_ports['progress']}/metrics"
    method = "/studysync.progress.v1.ProgressService/BatchGetProgressReceipts"
    before = metric_value(
        httpx.get(url).text, "studysync_rpc_requests_total", method=method, code="INVALID_ARGUMENT"
    )
    response = http.post(
        "/api/v1/progress/receipts:batchGet",
        json={"profile_id": PROFILE, "idempotency_keys": [str(n) for n in range(501)]},
        headers=kid,
    )
    assert_json_error(response, 400)
    after = metric_value(
        httpx.get(url).text, "studysync_rpc_requests_total", method=method, code="INVALID_ARGUMENT"
    )
    assert after == before + 1
