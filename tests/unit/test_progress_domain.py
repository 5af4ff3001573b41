"""Progress rules without a server: the flag rollout, cursors and the content fingerprint."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.progress.domain import ProgressItem, Rollout, decode_cursor, encode_cursor, validate_item
from services.progress.settings import ProgressSettings
from services.runtime.errors import InvalidField


def test_rollout_percentage_is_stable_and_close_to_the_setting():
    profiles = [f"profile-{n}" for n in range(10_000)]
    for percent in (0, 10, 30, 100):
        rollout = Rollout(percent, frozenset(), frozenset())
        enabled = [p for p in profiles if rollout.enabled_for(p)]
        assert abs(len(enabled) - percent * 100) <= 200, percent
        assert enabled == [p for p in profiles if rollout.enabled_for(p)]  # stable


def test_rollout_grows_monotonically():
    low, high = Rollout(10, frozenset(), frozenset()), Rollout(50, frozenset(), frozenset())
    profiles = [f"p{n}" for n in range(2000)]
    assert {p for p in profiles if low.enabled_for(p)} <= {p for p in profiles if high.enabled_for(p)}


def test_allow_and_deny_lists_override_the_percentage():
    rollout = Rollout(50, allow=frozenset({"vip"}), deny=frozenset({"blocked"}))
    assert Rollout(0, frozenset({"vip"}), frozenset()).enabled_for("vip")
    assert not Rollout(100, frozenset(), frozenset({"blocked"})).enabled_for("blocked")
    assert rollout.enabled_for("vip") and not rollout.enabled_for("blocked")


def test_the_rollout_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    for name in ("PROGRESS_OFFLINE_ROLLOUT_PERCENT", "PROGRESS_OFFLINE_ALLOW", "PROGRESS_OFFLINE_DENY"):
        monkeypatch.delenv(name, raising=False)
    assert ProgressSettings.from_env().offline_rollout == Rollout(100, frozenset(), frozenset())
    monkeypatch.setenv("PROGRESS_OFFLINE_ROLLOUT_PERCENT", "12.5")
    monkeypatch.setenv("PROGRESS_OFFLINE_ALLOW", " vip, ,other ")
    monkeypatch.setenv("PROGRESS_OFFLINE_DENY", "blocked")
    assert ProgressSettings.from_env().offline_rollout == Rollout(
        12.5, frozenset({"vip", "other"}), frozenset({"blocked"})
    )


def test_cursor_round_trips_and_rejects_foreign_tokens():
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert decode_cursor("") == 0
    for bad in ("garbage", encode_cursor(1)[:-1] + "!", "djI6MQ"):
        with pytest.raises(InvalidField):
            decode_cursor(bad)


def _fingerprint_as_first_stored(item: ProgressItem) -> str:
    """The fingerprint's definition, as the first stored items were hashed: stored fingerprints
    never change, so a faster way of computing it must give exactly these bytes."""
    instant = datetime.fromisoformat(item.timestamp.replace("Z", "+00:00")).astimezone(UTC)
    content = [
        item.activity_type,
        item.content_id,
        item.score,
        item.duration_seconds,
        item.meta_data,
        instant.isoformat(timespec="microseconds"),
    ]
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


OFFSETS = st.sampled_from(["Z", "+00:00", "+02:00", "-05:30", "+14:00"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 1, 1)),
    digits=st.integers(0, 6),
    offset=OFFSETS,
    text=st.text(min_size=1, max_size=20).filter(lambda t: "\x00" not in t),
    score=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6),
    duration=st.none() | st.floats(min_value=0, allow_infinity=False) | st.integers(0, 10**6),
    meta=st.none() | st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3),
)
def test_the_fingerprint_is_the_one_items_were_first_stored_with(
    moment, digits, offset, text, score, duration, meta
):
    fraction = f".{moment.microsecond:06d}"[: digits + 1] if digits else ""
    timestamp = f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}{offset}"
    if meta is not None and ("\x00" in json.dumps(meta) or "\\u0000" in json.dumps(meta)):
        return  # refused (NUL), so never fingerprinted
    item = ProgressItem("k", text[:128], text[:128], score, duration, meta, timestamp)
    valid = validate_item(item, datetime(2030, 1, 1, tzinfo=UTC))
    assert valid.fingerprint == _fingerprint_as_first_stored(item)


@pytest.mark.parametrize("meta", [{"x": math.nan}, {"x": [1.0, math.inf]}, {"deep": {"y": -math.inf}}])
def test_meta_data_numbers_must_be_finite(meta):
    item = ProgressItem("k", "a", "c", 0.5, None, meta, "2026-01-29T10:00:00Z")
    with pytest.raises(InvalidField) as refused:
        validate_item(item, datetime(2030, 1, 1, tzinfo=UTC))
    assert refused.value.field == "meta_data" and "finite" in refused.value.message
