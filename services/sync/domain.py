"""Sync rules: attempt validation, the payload hash, what counts as the same attempt, and the rules
every store keeps (a new session's defaults and scope, which attempt a session answer counts).

Knows nothing of gRPC, SQL or Redis.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.runtime.errors import InvalidField
from services.runtime.scope import SCOPE_IDS
from services.runtime.validation import (
    canonical_sha256,
    check_idempotency_key,
    check_not_future,
    check_storable,
    check_text,
    parse_rfc3339,
    parse_uuid,
)

# The per-attempt value objects below are plain slotted dataclasses, not frozen ones: a batch makes
# about 500 of them, and a frozen dataclass costs several times as much to construct.
# Nothing mutates them after construction.
MAX_ATTEMPTS = 100
MAX_RECEIPT_KEYS = 500  # as progress: a device settles a whole queue in one call
MAX_USER_ID = 128  # the owner column's width
MAX_ANSWERED_AT = 64  # the stored text's width: room for 35 fraction digits
ACKED, DUPLICATE, REJECTED = "acked", "duplicate", "rejected"
_HEX64 = re.compile(r"[0-9a-f]{64}")
# What an RFC 3339 date-time is made of; checked with fullmatch, so no trailing newline slips
# through (a `$` anchor allows one, and the hash would then see it).
_DATE_TIME_CHARS = re.compile(r"[0-9TtZz:.+-]+")


@dataclass(slots=True)
class AttemptInput:
    client_attempt_id: str
    idempotency_key: str
    offline_session_id: str
    session_id: str
    question_id: str
    selected_option_index: int | None  # None: the client did not send it (a required field)
    answered_at: str
    payload_hash: str
    package_id: str


@dataclass(slots=True)
class ValidAttempt:
    """A checked attempt. `fingerprint` identifies its payload: same key + other fingerprint = reuse."""

    source: AttemptInput
    idempotency_key: str  # as stored: see idempotency_key_text; the ids below are canonical UUID text
    client_attempt_id: str
    question_id: str
    selected_option_index: int
    offline_session_id: str | None
    session_id: str | None
    package_id: str | None
    answered_at: datetime  # the instant, in UTC
    fingerprint: str


@dataclass(frozen=True)
class Rejection(Exception):
    code: str
    message: str


SESSION_NOT_FOUND = Rejection("SESSION_NOT_FOUND", "session_id: no such session of this user")


@dataclass(slots=True)
class Candidate:
    """A new attempt ready to store: validated, scored, with its question's scope tags."""

    attempt: ValidAttempt
    is_correct: bool
    scope: dict[str, int | None]


@dataclass(slots=True)
class Stored:
    """An attempt as stored: its server ids, its fingerprint, and whether this request stored it."""

    server_attempt_id: str
    session_id: str
    fingerprint: str
    is_new: bool


@dataclass(frozen=True)
class QuestionFacts:
    """What scoring needs: how many options, which is right, and the scope tags."""

    option_count: int
    correct_index: int
    scope: dict[str, int | None]


@dataclass(frozen=True)
class BankVersionKeys:
    """Where the packages service publishes the bank version (its Redis keys, as it names them)."""

    version: str
    writers: str


def usable_bank_version(version: str | None, writers: str | None) -> int | None:
    """The bank version kept bank questions may be used at, from what packages published: the
    version, if it is a number and no bank write is pending (writers absent or at most 0); else
    None, and every bank question is asked of packages."""
    try:
        current = int(version) if version is not None else None
        pending = int(writers) if writers is not None else 0
    except ValueError:
        return None
    return current if pending <= 0 else None


class PackageNotPublished(Exception):
    """The attempt names a draft package: a learner can never have downloaded it, and a draft's
    questions may still change, so its attempts are rejected rather than scored."""


@dataclass(frozen=True)
class SessionView:
    session_id: str
    offline_session_id: str | None
    status: str
    mode: str
    scope: dict[str, int | None]
    created_at: datetime
    updated_at: datetime
    answers: list[dict[str, Any]]


