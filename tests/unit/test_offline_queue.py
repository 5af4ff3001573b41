"""The offline queue on its own: what it stores and what it would send."""

from __future__ import annotations

import pytest

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


def _queue_one(db) -> None:
    assert (
        main(
            [
                "--db",
                str(db),
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


def test_cli_url_without_a_scheme_is_a_usage_error(tmp_path, capsys):
    _queue_one(tmp_path / "q.db")
    with pytest.raises(SystemExit) as exited:
        main(["--db", str(tmp_path / "q.db"), "sync", "--url", "127.0.0.1:8080", "--token", "t"])
    assert exited.value.code == 2
    assert "http://" in capsys.readouterr().err


def test_cli_unreachable_server_says_retry_later_with_its_own_exit_code(tmp_path, capsys):
    from clients.offline_queue import EXIT_RETRY
    from devstack.stack import free_port

    _queue_one(tmp_path / "q.db")
    capsys.readouterr()
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--db", str(tmp_path / "q.db"), "sync", "--url", url, "--token", "t"]) == EXIT_RETRY
    assert "retry later" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["missing-folder/q.db", "a-folder"])
def test_cli_bad_db_path_is_a_one_line_error(tmp_path, capsys, where):
    from clients.offline_queue import EXIT_QUEUE_FILE

    (tmp_path / "a-folder").mkdir()
    assert main(["--db", str(tmp_path / where), "pending"]) == EXIT_QUEUE_FILE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--db" in err and "Traceback" not in err


def test_cli_a_file_that_is_not_a_queue_is_a_one_line_error(tmp_path, capsys):
    from clients.offline_queue import EXIT_QUEUE_FILE

    (tmp_path / "notes.txt").write_text("not a database " * 100)
    assert main(["--db", str(tmp_path / "notes.txt"), "pending"]) == EXIT_QUEUE_FILE
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cli_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--db", "x", "sync", "--help"])
    out = capsys.readouterr().out
    assert "exit codes" in out and "401" in out and "retry later" in out
