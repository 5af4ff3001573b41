"""The shared field rules (services.runtime.validation) without a server."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.runtime.errors import InvalidField
from services.runtime.validation import parse_rfc3339

_GENERAL = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


def _as_first_parsed(value: str) -> datetime | None:
    """RFC 3339 as parse_rfc3339 first read it, every spelling by one general path (fractions
    truncated to microseconds, z read as Z); None: refused."""
    match = _GENERAL.fullmatch(value)
    if not match:
        return None
    date, time, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(
            f"{date}T{time}{'.' + fraction[:6].ljust(6, '0') if fraction else ''}{offset}"
        )
    except ValueError:
        return None


def _parsed(value: str) -> datetime | None:
    try:
        return parse_rfc3339("answered_at", value)
    except InvalidField as refused:
        assert refused.field == "answered_at"
        return None


PART = st.sampled_from(
    ["00", "01", "09", "12", "13", "23", "24", "28", "29", "30", "31", "32", "59", "60", "61", "99"]
)


@settings(max_examples=2000, deadline=None)
@given(
    year=st.sampled_from(["0000", "0001", "1999", "2024", "2026", "9999"]),
    month=PART,
    day=PART,
    hour=PART,
    minute=PART,
    second=PART,
    separator=st.sampled_from(["T", "t", " "]),
    fraction=st.sampled_from(["", ".", ".1", ".12", ".123456", ".1234567", ".999999999", ".٢"]),
    offset=st.sampled_from(
        ["Z", "z", "+00:00", "-00:00", "+23:59", "+24:00", "-12:30", "+00:60", "", "+0100"]
    ),
)
def test_every_spelling_reads_as_it_first_did(
    year, month, day, hour, minute, second, separator, fraction, offset
):
    value = f"{year}-{month}-{day}{separator}{hour}:{minute}:{second}{fraction}{offset}"
    first = _as_first_parsed(value)
    now = _parsed(value)
    assert now == first
    if first is not None:
        assert now.utcoffset() == first.utcoffset()  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["2026-01-29T10:00:00Z\n", "٢٠٢٦-01-29T10:00:00Z", "2026-02-30T10:00:00Z"])
def test_not_a_date_time_is_refused_naming_the_field(value):
    with pytest.raises(InvalidField) as refused:
        parse_rfc3339("timestamp", value)
    assert refused.value.field == "timestamp"
