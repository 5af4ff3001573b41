"""Storage of sessions and attempts on PostgreSQL: a batch in one statement, one round trip, on the
asyncpg driver (a session is read by sql_reads, as on SQLite; receipts by RECEIPTS).

The statement reads the stored keys, maps offline sessions (creating new ones), inserts the new
attempts, counts them in their sessions' answers and touches the sessions, all set-based from
column arrays, and commits on its own (autocommit: atomic, no BEGIN/COMMIT round trips). Rows are
read by key one unique-index probe per key (LATERAL … OFFSET 0): the generic plan the prepared
statement gets after five executions would otherwise scan a deep user's whole history for a
retried batch (see runtime.db.keyed_lookup).

The unique keys make each attempt and each session exist once. A copy of the batch racing this one
(a client retrying while its first try is still running) makes our inserts wait for its commit and
then skip those rows; the attempts left unsettled that way are settled by running the statement
again, whose fresh snapshot sees what the other copy stored. Rows are inserted in key order, so two
copies wait on each other in one order and cannot deadlock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.db import driver_connection, keyed_lookup, reader, runs_to_completion
from services.runtime.errors import Unavailable
from services.sync import sql_reads
from services.sync.domain import (
    ANSWER_FIELDS,
    NEW_SESSION_MODE,
    NEW_SESSION_STATUS,
    SESSION_NOT_FOUND,
    Candidate,
    Rejection,
    SessionView,
    Stored,
    new_session_scopes,
)

ROUNDS = 3  # a round settles everything unless a racing copy got there first; the next one settles that

_ANSWER_FIELDS = ", ".join(ANSWER_FIELDS)
_EXCLUDED_ANSWER_FIELDS = ", ".join(f"EXCLUDED.{field}" for field in ANSWER_FIELDS)
# $2…$13 and $14 are columns joined into one text each, split again by string_to_array: see
# _joined below, which checks that no value holds its column's separator.
STORE = f"""
WITH input AS (
    SELECT * FROM unnest(
        string_to_array($2, E'\\x1f'), string_to_array($3, ','), string_to_array($4, ','),
        string_to_array($5, ',')::int4[], string_to_array($6, ','), string_to_array($7, ',')::timestamptz[],
        string_to_array($8, ','), string_to_array($9, ','), string_to_array($10, ',', '-'),
        string_to_array($11, ',')::bool[], string_to_array($12, ',', '-')::uuid[],
        string_to_array($13, ',', '-')::uuid[]
    ) AS i(idempotency_key, client_attempt_id, question_id, selected_option_index, answered_at_text,
           answered_at, payload_hash, fingerprint, package_id, is_correct, offline_session_id, session_ref)
),
existing AS (
    SELECT a.* FROM unnest(string_to_array($14, E'\\x1f')) AS k(key) CROSS JOIN LATERAL (
        SELECT idempotency_key, server_attempt_id, session_id, fingerprint FROM attempts
        WHERE user_id = $1 AND idempotency_key = k.key OFFSET 0
    ) AS a
),
wanted AS (
    SELECT * FROM unnest($15::uuid[], $16::int8[], $17::int8[], $18::int8[])
        AS w(offline_session_id, year_id, block_id, theme_id)
),
found AS (
    SELECT s.* FROM unnest($15::uuid[]) AS k(key) CROSS JOIN LATERAL (
        SELECT offline_session_id, session_id FROM sessions WHERE user_id = $1 AND offline_session_id = k.key OFFSET 0
    ) AS s
),
created AS (
    INSERT INTO sessions (user_id, session_id, offline_session_id, status, mode, year_id, block_id, theme_id,
                          created_at, updated_at)
    SELECT $1, gen_random_uuid(), w.offline_session_id, '{NEW_SESSION_STATUS}', '{NEW_SESSION_MODE}',
           w.year_id, w.block_id, w.theme_id, $19, $19
    FROM wanted w
    WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.offline_session_id = w.offline_session_id)
    ORDER BY w.offline_session_id
    ON CONFLICT (user_id, offline_session_id) DO NOTHING
    RETURNING offline_session_id, session_id
),
mapping AS (
    SELECT offline_session_id, session_id FROM found
    UNION ALL SELECT offline_session_id, session_id FROM created
    UNION ALL SELECT * FROM unnest($20::uuid[], $21::uuid[])
),
owned AS (
    SELECT s.* FROM unnest($22::uuid[]) AS k(key) CROSS JOIN LATERAL (
        SELECT session_id FROM sessions WHERE user_id = $1 AND session_id = k.key OFFSET 0
    ) AS s
),
resolved AS (
    SELECT i.*, COALESCE(m.session_id, o.session_id) AS session_id
    FROM input i
    LEFT JOIN mapping m ON m.offline_session_id = i.offline_session_id
    LEFT JOIN owned o ON o.session_id = i.session_ref
    WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.idempotency_key = i.idempotency_key)
),
inserted AS (
    INSERT INTO attempts (user_id, idempotency_key, server_attempt_id, session_id, client_attempt_id,
                          question_id, selected_option_index, answered_at_text, answered_at, payload_hash,
                          fingerprint, package_id, is_correct, received_at)
    SELECT $1, idempotency_key, gen_random_uuid(), session_id, client_attempt_id, question_id,
           selected_option_index, answered_at_text, answered_at, payload_hash, fingerprint, package_id,
           is_correct, $19
    FROM resolved WHERE session_id IS NOT NULL
    ORDER BY idempotency_key
    ON CONFLICT DO NOTHING
    RETURNING user_id, session_id, question_id, received_at, {_ANSWER_FIELDS}
),
counting AS (  -- domain.answer_rank, in SQL: the latest answer wins (here and in the upsert below)
    SELECT DISTINCT ON (session_id, question_id) * FROM inserted
    ORDER BY session_id, question_id, answered_at DESC, idempotency_key DESC
),
answers AS (
    INSERT INTO session_answers (user_id, session_id, question_id, {_ANSWER_FIELDS}, first_answered_at)
    SELECT user_id, session_id, question_id, {_ANSWER_FIELDS}, received_at FROM counting
    ON CONFLICT (user_id, session_id, question_id) DO UPDATE SET
        ({_ANSWER_FIELDS}) = ({_EXCLUDED_ANSWER_FIELDS})
    WHERE (EXCLUDED.answered_at, EXCLUDED.idempotency_key)
        > (session_answers.answered_at, session_answers.idempotency_key)
),
touched AS (
    UPDATE sessions SET updated_at = $19
    FROM (SELECT DISTINCT session_id FROM inserted) AS t
    WHERE sessions.user_id = $1 AND sessions.session_id = t.session_id
)
SELECT 'existing' AS outcome, idempotency_key, server_attempt_id::text, session_id::text, fingerprint
FROM existing
UNION ALL
SELECT 'stored', idempotency_key, server_attempt_id::text, session_id::text, NULL FROM inserted
UNION ALL
SELECT 'no_session', idempotency_key, NULL, NULL, NULL FROM resolved
WHERE session_id IS NULL AND session_ref IS NOT NULL
"""


NULL = "-"  # stands for NULL in a joined column (no value below can be "-")
# Idempotency keys are client text (printable ASCII, commas included), so their columns ($2, $14)
# are joined with the ASCII unit separator, which a validated key cannot hold.
KEY_SEPARATOR = "\x1f"


class JoinedTextError(ValueError):
    """A value holds the separator of the column it was joined into: string_to_array would split
    it, and the statement would see the batch's attempts misaligned."""


