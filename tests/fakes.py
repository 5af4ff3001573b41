"""In-memory fakes of the services' store interfaces (and other ports), for the use-case tests.

Each keeps what a real store guarantees (per its Protocol in services/<svc>/store.py) and records
the calls it got, so a test can tell that a refused request never reached storage.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from services.progress.domain import Stored, StoredRecord, ValidItem

# -- progress


class FakeProgressStore:
    """services.progress.store.ProgressStore in memory: a profile's records in `seq` order."""

    def __init__(self) -> None:
        self.records: dict[str, list[StoredRecord]] = {}
        self.fingerprints: dict[tuple[str, str], str] = {}
        self.calls: list[str] = []

    async def record(self, profile_id: str, items: Sequence[ValidItem]) -> dict[str, tuple[Stored, bool]]:
        self.calls.append("record")
        assert len({item.idempotency_key for item in items}) == len(items), "keys must be distinct"
        rows = self.records.setdefault(profile_id, [])
        by_key = {row.idempotency_key: row for row in rows}
        received = datetime.now(UTC)
        outcome: dict[str, tuple[Stored, bool]] = {}
        for item in items:
            row = by_key.get(item.idempotency_key)
            if row is not None:
                fingerprint = self.fingerprints[(profile_id, item.idempotency_key)]
                outcome[item.idempotency_key] = (Stored(row.server_id, fingerprint, row.occurred_at), False)
                continue
            row = StoredRecord(
                seq=len(rows) + 1,
                server_id=str(uuid.uuid4()),
                profile_id=profile_id,
                idempotency_key=item.idempotency_key,
                activity_type=item.activity_type,
                content_id=item.content_id,
                score=item.score,
                duration_seconds=item.duration_seconds,
                meta_data=item.meta_data,
                occurred_at=item.occurred_at,
                server_received_at=received,
            )
            rows.append(row)
            self.fingerprints[(profile_id, item.idempotency_key)] = item.fingerprint
            outcome[item.idempotency_key] = (Stored(row.server_id, item.fingerprint, item.occurred_at), True)
        return outcome

    async def list_after(self, profile_id: str, after_seq: int, limit: int) -> list[StoredRecord]:
        self.calls.append("list_after")
        return [row for row in self.records.get(profile_id, []) if row.seq > after_seq][:limit]

    async def server_ids(self, profile_id: str, keys: Sequence[str]) -> dict[str, str]:
        self.calls.append("server_ids")
        rows = {row.idempotency_key: row.server_id for row in self.records.get(profile_id, [])}
        return {key: rows[key] for key in keys if key in rows}
