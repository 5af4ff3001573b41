"""Progress rules without a server: the flag rollout and cursors."""

from __future__ import annotations

import pytest

from services.progress.domain import Rollout, decode_cursor, encode_cursor
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
