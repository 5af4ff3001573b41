"""Every driver and pool error of a lost connection is transient (UNAVAILABLE, 503), whichever layer
raised it; a request's own fault is not."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from services.runtime.db import is_transient_db_error


class _Adapted(Exception):
    """What SQLAlchemy's asyncpg adapter raises: the driver's SQLSTATE copied onto its own error."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("adapted")
        self.sqlstate = sqlstate


def _wrapped(sqlstate: str | None, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("SELECT 1", {}, _Adapted(sqlstate), connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped("08003"),  # connection does not exist: was a 500 (only class 40 was looked at)
        _wrapped("57P01"),  # terminating connection due to administrator command
        _wrapped("53300"),  # too many connections
        _wrapped("40P01"),  # deadlock
        _wrapped(None, invalidated=True),
        asyncpg.exceptions.ConnectionDoesNotExistError("closed"),
        asyncpg.exceptions.AdminShutdownError("terminated"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.exceptions.InternalClientError("protocol state"),
        sa_exc.PendingRollbackError("Can't reconnect until invalid transaction is rolled back"),
        sa_exc.TimeoutError("QueuePool limit reached"),
        sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
        sqlite3.OperationalError("disk I/O error"),
        ConnectionResetError(),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__ + f"-{getattr(getattr(e, 'orig', None), 'sqlstate', '')}",
)
def test_lost_connections_are_transient(error):
    assert is_transient_db_error(error)


def test_a_cause_anywhere_in_the_chain_counts():
    try:
        try:
            raise asyncpg.exceptions.ConnectionDoesNotExistError("closed")
        except asyncpg.PostgresError as inner:
            raise RuntimeError("while storing") from inner
    except RuntimeError as outer:
        assert is_transient_db_error(outer)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped("23505"),  # unique violation: a logic problem, not the connection
        _wrapped("22P02"),  # invalid text representation
        ValueError("bad"),
        KeyError("x"),
    ],
)
def test_a_requests_own_fault_is_not_transient(error):
    assert not is_transient_db_error(error)
