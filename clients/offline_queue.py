"""An offline queue for StudySync clients: record progress and answers with no network, sync later.

Items live in a local SQLite file until the server has them. A sync sends them in batches; the
server's answer settles each one (`ok`/`duplicate`/`acked` → synced; `error`/`rejected` → dropped,
a permanent problem); a network error, 429 or 5xx leaves everything pending for the next try, which
is safe because every item carries its idempotency key. Used by tests and as a reference client:

    python -m clients.offline_queue --db q.db progress --profile kid-1 --activity letter_trace \\
        --content letter-a --score 1
    python -m clients.offline_queue --db q.db sync --url http://127.0.0.1:8080 --token "$TOKEN"
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import rfc8785

PROGRESS_BATCH = 500
ATTEMPT_BATCH = 100
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


def payload_hash(answered_at: str, question_id: str, selected_option_index: int) -> str:
    """What the server checks: SHA-256 of the RFC 8785 JSON of the three fields, strings as sent."""
    import hashlib

    document: dict[str, str | int] = {
        "answered_at": answered_at,
        "question_id": question_id,
        "selected_option_index": selected_option_index,
    }
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SyncReport:
    synced: int = 0
    dropped: int = 0
    retry_later: bool = False  # the server or network was unavailable: try again later
    errors: list[str] = field(default_factory=list)
    # The server refused a whole request (401 token, 403 profile, 400 …): nothing was settled and
    # retrying will not help until the client or its token changes. "HTTP 401 UNAUTHENTICATED: …"
    refused: str | None = None
    # (kind, key, why) of each item the server refused for good in this sync.
    dropped_items: list[tuple[str, str, str]] = field(default_factory=list)


def _refusal(response: httpx.Response) -> str:
    """'HTTP 401 UNAUTHENTICATED: Jwt is expired' from the gateway's JSON error (google.rpc.Status)."""
    try:
        body = response.json()
        reason = (body.get("details") or [{}])[0].get("reason", "")
        message = str(body.get("message", ""))
    except (ValueError, AttributeError, IndexError):
        reason, message = "", response.text[:200]
    return " ".join(part for part in (f"HTTP {response.status_code}", reason) if part) + (
        f": {message}" if message else ""
    )


