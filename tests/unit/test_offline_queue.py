"""The offline queue on its own: what it stores and what it would send."""

from __future__ import annotations

from clients.offline_queue import OfflineQueue, main, payload_hash


def test_attempts_carry_the_payload_hash_the_server_checks(tmp_path):
    assert payload_hash("2026-01-28T10:00:00Z", "550e8400-e29b-41d4-a716-446655440000", 2) == (
        "4c090984a59565b1b3130a09db58b6c47422b722b7079c8b083b1361d84ceb51"
    )


def test_queued_items_survive_a_restart_and_stay_pending(tmp_path):
    queue = OfflineQueue(tmp_path / "q.db")
    key = queue.add_progress("kid", "letter_trace", "letter-a", 0.5)
    queue.close()
    reopened = OfflineQueue(tmp_path / "q.db")
    [item] = reopened.items("pending")
    assert (item["kind"], item["scope"], item["key"], item["tries"]) == ("progress", "kid", key, 0)


def test_cli_queues_and_lists(tmp_path, capsys):
    assert (
        main(
            [
                "--db",
                str(tmp_path / "q.db"),
                "progress",
                "--profile",
                "kid",
                "--activity",
                "a",
                "--content",
                "c",
                "--score",
                "1",
            ]
        )
        == 0
    )
    key = capsys.readouterr().out.strip()
    assert main(["--db", str(tmp_path / "q.db"), "pending"]) == 0
    assert key in capsys.readouterr().out