def _joined(column: str, values: Sequence[str], separator: str = ",") -> str:
    """A column as one joined text, split again by string_to_array in the statement: the driver
    encodes a text[] parameter element by element, a joined string at next to no cost.

    Comma-joined values are validated or built to be comma-free: canonical UUIDs (domain._uuid_text),
    hex digests, digits, t/f and RFC 3339 text (domain._DATE_TIME_CHARS: digits, T, Z, colon, dot,
    sign). Keys are printable ASCII (domain.idempotency_key_text), which KEY_SEPARATOR is not. The
    check below is what keeps a future column from breaking that silently: a separator inside a
    value, or a lone empty value (string_to_array reads "" as no value at all), changes the count
    of values the statement reads."""
    text = separator.join(values)
    if values and (text.count(separator) != len(values) - 1 or not text):
        raise JoinedTextError(f"{column}: a value holds the separator {separator!r} or is empty")
    return text


def _joined_keys(column: str, keys: Sequence[str]) -> str:
    """Idempotency keys joined with KEY_SEPARATOR (see domain.idempotency_key_text)."""
    return _joined(column, keys, KEY_SEPARATOR)


# The stored attempts of some keys of one user (see runtime.db.keyed_lookup).
RECEIPTS = keyed_lookup(
    "attempts", "user_id", "idempotency_key", ("idempotency_key", "server_attempt_id", "session_id")
)


