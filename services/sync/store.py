"""What the sync use cases need from storage and from their other ports, as interfaces.

Two peers implement SyncStore: sqlite_store (a few statements in one transaction) and pg_store (one
statement on the driver); wiring picks one by the engine's dialect. The rules both keep (a new
session's defaults and scope, the answer fields, latest answer wins) are in domain.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from services.sync.domain import (
    BankVersionKeys,
    Candidate,
    QuestionFacts,
    Rejection,
    SessionView,
    Stored,
)


class SyncStore(Protocol):
    async def store(
        self,
        user_id: str,
        candidates: Sequence[Candidate],
        known_sessions: dict[str, str],
        also_check: Sequence[str] = (),
    ) -> dict[str, Stored | Rejection]:
        """Stores the candidates whose keys are new, atomically, and returns every candidate key's
        outcome: Stored (is_new when this call stored it, else the attempt stored before under that
        key, whatever its content) or SESSION_NOT_FOUND (a session_id that is not this user's). Also
        returns the stored attempt of any `also_check` key that has one (attempts refused before the
        store that an earlier try may have stored: duplicates, not rejections).

        `known_sessions` maps offline session ids to server session ids already known (cached); any
        other offline session id is looked up, or created with domain.NEW_SESSION_STATUS/MODE and
        the scope of domain.new_session_scopes. Each new attempt becomes its session's answer for its
        question unless one of higher domain.answer_rank is there, and touches the session.

        Idempotent under races: copies of one batch stored concurrently store and count every
        attempt once (one copy gets is_new, the others the same ids without it). Runs to completion
        once started, even if the caller is cancelled."""
        ...

    async def session(self, user_id: str, session_id: uuid.UUID) -> SessionView | None:
        """The user's session with its answers in the order first answered (then by question id);
        None if no session of this user has that id."""
        ...

    async def receipts(self, user_id: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(server_attempt_id, session_id) of each of the user's keys that has a stored attempt."""
        ...


class QuestionLookup(Protocol):
    @property
    def bank_version_keys(self) -> BankVersionKeys | None:
        """Where the bank version is published, to be read with each batch (ResultCache.lookup);
        None when bank questions are not kept."""
        ...

    async def fetch(
        self, question_ids: list[str], package_id: str | None, bank_version: int | None = None
    ) -> dict[str, QuestionFacts]:
        """The questions found, by id: from the question bank, or a published package's snapshot
        (then all of its questions). An unknown package → {}; a draft → PackageNotPublished; the
        source unreachable → Unavailable. Bank questions kept at exactly `bank_version` (the
        bank's current version) may be answered without asking the source; None: ask for all."""
        ...


class ResultCache(Protocol):
    async def lookup(
        self,
        user_id: str,
        keys: Sequence[str],
        offline_sessions: Sequence[str],
        bank: BankVersionKeys | None = None,
    ) -> tuple[dict[str, Stored], dict[str, str], int | None]:
        """Cached outcomes by key (never is_new) and cached server session ids by offline session
        id; whatever is missing or unreadable is simply absent. With `bank`, also the bank version
        read in the same round trip (domain.usable_bank_version; None when unknown or unusable)."""
        ...

    async def remember(self, user_id: str, results: dict[str, Stored], sessions: dict[str, str]) -> None:
        """Caches stored outcomes and session mappings; called only after the store committed them."""
        ...
