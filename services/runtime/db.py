"""Database engines: async SQLAlchemy on PostgreSQL (one schema per service) or SQLite (one file).

On PostgreSQL each service's connections use `search_path = <schema>`, so models and migrations are
schema-free and the same code runs on SQLite.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, overload

import asyncpg
from sqlalchemy import ColumnElement, any_, event, literal
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def create_engine(url: str, schema: str, pool_size: int = 10) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_async_engine(
        url,
        # A fixed pool: requests beyond it wait for a connection (cheap) instead of opening overflow
        # connections that are closed again on return (a connect per request under load), and
        # processes × pool stays under PostgreSQL's max_connections (100 by default).
        pool_size=pool_size,
        max_overflow=0,
        # No pre-ping: it costs a round trip per transaction. A dead connection fails that request
        # as UNAVAILABLE (the client retries; every write is idempotent) and the pool replaces it.
        pool_recycle=1800,
        pool_timeout=10,
        connect_args={
            # application_name shows which service a connection belongs to (pg_stat_activity).
            "server_settings": {"search_path": schema, "application_name": f"studysync/{schema}"},
            "timeout": 5,
            "command_timeout": 30,
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout turns lock contention into waiting.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Let SQLAlchemy, not the driver, open transactions (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None


def _sqlite_begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN: a transaction that reads and then writes can otherwise fail
    # with SQLITE_BUSY instead of waiting when another writer got in between. Autocommit reads (the
    # `reader`) open no transaction, so they never wait behind a writer.
    if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, in autocommit: a lone SELECT costs one round trip instead of BEGIN, SELECT,
    ROLLBACK. For reads that need no snapshot across statements."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def keyed_lookup(table: str, owner: str, key: str, columns: Sequence[str]) -> str:
    """PostgreSQL: the rows of some of one owner's keys, by their unique (owner, key) index; $1 is the
    owner, $2 the keys as one JSON array (distinct, so each row comes back once).

    Written as one probe per key because the driver's prepared statements get a generic plan after
    five executions, and a generic plan sizes every owner at the table's average. With `key =
    ANY($2)` or `key IN ($2, …)` that plan reads all of the owner's rows through another index
    starting with the owner and filters them: nothing for a small owner, the whole history for a
    deep one (the one that re-sends most after an outage). OFFSET 0 keeps the LATERAL subquery from
    being merged into a join the planner could turn into that same scan."""
    return (
        f"SELECT found.* FROM json_array_elements_text($2::json) AS wanted(key) CROSS JOIN LATERAL "
        f"(SELECT {', '.join(columns)} FROM {table} WHERE {owner} = $1 AND {key} = wanted.key OFFSET 0) AS found"
    )


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


P = ParamSpec("P")
T = TypeVar("T")


def among(engine: AsyncEngine, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `column = ANY(array)`: one parameter and one prepared statement
    whatever the count, where IN renders a statement per count."""
    if engine.dialect.name == "postgresql":
        return column == any_(literal(list(values), postgresql.ARRAY(column.type)))
    return column.in_(values)


def runs_to_completion(write: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Makes a write run to its end even if the request awaiting it is cancelled (a client's
    deadline, a dropped connection). Abandoned halfway, a write leaves a connection mid-transaction;
    on SQLite that transaction holds the database's one write lock and every other writer times out.
    Finished, it is simply found by the client's retry (every write here is idempotent)."""

    @functools.wraps(write)
    async def uninterrupted(*args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.ensure_future(write(*args, **kwargs))
        # With nobody left to await it, its outcome must not surface as "exception never retrieved".
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await asyncio.shield(task)

    return uninterrupted


# SQLSTATE classes that mean "try again": connection exception, transaction rollback (deadlock,
# serialization), insufficient resources, operator intervention (shutdown, terminated backend), system.
_RETRYABLE_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")

# What a lost or unusable connection raises, whichever layer noticed: the OS, asyncpg (used directly on
# hot paths), SQLAlchemy's pool and session (which wraps the driver's errors, or refuses to go on after
# one), and sqlite3 under aiosqlite (OperationalError: locked, busy, I/O).
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError
    asyncio.TimeoutError,
    asyncpg.InterfaceError,  # "connection is closed", "another operation is in progress"
    asyncpg.InternalClientError,  # the protocol state after a connection broke mid-command
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # pool checkout timed out
    sa_exc.DisconnectionError,
    sa_exc.PendingRollbackError,  # the session's connection failed earlier in this request
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
)


def _sqlstate(error: BaseException) -> str:
    return str(getattr(error, "sqlstate", None) or getattr(error, "pgcode", None) or "")


def is_transient_db_error(error: BaseException) -> bool:
    """True when the request may succeed on retry: the database or the connection to it failed, not
    the request. Follows the exception chain, since each layer wraps the one below (SQLAlchemy's
    DBAPIError around its adapter's error around asyncpg's, with the SQLSTATE on any of them)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _TRANSIENT_TYPES):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if _sqlstate(current)[:2] in _RETRYABLE_SQLSTATE_CLASSES:
            return True
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return False


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection under a pooled connection, for hot paths where SQLAlchemy's per-statement
    work shows in profiles. The pool stays SQLAlchemy's, and behaves as it does for SQLAlchemy's own
    statements: after a lost connection the whole pool is replaced (the server likely restarted or
    dropped every connection, so the idle ones are dead too); after anything else but an error the
    server reported (a cancelled or timed-out command) the connection's state is unknown and it alone
    is dropped rather than handed to the next request.

    Checked out as the pool's raw connection, not through an AsyncConnection: a fifth of the cost
    (no greenlet round trips for checkout, reset and checkin), the same pool and the same reset (the
    driver statements here open no SQLAlchemy transaction, so there is nothing to roll back)."""
    pooled = await engine.raw_connection()
    driver = pooled.driver_connection
    assert driver is not None  # a checked-out connection always has one
    try:
        yield driver
    except BaseException as error:
        lost = driver.is_closed() or isinstance(
            error, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | OSError
        )
        if lost or not isinstance(error, asyncpg.PostgresError):
            pooled.invalidate()  # terminates the driver connection; the pool opens a new one
        if lost:
            await engine.dispose()
        raise
    finally:
        pooled.close()  # back to the pool (an invalidated one is discarded there)
