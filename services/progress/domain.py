"""Progress values and rules: validate items, tell new from duplicate from key reuse, flag rollout.

No I/O: the use cases hand it plain items and what the store answered.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.runtime import paging
from services.runtime.auth import Principal
from services.runtime.errors import DomainError, InvalidField
from services.runtime.validation import (
    check_idempotency_key,
    check_json,
    check_not_future,
    check_storable,
    check_text,
    parse_instant,
    read_isoformat,
)

MAX_ITEMS = 500
MAX_TEXT_LENGTH = 128
MAX_META_BYTES = 8 * 1024
MAX_PROFILE_ID = 128  # the profile column's width
OK, DUPLICATE, ERROR = "ok", "duplicate", "error"

# The per-item value objects (ProgressItem, ValidItem, Stored, ItemResult) are slotted dataclasses,
# not frozen ones, as sync's: a batch makes about 400 of them, and a frozen dataclass costs several
# times as much to construct (object.__setattr__ per field). Nothing mutates them after construction.


@dataclass(slots=True)
class ProgressItem:
    """An item as the client sent it; `meta_data` is a plain Python value (or None if absent)."""

    idempotency_key: str
    activity_type: str
    content_id: str
    score: float | None  # None: the client did not send it (a required field)
    duration_seconds: float | None
    meta_data: Any
    timestamp: str


@dataclass(slots=True)
class ValidItem:
    """A checked item, ready to store; `fingerprint` identifies its content."""

    idempotency_key: str
    activity_type: str
    content_id: str
    score: float
    duration_seconds: float | None
    meta_data: dict[str, Any] | None
    occurred_at: datetime
    fingerprint: str


@dataclass(slots=True)
class Stored:
    """What the database holds for a key: its record id and content fingerprint."""

    server_id: str
    fingerprint: str
    occurred_at: datetime


@dataclass(frozen=True)
class StoredRecord:
    """A stored item as read back; `seq` orders a profile's items (the cursors' position)."""

    seq: int
    server_id: str
    profile_id: str
    idempotency_key: str
    activity_type: str
    content_id: str
    score: float
    duration_seconds: float | None
    meta_data: dict | None
    occurred_at: datetime
    server_received_at: datetime


@dataclass(slots=True)
class ItemResult:
    idempotency_key: str
    status: str
    server_id: str | None = None
    error: str | None = None
    error_code: str | None = None
    occurred_at: datetime | None = None  # set when stored now: for the replay-age metric


# json.dumps with these options builds this very encoder on every call; building it once gives the
# same bytes (the fingerprints of stored items must never change) for less.
_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _compact_json(value: Any) -> str:
    return _COMPACT.encode(value)


_json_text = json.encoder.encode_basestring  # what _COMPACT writes a str with (ensure_ascii=False)


def _content_json(
    activity_type: str,
    content_id: str,
    score: float,
    duration_seconds: float | None,
    meta_data: Any,
    meta_json: str | None,
    instant: str,
) -> str:
    """`_compact_json([activity_type, content_id, score, duration_seconds, meta_data, instant])`,
    written directly when the numbers are floats (as protobuf's doubles always are): _COMPACT writes
    a finite float as its repr and a dict as `meta_json` is written, so the bytes are the same, for
    a third of the cost of the encoder's generic walk. Anything else takes that walk."""
    if type(score) is not float or (duration_seconds is not None and type(duration_seconds) is not float):
        return _compact_json([activity_type, content_id, score, duration_seconds, meta_data, instant])
    duration = "null" if duration_seconds is None else repr(duration_seconds)
    return (
        f"[{_json_text(activity_type)},{_json_text(content_id)},{score!r},{duration},"
        f"{meta_json or 'null'},{_json_text(instant)}]"
    )


# A timestamp that already is its UTC instant with at most 6 fraction digits, as most are.
_UTC_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:Z|\+00:00)")


def occurrence(timestamp: str) -> tuple[datetime, str]:
    """The timestamp as a UTC instant, and that instant's `isoformat(timespec="microseconds")` (what
    the fingerprint hashes). A timestamp already in that form, as most are, is read once for both:
    its text gives the isoformat (a fifth of the cost) and datetime.fromisoformat the instant."""
    match = _UTC_TIMESTAMP.fullmatch(timestamp)
    if match is None:
        instant = parse_instant("timestamp", timestamp)
        return instant, instant.isoformat(timespec="microseconds")
    instant = read_isoformat("timestamp", timestamp)  # UTC already (Z or +00:00)
    return instant, f"{match[1]}.{(match[2] or '').ljust(6, '0')}+00:00"


