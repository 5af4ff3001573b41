"""The two sync stores without a database: which one wiring picks, that both (and the fake) keep
SyncStore's signatures, and the check on the PostgreSQL store's joined-text parameters."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from services.sync.domain import Rejection, validate_attempt
from services.sync.pg_store import KEY_SEPARATOR, JoinedTextError, PgSyncStore, _joined, _joined_keys
from services.sync.sqlite_store import SqliteSyncStore
from services.sync.store import SyncStore
from services.sync.wiring import sync_store
from tests.fakes import FakeSyncStore
from tests.helpers import CHECKED_AT, GOOD_ATTEMPT


async def test_wiring_picks_the_store_by_the_engines_dialect():
    for url, kind in [
        ("sqlite+aiosqlite:///:memory:", SqliteSyncStore),
        ("postgresql+asyncpg://nobody@127.0.0.1:1/none", PgSyncStore),  # never connects
    ]:
        engine = create_async_engine(url)
        assert type(sync_store(engine)) is kind
        await engine.dispose()


@pytest.mark.parametrize("store", [SqliteSyncStore, PgSyncStore, FakeSyncStore])
def test_every_store_keeps_the_interfaces_signatures(store: type):
    for name in ("store", "session", "receipts"):
        mine, interface = (inspect.signature(getattr(s, name), eval_str=True) for s in (store, SyncStore))
        assert mine == interface, name


def test_joined_columns_are_split_back_into_the_same_values():
    assert _joined("question_id", ["a", "b"]) == "a,b"
    assert _joined("question_id", []) == ""
    assert _joined_keys("idempotency_key", ["k,1", "k,2"]) == f"k,1{KEY_SEPARATOR}k,2"


@pytest.mark.parametrize(
    ("join", "values"),
    [
        (_joined, ["2026-01-28T10:00:00Z", "a,b"]),  # one value would be read as two
        (_joined, [""]),  # string_to_array reads a lone "" as no value
        (_joined_keys, ["key", f"a{KEY_SEPARATOR}b"]),
    ],
)
def test_a_value_holding_its_columns_separator_is_refused(join, values: list[str]):
    with pytest.raises(JoinedTextError, match="^answered_at_text: "):
        join("answered_at_text", values)


def test_a_key_that_could_hold_the_key_separator_is_refused_by_validation():
    """What keeps the check above from firing: keys are printable ASCII (commas are welcome)."""
    assert (
        validate_attempt(dataclasses.replace(GOOD_ATTEMPT, idempotency_key="a,b"), CHECKED_AT).idempotency_key
        == "a,b"
    )
    with pytest.raises(Rejection) as caught:
        validate_attempt(dataclasses.replace(GOOD_ATTEMPT, idempotency_key=f"a{KEY_SEPARATOR}b"), CHECKED_AT)
    assert caught.value.message == "idempotency_key: must be printable ASCII"