class OfflineQueue:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS items (
                kind TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending', server_id TEXT, error TEXT,
                tries INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
                PRIMARY KEY (kind, scope, key))"""
        )

    def close(self) -> None:
        self._db.close()

    def _add(self, kind: str, scope: str, key: str, body: dict[str, Any]) -> str:
        self._db.execute(
            "INSERT INTO items (kind, scope, key, body, created_at) VALUES (?, ?, ?, ?, ?)",
            (kind, scope, key, json.dumps(body), _now()),
        )
        return key

    def add_progress(
        self,
        profile_id: str,
        activity_type: str,
        content_id: str,
        score: float,
        duration_seconds: float | None = None,
        meta_data: dict | None = None,
        timestamp: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        key = idempotency_key or str(uuid.uuid4())
        body = {
            "idempotency_key": key,
            "activity_type": activity_type,
            "content_id": content_id,
            "score": score,
            "timestamp": timestamp or _now(),
        }
        if duration_seconds is not None:
            body["duration_seconds"] = duration_seconds
        if meta_data is not None:
            body["meta_data"] = meta_data
        return self._add("progress", profile_id, key, body)

    def add_attempt(
        self,
        user: str,
        offline_session_id: str,
        question_id: str,
        selected_option_index: int,
        answered_at: str | None = None,
        package_id: str | None = None,
    ) -> str:
        answered_at = answered_at or _now()
        key = str(uuid.uuid4())
        body = {
            "client_attempt_id": str(uuid.uuid4()),
            "idempotency_key": key,
            "offline_session_id": offline_session_id,
            "question_id": question_id,
            "selected_option_index": selected_option_index,
            "answered_at": answered_at,
            "payload_hash": payload_hash(answered_at, question_id, selected_option_index),
        }
        if package_id:
            body["package_id"] = package_id
        return self._add("attempt", user, key, body)

    def items(self, status: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT kind, scope, key, status, server_id, error, tries FROM items"
        rows = self._db.execute(
            query + (" WHERE status = ?" if status else "") + " ORDER BY created_at, key",
            (status,) if status else (),
        )
        return [
            dict(zip(("kind", "scope", "key", "status", "server_id", "error", "tries"), r, strict=True))
            for r in rows
        ]

    def sync(self, client: httpx.Client) -> SyncReport:
        """Sends everything pending, oldest first; stops at the first retryable failure."""
        report = SyncReport()
        for kind, scope, size in self._groups():
            rows = self._db.execute(
                "SELECT key, body, tries FROM items WHERE kind = ? AND scope = ? AND status = 'pending' "
                "ORDER BY created_at, key LIMIT ?",
                (kind, scope, size),
            ).fetchall()
            if not rows:
                continue
            bodies = [json.loads(body) for _, body, _ in rows]
            retry = max(tries for _, _, tries in rows)
            self._db.execute(
                f"UPDATE items SET tries = tries + 1 WHERE kind = ? AND scope = ? AND key IN "
                f"({','.join('?' * len(rows))})",
                (kind, scope, *[k for k, _, _ in rows]),
            )
            try:
                path, payload = self._request(kind, scope, bodies)
                response = client.post(path, json=payload, headers={"x-client-retry": str(retry)})
            except httpx.TransportError as error:
                report.retry_later = True
                report.errors.append(f"network: {error.__class__.__name__}")
                return report
            if response.status_code in RETRYABLE:
                report.retry_later = True
                report.errors.append(f"HTTP {response.status_code}")
                return report
            if response.status_code != 200:  # the whole request was refused: fix the client, keep the data
                report.refused = _refusal(response)
                report.errors.append(report.refused)
                return report
            self._settle(kind, scope, response.json()["results"], report)
        return report

    def _groups(self) -> list[tuple[str, str, int]]:
        rows = self._db.execute(
            "SELECT DISTINCT kind, scope FROM items WHERE status = 'pending' ORDER BY kind, scope"
        )
        return [
            (kind, scope, PROGRESS_BATCH if kind == "progress" else ATTEMPT_BATCH) for kind, scope in rows
        ]

    @staticmethod
    def _request(kind: str, scope: str, bodies: list[dict]) -> tuple[str, Any]:
        if kind == "progress":
            return "/api/v1/progress/batch", {"profile_id": scope, "items": bodies}
        return "/api/v1/sync/attempts:batch", {"attempts": bodies}

    def _settle(self, kind: str, scope: str, results: list[dict], report: SyncReport) -> None:
        for result in results:
            if result["status"] in ("ok", "duplicate", "acked"):
                server_id = result.get("server_id") or result.get("server_attempt_id")
                self._db.execute(
                    "UPDATE items SET status = 'synced', server_id = ? WHERE kind = ? AND scope = ? "
                    "AND key = ?",
                    (server_id, kind, scope, result["idempotency_key"]),
                )
                report.synced += 1
            else:
                error = result.get("error") or f"{result.get('error_code')}: {result.get('error_message')}"
                self._db.execute(
                    "UPDATE items SET status = 'dropped', error = ? WHERE kind = ? AND scope = ? AND key = ?",
                    (error, kind, scope, result["idempotency_key"]),
                )
                report.dropped += 1
                report.dropped_items.append((kind, result["idempotency_key"], error))


EXIT_OK = 0  # nothing failed: every item sent is on the server (or nothing was pending)
EXIT_DROPPED = 1  # done, but the server refused some items for good (listed, with the reason)
EXIT_USAGE = 2  # bad arguments (argparse), e.g. a --url without http:// or https://
EXIT_REFUSED = 3  # the server refused the whole request (401 token, 403 profile, …): items kept
EXIT_RETRY = 4  # the server or the network is unavailable: items kept, sync again later
EXIT_QUEUE_FILE = 5  # the --db file cannot be opened or is not a queue

EPILOG = f"""exit codes (sync):
  {EXIT_OK}  every pending item reached the server (synced), or nothing was pending
  {EXIT_DROPPED}  some items were dropped: the server refused them for good (each listed with why)
  {EXIT_USAGE}  usage error (e.g. a --url without http:// or https://)
  {EXIT_REFUSED}  the server refused the request (401: the token; 403: the profile): items are kept
  {EXIT_RETRY}  server or network unavailable (network error, 429, 5xx): items are kept, retry later
  {EXIT_QUEUE_FILE}  the --db file cannot be opened or is not a queue
"""


def _base_url(text: str) -> str:
    url = httpx.URL(text) if "://" in text else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise argparse.ArgumentTypeError(f"expected http://HOST:PORT or https://HOST, got {text!r}")
    return text


HINTS = {401: "get a new token (studysync token …)", 403: "the token may not act for this profile or user"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.offline_queue",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", type=Path, required=True, help="the local queue file")
    commands = parser.add_subparsers(dest="command", required=True)
    progress = commands.add_parser("progress", help="queue a progress item")
    progress.add_argument("--profile", required=True)
    progress.add_argument("--activity", required=True)
    progress.add_argument("--content", required=True)
    progress.add_argument("--score", type=float, required=True)
    commands.add_parser("pending", help="list what is not on the server yet")
    sync = commands.add_parser(
        "sync",
        help="send what is pending",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync.add_argument("--url", required=True, type=_base_url, help="the gateway, e.g. http://127.0.0.1:8080")
    sync.add_argument("--token", required=True)
    args = parser.parse_args(argv)
    try:
        queue = OfflineQueue(args.db)
    except sqlite3.Error as error:
        print(f"error: --db {args.db}: cannot open the queue file ({error})", file=sys.stderr)
        return EXIT_QUEUE_FILE
    try:
        if args.command == "progress":
            print(queue.add_progress(args.profile, args.activity, args.content, args.score))
        elif args.command == "pending":
            for item in queue.items("pending"):
                print(f"{item['kind']:8s} {item['scope']:20s} {item['key']}  tries={item['tries']}")
        else:
            with httpx.Client(
                base_url=args.url, headers={"Authorization": f"Bearer {args.token}"}, timeout=30
            ) as c:
                report = queue.sync(c)
            return _print_report(report)
    except sqlite3.DatabaseError as error:
        print(f"error: --db {args.db}: not a usable queue file ({error})", file=sys.stderr)
        return EXIT_QUEUE_FILE
    finally:
        queue.close()
    return EXIT_OK


def _print_report(report: SyncReport) -> int:
    print(f"synced {report.synced}, dropped {report.dropped}")
    for kind, key, why in report.dropped_items:
        print(f"  dropped {kind} {key}: {why}")
    if report.refused is not None:
        status = int(report.refused.split()[1])
        hint = f" ({HINTS[status]})" if status in HINTS else ""
        print(f"refused: {report.refused}{hint}; the items stay queued", file=sys.stderr)
        return EXIT_REFUSED
    if report.retry_later:
        print(f"retry later: {'; '.join(report.errors)}; the items stay queued", file=sys.stderr)
        return EXIT_RETRY
    return EXIT_DROPPED if report.dropped else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
