"""The whole promise, from a device's side: what was done offline reaches the server exactly once."""

from __future__ import annotations

import uuid

import httpx
import pytest

from clients.offline_queue import OfflineQueue
from devstack.stack import free_port

pytestmark = pytest.mark.e2e


def test_offline_items_wait_then_sync_exactly_once_even_after_a_lost_response(stack, tmp_path, seed_question):
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


def _sync_cli(stack, db, token: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "clients.offline_queue",
            "--db",
            str(db),
            "sync",
            "--url",
            stack.http_url,
            "--token",
            token,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout, result.stderr


def test_cli_says_when_the_token_is_refused_and_keeps_the_items(stack, tmp_path):
    from clients.offline_queue import EXIT_REFUSED

    queue = OfflineQueue(tmp_path / "q.db")
    queue.add_progress("kid-x", "letter_trace", "letter-a", 1.0)
    queue.close()
    code, _, err = _sync_cli(stack, tmp_path / "q.db", "not-a-token")
    assert code == EXIT_REFUSED and "HTTP 401 UNAUTHENTICATED" in err and "studysync token" in err
    code, _, err = _sync_cli(stack, tmp_path / "q.db", stack.token("someone", ["another-profile"]))
    assert code == EXIT_REFUSED and "HTTP 403 PERMISSION_DENIED" in err
    assert [i["status"] for i in OfflineQueue(tmp_path / "q.db").items()] == ["pending"]


def test_cli_lists_each_dropped_item_with_the_reason(stack, tmp_path):
    from clients.offline_queue import EXIT_DROPPED, EXIT_OK

    profile = f"kid-{uuid.uuid4().hex[:8]}"
    queue = OfflineQueue(tmp_path / "q.db")
    good = queue.add_progress(profile, "letter_trace", "letter-a", 1.0)
    bad = queue.add_progress(profile, "letter_trace", "x" * 200, 1.0)
    queue.close()
    code, out, _ = _sync_cli(stack, tmp_path / "q.db", stack.token("u", [profile]))
    assert code == EXIT_DROPPED
    assert "synced 1, dropped 1" in out
    assert f"dropped progress {bad}: content_id: must be at most 128 characters" in out and good not in out
    code, out, _ = _sync_cli(stack, tmp_path / "q.db", stack.token("u", [profile]))
    assert (code, out.strip()) == (EXIT_OK, "synced 0, dropped 0")
