"""Declarative base with a constraint naming convention, shared column mixins, time helpers."""
from __future__ import annotations

import time
from contextvars import ContextVar
from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, TypeDecorator, event, exc, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, make_transient_to_detached, mapped_column, registry
from sqlalchemy.orm.attributes import instance_dict, set_committed_value

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC times")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None or value.tzinfo is timezone.utc:  # PostgreSQL sessions run in UTC (app.config)
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class IdMixin:
    id: Mapped[int] = mapped_column(primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def render_migration_item(type_, obj, autogen_context):
    """Alembic autogenerate hook: write UTCDateTime columns as plain timezone-aware DateTime."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


#: how long a SQLite transaction waits for another connection's write lock before giving up
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: how SQLite transactions begin in the current context: IMMEDIATE (the app), or DEFERRED where a caller
#: only inspects the database beside the app's own threads (the test suite's session, which would otherwise
#: hold the write lock while a live server or a worker thread waits for it)
sqlite_begin_mode: ContextVar[str] = ContextVar("sqlite_begin_mode", default="IMMEDIATE")


def make_sqlite_transactional(engine) -> None:
    """Let SQLAlchemy, not the sqlite3 driver, begin transactions (SQLAlchemy's pysqlite recipe).

    The driver otherwise opens a transaction only before a data change, so a SAVEPOINT issued first
    runs outside any transaction and its RELEASE commits: begin_nested() would commit early.

    Transactions begin IMMEDIATE, taking SQLite's write lock at once: a transaction that read first
    and writes later fails at once with "database is locked" when another connection wrote meanwhile
    (SQLite cannot wait there), which a web request beside the Celery worker would hit. Taking the lock
    up front makes concurrent transactions queue (up to the busy timeout) instead. SQLite is the
    embedded default; production runs PostgreSQL, which this does not touch.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _driver_autocommit(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN DEFERRED" if sqlite_begin_mode.get() == "DEFERRED" else "BEGIN IMMEDIATE")


#: a pooled connection left unused longer than this is checked with a round trip before it is handed out
IDLE_CONNECTION_CHECK_SECONDS = 10.0


def check_connections_after_idle(engine, idle_seconds: float = IDLE_CONNECTION_CHECK_SECONDS) -> None:
    """Ping a pooled connection before use only when it sat idle for a while (SQLAlchemy's pessimistic
    disconnect handling, made to skip connections in steady use).

    `pool_pre_ping` sends a round trip on every checkout, one per request and task; under load a connection
    is checked out again milliseconds after its last use, when a dead server would have failed that use
    already (and SQLAlchemy then discards the whole pool). What the ping still catches: connections that sat
    in the pool across a database restart, a failover or an idle-connection timeout. A failed ping makes the
    pool replace the connection and try again (DisconnectionError)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _remember_return(_dbapi_connection, record):
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return  # new (just connected) or in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError() from error
            raise


def detached_as_loaded(cls, values: dict):
    """A detached object holding a row's values as if loaded (nothing pending; what `values` lacks loads when
    read). Built the way the ORM's loading builds one: the constructor would fire an attribute event per value."""
    obj = cls.__mapper__.class_manager.new_instance()
    instance_dict(obj).update(values)
    make_transient_to_detached(obj)
    return obj


def as_loaded(session, cls, values: dict, fresh: bool = False):
    """The session's object for a row read with a Core select, as if the ORM had loaded it: the one the session
    already holds (what it has not loaded yet taken from the row; with `fresh`, every value of the row, as a
    query with populate_existing would), else a new one made persistent without SQL.

    For hot paths where building the object from a narrow Core row costs a fraction of an ORM load."""
    mapper = cls.__mapper__
    obj = session.identity_map.get(mapper.identity_key_from_primary_key((values["id"],)))
    if obj is None:
        obj = detached_as_loaded(cls, values)
        session.add(obj)
    else:
        for key in values.keys() if fresh else inspect(obj).unloaded & values.keys():
            set_committed_value(obj, key, values[key])
    return obj
