"""The whole promise, from a device's side: what was done offline reaches the server exactly once."""

from __future__ import annotations

import uuid

import httpx
import pytest

from clients.offline_queue import OfflineQueue
from services.devstack import free_port
from tests.e2e.test_sync_e2e import seed_question  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


def test_offline_items_wait_then_sync_exactly_once_even_after_a_lost_response(stack, tmp_path, seed_question):  # noqa: F811
    profile, user = f"kid-{uuid.uuid4().hex[:8]}", f"user-{uuid.uuid4().hex[:8]}"
    token = stack.token(user, [profile])
    queue = OfflineQueue(tmp_path / "queue.db")
    keys = [
        queue.add_progress(profile, "letter_trace", f"letter-{c}", 1.0, timestamp="2026-01-29T10:00:00Z")
        for c in "abc"
    ]
    offline_session = str(uuid.uuid4())
    queue.add_attempt(user, offline_session, seed_question, 2, answered_at="2026-01-28T10:00:00Z")
    queue.add_attempt(user, offline_session, seed_question, 1, answered_at="2026-01-28T10:05:00Z")

    # Offline: nothing listens there. Everything stays pending.
    with httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", timeout=2) as offline:
        report = queue.sync(offline)
    assert report.retry_later and report.synced == 0
    assert len(queue.items("pending")) == 5

    # The response to the first progress batch is lost: the server has the items, the device does not know.
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.http_url, headers=headers, timeout=30) as online:
        lost = online.post(
            "/api/v1/progress/batch",
            json={
                "profile_id": profile,
                "items": [
                    {
                        "idempotency_key": keys[0],
                        "activity_type": "letter_trace",
                        "content_id": "letter-a",
                        "score": 1.0,
                        "timestamp": "2026-01-29T10:00:00Z",
                    }
                ],
            },
        )
        assert lost.status_code == 200
        report = queue.sync(online)
        assert (report.synced, report.dropped, report.errors) == (5, 0, [])
        assert queue.items("pending") == []
        assert queue.sync(online).synced == 0  # nothing left to send

        stored = online.get("/api/v1/progress", params={"profile_id": profile}).json()["items"]
        assert sorted(i["idempotency_key"] for i in stored) == sorted(keys)  # each exactly once
        synced = {i["key"]: i["server_id"] for i in queue.items("synced")}
        assert synced[keys[0]] == lost.json()["results"][0]["server_id"]

        attempts = [i for i in queue.items("synced") if i["kind"] == "attempt"]
        receipts = online.get(
            "/api/v1/sync/receipts", params=[("idempotency_keys", i["key"]) for i in attempts]
        )
        sessions = {r["server_session_id"] for r in receipts.json()["receipts"]}
        assert len(sessions) == 1
        session = online.get(f"/api/v1/sync/sessions/{sessions.pop()}").json()
        assert (session["answered_count"], session["correct_count"]) == (
            1,
            0,
        )  # the later answer (option 1) counts
    queue.close()
