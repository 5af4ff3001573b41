"""Field checks and canonical hashing that more than one service needs."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785

from services.runtime.errors import InvalidField

# RFC 3339 date-time: an offset is mandatory; fractions of any length (truncated to microseconds).
# Matched whole (fullmatch): a `$` anchor would let a trailing newline through.
_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


# The usual spelling (upper-case T and Z, at most 6 fraction digits): datetime.fromisoformat reads
# it exactly as the general path below does, for two thirds of the cost.
_USUAL_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")


def parse_rfc3339(field: str, value: str) -> datetime:
    """An aware datetime, or InvalidField naming `field`."""
    if _USUAL_RFC3339.fullmatch(value):
        return read_isoformat(field, value)
    match = _RFC3339.fullmatch(value)
    if not match:
        raise InvalidField(field, "must be an RFC 3339 date-time with an offset, e.g. 2026-01-28T10:00:00Z")
    date, time, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    return read_isoformat(
        field, f"{date}T{time}{'.' + fraction[:6].ljust(6, '0') if fraction else ''}{offset}"
    )


def read_isoformat(field: str, value: str) -> datetime:
    """datetime.fromisoformat of text whose shape a pattern has checked: what is left to refuse is a
    date or time that does not exist (February 30, 24:00), as InvalidField naming `field`."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidField(field, "is not a valid date-time") from None


def parse_instant(field: str, value: str) -> datetime:
    """parse_rfc3339 as a UTC instant; an instant outside years 1–9999 in UTC
    (`9999-12-31T23:59:59-01:00`, `0001-01-01T00:00:00+01:00`) is out of range, naming `field`."""
    try:
        return parse_rfc3339(field, value).astimezone(UTC)
    except OverflowError:
        raise InvalidField(field, "is out of range (years 0001 to 9999 in UTC)") from None


# Free-form JSON a client stores (progress `meta_data`, packages `scope_data`): at most this deep.
MAX_JSON_DEPTH = 16


def check_json(field: str, value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """One rule for free-form JSON: nested at most `max_depth` levels (an object or array is a level),
    and no NUL (U+0000) in any key or string, as for every text field (see check_storable)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise InvalidField(field, f"must be nested at most {max_depth} levels deep")
            if isinstance(item, dict):
                for key, inner in item.items():
                    if "\x00" in key:
                        raise InvalidField(field, "must not contain the NUL character (U+0000)")
                    pending.append((inner, depth + 1))
            else:
                pending.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str) and "\x00" in item:
            raise InvalidField(field, "must not contain the NUL character (U+0000)")


# How far ahead of the server's clock a device's clock may run. Progress and sync both keep what
# the device says happened when (replays can be days old), but a date far in the future is a wrong
# clock, and for sync (the latest answer wins) it would beat every real answer forever.
MAX_CLOCK_SKEW = timedelta(hours=24)


def check_not_future(field: str, instant: datetime, now: datetime) -> None:
    """InvalidField naming `field` when `instant` is beyond the clock-skew allowance."""
    if instant - now > MAX_CLOCK_SKEW:
        hours = int(MAX_CLOCK_SKEW.total_seconds() // 3600)
        raise InvalidField(field, f"must not be more than {hours} hours ahead of the server's clock")


def check_storable(field: str, value: str) -> None:
    """PostgreSQL text cannot hold U+0000 (SQLite can): refuse it on every backend, naming the field,
    instead of failing the whole write on one of them."""
    if "\x00" in value:
        raise InvalidField(field, "must not contain the NUL character (U+0000)")


def check_text(field: str, value: str, max_length: int, *, required: bool = True) -> None:
    """A text field: present unless optional, at most `max_length` characters, storable everywhere."""
    if not value:
        if required:
            raise InvalidField(field, "is required")
        return
    if len(value) > max_length:
        raise InvalidField(field, f"must be at most {max_length} characters")
    check_storable(field, value)


MAX_IDEMPOTENCY_KEY = 128  # the idempotency-key columns' width in progress and sync


def check_idempotency_key(field: str, key: str) -> None:
    """1–128 printable ASCII characters: keys are compared and stored exactly as sent (and hold no
    control character, so a store may join them with one)."""
    check_text(field, key, MAX_IDEMPOTENCY_KEY)
    if not key.isascii() or not key.isprintable():
        raise InvalidField(field, "must be printable ASCII")


def parse_uuid(field: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidField(field, "must be a UUID") from None


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme): the same bytes in every language."""
    return rfc8785.dumps(value)


def canonical_sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()
