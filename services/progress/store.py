"""What the progress use cases need from storage; repository.ProgressRepository is the SQL one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.progress.domain import Stored, StoredRecord, ValidItem


class ProgressStore(Protocol):
    async def record(self, profile_id: str, items: Sequence[ValidItem]) -> dict[str, tuple[Stored, bool]]:
        """Stores the items whose keys the profile has not used yet, all of them or none (one
        transaction), each with a new server id and the profile's next `seq` in the order given; the
        rows of keys already used are left as they are, so a retry changes nothing (idempotent).
        Returns every item's key → (its stored row, whether this call stored it). The keys of
        `items` are distinct. Runs to its end even if the caller is cancelled."""
        ...

    async def list_after(self, profile_id: str, after_seq: int, limit: int) -> list[StoredRecord]:
        """At most `limit` of the profile's records with `seq` > `after_seq`, in `seq` order. `seq`
        grows in commit order, so a cursor never skips a record that is stored later."""
        ...

    async def server_ids(self, profile_id: str, keys: Sequence[str]) -> dict[str, str]:
        """Key → server id, for those of `keys` the profile has stored; the others are absent."""
        ...