@dataclass(slots=True)
class AttemptResult:
    client_attempt_id: str
    idempotency_key: str
    status: str
    server_attempt_id: str | None = None
    server_session_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


# A session created by a batch (its offline session id seen for the first time) starts so.
NEW_SESSION_STATUS = "ACTIVE"
NEW_SESSION_MODE = "TUTOR"
# What a session answer takes from the attempt that counts for its question.
ANSWER_FIELDS = (
    "server_attempt_id",
    "idempotency_key",
    "selected_option_index",
    "is_correct",
    "answered_at",
    "answered_at_text",
)


def answer_rank(answered_at: datetime, idempotency_key: str) -> tuple[datetime, str]:
    """Latest answer wins: of a question's attempts in one session, the highest rank counts. The key
    settles equal instants, so every arrival order, and every store, picks the same attempt."""
    return answered_at, idempotency_key


def agreed_scope(so_far: dict[str, int | None] | None, scope: dict[str, int | None]) -> dict:
    """The scope tags a session's questions agree on; a tag they differ on is left unset."""
    if so_far is None:
        return {tag: scope.get(tag) for tag in SCOPE_IDS}
    return {tag: value if value == scope.get(tag) else None for tag, value in so_far.items()}


def new_session_scopes(
    candidates: Sequence[Candidate], known: dict[str, str]
) -> dict[str, dict[str, int | None]]:
    """The scope of each offline session not known yet, should it need creating: the tags its
    questions in this batch agree on."""
    scopes: dict[str, dict[str, int | None]] = {}
    for candidate in candidates:
        offline = candidate.attempt.offline_session_id
        if offline and offline not in known:
            scopes[offline] = agreed_scope(scopes.get(offline), candidate.scope)
    return scopes


def payload_hash(answered_at: str, question_id: str, selected_option_index: int) -> str:
    """What the mobile client computes: SHA-256 of RFC 8785 JSON, strings exactly as sent."""
    return canonical_sha256(
        {
            "answered_at": answered_at,
            "question_id": question_id,
            "selected_option_index": selected_option_index,
        }
    )


