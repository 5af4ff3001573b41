"""Attempt sync as the mobile client sees it: the seed's curl calls through the real Envoy."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from services.sync.domain import payload_hash
from tests.e2e.conftest import SEED_QUESTION, assert_json_error
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e


def seed_body() -> dict:
    """The seed's request, with a fresh user's keys and the hash computed as the mobile client does."""
    return {
        "attempts": [
            {
                "client_attempt_id": "123e4567-e89b-12d3-a456-426614174000",
                "idempotency_key": "223e4567-e89b-12d3-a456-426614174000",
                "offline_session_id": "323e4567-e89b-12d3-a456-426614174000",
                "question_id": SEED_QUESTION,
                "selected_option_index": 2,
                "answered_at": "2026-01-28T10:00:00Z",
                "payload_hash": payload_hash("2026-01-28T10:00:00Z", SEED_QUESTION, 2),
            }
        ]
    }


def test_seed_curl_calls_acked_then_duplicate(http, bearer, seed_question):
    headers = bearer(f"phone-user-{uuid.uuid4().hex[:8]}")
    first = http.post("/api/v1/sync/attempts:batch", json=seed_body(), headers=headers)
    assert first.status_code == 200, first.text
    [acked] = first.json()["results"]
    assert acked["status"] == "acked"
    assert set(acked) == {
        "client_attempt_id",
        "idempotency_key",
        "status",
        "server_attempt_id",
        "server_session_id",
    }
    second = http.post("/api/v1/sync/attempts:batch", json=seed_body(), headers=headers)
    [duplicate] = second.json()["results"]
    assert duplicate["status"] == "duplicate"
    assert duplicate["server_attempt_id"] == acked["server_attempt_id"]
    session = http.get(f"/api/v1/sync/sessions/{acked['server_session_id']}", headers=headers).json()
    assert session["answered_count"] == 1 and session["correct_count"] == 1
    assert (session["status"], session["mode"]) == ("ACTIVE", "TUTOR")  # enums, as their JSON names
    assert session["answers"][0]["answered_at"] == "2026-01-28T10:00:00Z"
    receipts = http.get(
        "/api/v1/sync/receipts",
        params={"idempotency_keys": "223e4567-e89b-12d3-a456-426614174000"},
        headers=headers,
    ).json()["receipts"]
    assert receipts[0]["found"] is True and receipts[0]["server_attempt_id"] == acked["server_attempt_id"]


def test_the_seeds_placeholder_hash_is_rejected(http, bearer, seed_question):
    body = seed_body()
    body["attempts"][0]["payload_hash"] = "abc123def456..."
    [result] = http.post(
        "/api/v1/sync/attempts:batch", json=body, headers=bearer("u-" + uuid.uuid4().hex)
    ).json()["results"]
    assert (result["status"], result["error_code"]) == ("rejected", "INVALID_FIELD")
    assert result["error_message"].startswith("payload_hash")
    assert "server_attempt_id" not in result


def test_more_than_a_hundred_attempts_is_400_json(http, bearer, seed_question):
    attempt = seed_body()["attempts"][0]
    response = http.post("/api/v1/sync/attempts:batch", json={"attempts": [attempt] * 101}, headers=bearer())
    body = assert_json_error(response, 400)
    assert body["details"][0]["metadata"]["field"] == "attempts"


def test_an_attempt_with_neither_session_id_is_rejected_naming_offline_session_id(
    http, bearer, seed_question
):
    body = seed_body()
    del body["attempts"][0]["offline_session_id"]
    [result] = http.post(
        "/api/v1/sync/attempts:batch", json=body, headers=bearer("u-" + uuid.uuid4().hex)
    ).json()["results"]
    assert (result["status"], result["error_code"]) == ("rejected", "INVALID_FIELD")
    assert result["error_message"].startswith("offline_session_id:")


def test_an_attempt_with_both_session_ids_is_rejected_alone_and_the_rest_is_stored(
    http, bearer, seed_question
):
    """Not a oneof: a second member would make the transcoder refuse the whole batch."""
    body = seed_body()
    good = dict(body["attempts"][0], client_attempt_id=str(uuid.uuid4()), idempotency_key=str(uuid.uuid4()))
    body["attempts"][0]["session_id"] = str(uuid.uuid4())
    body["attempts"].append(good)
    bad, stored = http.post(
        "/api/v1/sync/attempts:batch", json=body, headers=bearer("u-" + uuid.uuid4().hex)
    ).json()["results"]
    assert (bad["status"], bad["error_code"]) == ("rejected", "INVALID_FIELD")
    assert bad["error_message"].startswith("offline_session_id:")
    assert stored["status"] == "acked"


def test_someone_elses_session_is_404(http, bearer, seed_question):
    owner = bearer(f"owner-{uuid.uuid4().hex[:8]}")
    [acked] = http.post("/api/v1/sync/attempts:batch", json=seed_body(), headers=owner).json()["results"]
    response = http.get(f"/api/v1/sync/sessions/{acked['server_session_id']}", headers=bearer("intruder"))
    assert_json_error(response, 404)


def _attempts(count: int) -> list[dict]:
    offline = str(uuid.uuid4())
    attempts = []
    for n in range(count):
        answered_at = f"2026-01-28T10:{n // 60:02d}:{n % 60:02d}Z"
        attempts.append(
            {
                "client_attempt_id": str(uuid.uuid4()),
                "idempotency_key": str(uuid.uuid4()),
                "offline_session_id": offline,
                "question_id": SEED_QUESTION,
                "selected_option_index": n % 4,
                "answered_at": answered_at,
                "payload_hash": payload_hash(answered_at, SEED_QUESTION, n % 4),
            }
        )
    return attempts


def test_a_hundred_attempts_are_acked_and_the_question_counts_once(http, bearer, seed_question):
    headers = bearer(f"phone-user-{uuid.uuid4().hex[:8]}")
    response = http.post("/api/v1/sync/attempts:batch", json={"attempts": _attempts(100)}, headers=headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["acked"] * 100
    session = http.get(f"/api/v1/sync/sessions/{results[0]['server_session_id']}", headers=headers).json()
    # One question answered 100 times: it counts once, with the latest answer (10:01:39, option 3).
    assert session["answered_count"] == 1
    assert session["answers"][0]["answered_at"] == "2026-01-28T10:01:39Z"
    assert session.get("correct_count", 0) == 0  # the correct option is 2


def test_packages_down_is_503_json_and_sync_recovers_when_it_is_back(http, bearer, seed_question, stack):
    headers = bearer(f"phone-user-{uuid.uuid4().hex[:8]}")
    body = {"attempts": _attempts(3)}
    stack.stop_service("packages")
    try:
        for _ in range(6):  # long enough for gRPC's default reconnect backoff to grow past 4 s
            response = http.post("/api/v1/sync/attempts:batch", json=body, headers=headers)
            assert_json_error(response, 503)
            time.sleep(1)
    finally:
        stack.start_service("packages")

    def answered() -> httpx.Response | None:
        response = http.post("/api/v1/sync/attempts:batch", json=body, headers=headers)
        return response if response.status_code != 503 else None

    retried = wait_until(answered, what="sync to answer again after packages came back")
    assert retried.status_code == 200, retried.text
    assert [r["status"] for r in retried.json()["results"]] == ["acked"] * 3