def validate_item(item: ProgressItem, now: datetime) -> ValidItem:
    """Raises InvalidField naming the first bad field."""
    check_idempotency_key("idempotency_key", item.idempotency_key)
    check_text("activity_type", item.activity_type, MAX_TEXT_LENGTH)
    check_text("content_id", item.content_id, MAX_TEXT_LENGTH)
    if item.score is None:
        raise InvalidField("score", "is required")
    if not math.isfinite(item.score):
        raise InvalidField("score", "must be a finite number")
    if item.duration_seconds is not None and not (
        math.isfinite(item.duration_seconds) and item.duration_seconds >= 0
    ):
        raise InvalidField("duration_seconds", "must be a finite number ≥ 0")
    meta_json = None
    if item.meta_data is not None:
        if not isinstance(item.meta_data, dict):
            raise InvalidField("meta_data", "must be a JSON object")
        check_json("meta_data", item.meta_data)
        try:
            meta_json = _compact_json(item.meta_data)
        except ValueError:  # a Struct sent over gRPC can carry NaN and Infinity; JSON cannot
            raise InvalidField("meta_data", "numbers must be finite (no NaN or Infinity)") from None
        if len(meta_json.encode()) > MAX_META_BYTES:
            raise InvalidField("meta_data", f"must be at most {MAX_META_BYTES} bytes as JSON")
    if not item.timestamp:
        raise InvalidField("timestamp", "is required")
    occurred_at, occurred_text = occurrence(item.timestamp)
    check_not_future("timestamp", occurred_at, now)
    # "Same content" = same fields, with the timestamp compared as an instant. The fingerprint never
    # leaves the server, so sorted-key stdlib JSON (C-accelerated) is canonical enough.
    fingerprint = hashlib.sha256(
        _content_json(
            item.activity_type,
            item.content_id,
            item.score,
            item.duration_seconds,
            item.meta_data,
            meta_json,
            occurred_text,
        ).encode()
    ).hexdigest()
    return ValidItem(
        item.idempotency_key,
        item.activity_type,
        item.content_id,
        item.score,
        item.duration_seconds,
        item.meta_data,
        occurred_at,
        fingerprint,
    )


def check_profile(principal: Principal, profile_id: str) -> None:
    """A profile id the column can hold, and one the caller may act for (a token may list any id)."""
    if len(profile_id) > MAX_PROFILE_ID:
        raise InvalidField("profile_id", f"must be at most {MAX_PROFILE_ID} characters")
    check_storable("profile_id", profile_id)
    principal.require_profile(profile_id)


def check_batch(principal: Principal, profile_id: str, item_count: int) -> None:
    """Whole-request checks, before anything is read: the profile, then the item count."""
    check_profile(principal, profile_id)
    if not 1 <= item_count <= MAX_ITEMS:
        raise InvalidField("items", f"must hold 1 to {MAX_ITEMS} items, got {item_count}")


def check_items(items: Sequence[ProgressItem], now: datetime) -> list[ValidItem | DomainError]:
    """Each item checked on its own: a bad item is answered with its error, the others go on."""
    checked: list[ValidItem | DomainError] = []
    for item in items:
        try:
            checked.append(validate_item(item, now))
        except DomainError as error:
            checked.append(error)
    return checked


def first_of_each_key(checked: Iterable[ValidItem | DomainError]) -> list[ValidItem]:
    """The valid items to store: a key repeated inside a batch is decided by its first copy."""
    first_by_key: dict[str, ValidItem] = {}
    for outcome in checked:
        if isinstance(outcome, ValidItem):
            first_by_key.setdefault(outcome.idempotency_key, outcome)
    return list(first_by_key.values())


def error_result(idempotency_key: str, error: DomainError) -> ItemResult:
    return ItemResult(idempotency_key, ERROR, error=error.message, error_code=error.reason)


def stored_result(item: ValidItem, row: Stored, is_new: bool, answered: bool) -> ItemResult:
    """A copy of a key compared to what is stored for it. Other content is a key reuse; the first
    answer for a key stored just now is `ok`; every other copy is a `duplicate` of the stored row."""
    if row.fingerprint != item.fingerprint:
        return ItemResult(
            item.idempotency_key,
            ERROR,
            error="idempotency_key: already used for different content",
            error_code="IDEMPOTENCY_KEY_REUSED",
        )
    if is_new and not answered:
        return ItemResult(item.idempotency_key, OK, row.server_id, None, None, row.occurred_at)
    return ItemResult(item.idempotency_key, DUPLICATE, row.server_id)


@dataclass(frozen=True)
class Rollout:
    """The `offline_progress` flag: a stable percentage of profiles, plus allow and deny lists."""

    percent: float
    allow: frozenset[str]
    deny: frozenset[str]

    def enabled_for(self, profile_id: str) -> bool:
        if profile_id in self.deny:
            return False
        if profile_id in self.allow:
            return True
        digest = hashlib.sha256(f"offline_progress:{profile_id}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") % 10_000  # 0.01 % steps
        return bucket < self.percent * 100


MAX_PAGE_SIZE = 500
MAX_RECEIPT_KEYS = 500
MAX_SEQ = 2**63 - 1  # the seq column is a bigint


def page_size(requested: int) -> int:
    return paging.page_limit(requested, MAX_PAGE_SIZE)


def encode_cursor(seq: int) -> str:
    return paging.encode_token(f"v1:{seq}")


def decode_cursor(token: str, field: str = "page_token") -> int:
    """The `seq` after which to continue; 0 for an empty token."""
    if not token:
        return 0
    version, _, seq = paging.decode_token(token, field).partition(":")
    if version != "v1" or not seq.isascii() or not seq.isdigit() or int(seq) > MAX_SEQ:
        raise paging.not_issued(field)
    return int(seq)


def check_receipt_keys(keys: Sequence[str]) -> None:
    if not 1 <= len(keys) <= MAX_RECEIPT_KEYS:
        raise InvalidField("idempotency_keys", f"must hold 1 to {MAX_RECEIPT_KEYS} keys, got {len(keys)}")
    for key in keys:
        check_idempotency_key("idempotency_keys", key)