def _checked_payload_hash(answered_at: str, question_id: str, selected_option_index: int) -> str:
    """payload_hash for strings already validated (an RFC 3339 date-time, a UUID): they hold no
    character JSON escapes, so the RFC 8785 form can be written directly — the same bytes, faster."""
    canonical = (
        f'{{"answered_at":"{answered_at}","question_id":"{question_id}",'
        f'"selected_option_index":{selected_option_index}}}'
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The other spellings uuid.UUID reads (upper case, no hyphens, braces, urn:uuid:) — but not the
# whitespace, underscores or signs that its int() parsing would also let through.
_UUID_SPELLING = re.compile(r"(urn:uuid:)?\{?[0-9A-Fa-f-]{32,36}\}?")


def _uuid_text(field: str, value: str) -> str:
    """The canonical text of a UUID (the common, already-canonical case needs no parsing)."""
    if not value:
        raise InvalidField(field, "is required")
    if _CANONICAL_UUID.fullmatch(value):
        return value
    if not _UUID_SPELLING.fullmatch(value):
        raise InvalidField(field, "must be a UUID")
    return str(parse_uuid(field, value))


def idempotency_key_text(field: str, value: str) -> str:
    """The stored form of an idempotency key: 1–128 printable ASCII characters, as sent, except that
    a UUID is stored in its canonical text, so any spelling of a UUID key matches the stored one. Printable ASCII also keeps the key free of the separator
    the PostgreSQL store joins keys with (see pg_store.KEY_SEPARATOR)."""
    check_idempotency_key(field, value)
    if _CANONICAL_UUID.fullmatch(value):
        return value
    if _UUID_SPELLING.fullmatch(value):
        try:
            return str(parse_uuid(field, value))
        except InvalidField:
            return value  # looks like one but is not a UUID: an opaque key like any other
    return value


def _instant(value: str) -> datetime:
    """answered_at as a UTC instant; its text must fit the stored column and the instant must exist
    (0001-01-01T00:00:00+01:00 is a valid RFC 3339 string but falls before year 1 in UTC)."""
    if not value:
        raise InvalidField("answered_at", "is required")
    if len(value) > MAX_ANSWERED_AT:
        raise InvalidField("answered_at", f"must be at most {MAX_ANSWERED_AT} characters")
    if not _DATE_TIME_CHARS.fullmatch(value):
        raise InvalidField("answered_at", "must be an RFC 3339 date-time, e.g. 2026-01-28T10:00:00Z")
    try:
        return parse_rfc3339("answered_at", value).astimezone(UTC)
    except OverflowError:
        raise InvalidField("answered_at", "is out of range") from None


def validate_attempt(attempt: AttemptInput, now: datetime) -> ValidAttempt:
    """Raises Rejection (INVALID_FIELD naming the field, or PAYLOAD_HASH_MISMATCH)."""
    try:
        client_attempt_id = _uuid_text("client_attempt_id", attempt.client_attempt_id)
        key = idempotency_key_text("idempotency_key", attempt.idempotency_key)
        if bool(attempt.offline_session_id) == bool(attempt.session_id):
            raise InvalidField("offline_session_id", "set exactly one of offline_session_id and session_id")
        offline = (
            _uuid_text("offline_session_id", attempt.offline_session_id)
            if attempt.offline_session_id
            else None
        )
        session = _uuid_text("session_id", attempt.session_id) if attempt.session_id else None
        question = _uuid_text("question_id", attempt.question_id)
        if attempt.selected_option_index is None:
            raise InvalidField("selected_option_index", "is required")
        if attempt.selected_option_index < 0:
            raise InvalidField("selected_option_index", "must be ≥ 0")
        answered_at = _instant(attempt.answered_at)
        check_not_future("answered_at", answered_at, now)
        package = _uuid_text("package_id", attempt.package_id) if attempt.package_id else None
        check_text("payload_hash", attempt.payload_hash, 64)
        if not _HEX64.fullmatch(attempt.payload_hash):
            raise InvalidField("payload_hash", "must be 64 lowercase hex characters (SHA-256)")
    except InvalidField as error:
        raise Rejection("INVALID_FIELD", error.message) from None
    expected = _checked_payload_hash(attempt.answered_at, attempt.question_id, attempt.selected_option_index)
    if attempt.payload_hash != expected:
        raise Rejection(
            "PAYLOAD_HASH_MISMATCH",
            "payload_hash: does not match answered_at, question_id and "
            "selected_option_index (RFC 8785 JSON, SHA-256, lowercase hex)",
        )
    fingerprint = hashlib.sha256(
        f"{attempt.payload_hash}|{offline or ''}|{session or ''}|{package or ''}".encode()
    ).hexdigest()
    return ValidAttempt(
        attempt,
        key,
        client_attempt_id,
        question,
        attempt.selected_option_index,
        offline,
        session,
        package,
        answered_at,
        fingerprint,
    )


def check_user(user_id: str) -> None:
    """Every row is keyed by the token's `sub`; one too long to store is refused, not a 500."""
    if len(user_id) > MAX_USER_ID:
        raise InvalidField("sub", f"the token's subject must be at most {MAX_USER_ID} characters")
    check_storable("sub", user_id)


def check_batch(count: int) -> None:
    if not 1 <= count <= MAX_ATTEMPTS:
        raise InvalidField("attempts", f"must hold 1 to {MAX_ATTEMPTS} attempts, got {count}")


def check_receipt_keys(keys: list[str]) -> list[str]:
    if not 1 <= len(keys) <= MAX_RECEIPT_KEYS:
        raise InvalidField("idempotency_keys", f"must hold 1 to {MAX_RECEIPT_KEYS} keys, got {len(keys)}")
    return [idempotency_key_text(f"idempotency_keys[{n}]", key) for n, key in enumerate(keys)]