def store_arguments(
    user_id: str,
    candidates: Sequence[Candidate],
    also_check: Sequence[str],
    scopes: dict[str, dict[str, int | None]],
    known_sessions: dict[str, str],
    now: datetime,
) -> tuple[object, ...]:
    """STORE's parameters, in order, for one round (the bench's storage ceiling runs STORE with them too)."""
    attempts = [c.attempt for c in candidates]
    return (
        user_id,
        _joined_keys("idempotency_key", [a.idempotency_key for a in attempts]),
        _joined("client_attempt_id", [a.client_attempt_id for a in attempts]),
        _joined("question_id", [a.question_id for a in attempts]),
        _joined("selected_option_index", [str(a.source.selected_option_index) for a in attempts]),
        _joined("answered_at_text", [a.source.answered_at for a in attempts]),
        _joined("answered_at", [a.answered_at.isoformat() for a in attempts]),
        _joined("payload_hash", [a.source.payload_hash for a in attempts]),
        _joined("fingerprint", [a.fingerprint for a in attempts]),
        _joined("package_id", [a.package_id or NULL for a in attempts]),
        _joined("is_correct", ["t" if c.is_correct else "f" for c in candidates]),
        _joined("offline_session_id", [a.offline_session_id or NULL for a in attempts]),
        _joined("session_ref", [a.session_id or NULL for a in attempts]),
        _joined_keys("existing keys", [*(a.idempotency_key for a in attempts), *also_check]),
        list(scopes),
        [s["year_id"] for s in scopes.values()],
        [s["block_id"] for s in scopes.values()],
        [s["theme_id"] for s in scopes.values()],
        now,
        list(known_sessions),
        list(known_sessions.values()),
        sorted({a.session_id for a in attempts if a.session_id}),
    )


class PgSyncStore:
    """The SyncStore on PostgreSQL: a batch in one statement (STORE) on the asyncpg driver."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = reader(engine)

    @runs_to_completion
    async def store(
        self,
        user_id: str,
        candidates: Sequence[Candidate],
        known_sessions: dict[str, str],
        also_check: Sequence[str] = (),
    ) -> dict[str, Stored | Rejection]:
        """See SyncStore.store; the module's docstring says how the statement keeps it under races."""
        scopes = new_session_scopes(candidates, known_sessions)
        now = datetime.now(UTC)
        outcome: dict[str, Stored | Rejection] = {}
        pending = list(candidates)
        check = list(also_check)
        async with driver_connection(self._engine) as conn:
            for _ in range(ROUNDS):
                rows = await conn.fetch(
                    STORE, *store_arguments(user_id, pending, check, scopes, known_sessions, now)
                )
                fingerprints = {c.attempt.idempotency_key: c.attempt.fingerprint for c in pending}
                for kind, key, attempt_id, session_id, fingerprint in rows:
                    if kind == "existing":
                        outcome[key] = Stored(attempt_id, session_id, fingerprint, False)
                    elif kind == "stored":
                        outcome[key] = Stored(attempt_id, session_id, fingerprints[key], True)
                    else:
                        outcome[key] = SESSION_NOT_FOUND
                pending = [c for c in pending if c.attempt.idempotency_key not in outcome]
                if not pending:
                    return outcome
                check = []
        raise Unavailable("attempts are being stored concurrently, retry", reason="STORE_CONTENDED")

    async def session(self, user_id: str, session_id: uuid.UUID) -> SessionView | None:
        return await sql_reads.session(self._reader, user_id, session_id)

    async def receipts(self, user_id: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        async with driver_connection(self._engine) as conn:
            rows = await conn.fetch(RECEIPTS, user_id, json.dumps(sorted(set(keys))))
        return {key: (str(attempt_id), str(session_id)) for key, attempt_id, session_id in rows}
