"""Declarative base with a constraint naming convention, shared column mixins, time helpers."""
from __future__ import annotations

import time
from collections import namedtuple
from contextvars import ContextVar
from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, TypeDecorator, event, exc, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, make_transient_to_detached, mapped_column, registry, scoped_session
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


# ---------------------------------------------------------------- statements run on the driver's connection

class DirectRow(tuple):
    """Base of the row classes DirectStatement makes (namedtuples: `row.name`, `row[0]`, unpacking). `_mapping`
    gives the row by column name, as SQLAlchemy's Row does (names only, not Column objects)."""

    __slots__ = ()

    @property
    def _mapping(self) -> dict:
        return dict(zip(self._fields, self))


class DirectResult:
    """The rows (all fetched) and rowcount of one DirectStatement run, read the ways the callers read a
    SQLAlchemy Result: iteration, all, first, one, one_or_none, scalar, scalar_one, scalars."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, rows: list, rowcount: int):
        self.rows, self.rowcount = rows, rowcount

    def __iter__(self):
        return iter(self.rows)

    def all(self) -> list:
        return self.rows

    def first(self):
        return self.rows[0] if self.rows else None

    def one_or_none(self):
        if len(self.rows) > 1:
            raise exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.rows[0] if self.rows else None

    def one(self):
        row = self.one_or_none()
        if row is None:
            raise exc.NoResultFound("No row was found when one was required")
        return row

    def scalar(self):
        return self.rows[0][0] if self.rows else None

    def scalar_one(self):
        return self.one()[0]

    def scalars(self) -> list:
        return [row[0] for row in self.rows]


class _DirectPlan:
    """A DirectStatement compiled for one dialect: SQL, how its parameters are sent, and how rows are read."""

    __slots__ = ("compiled", "sql", "positional", "returns_rows", "row_class", "result_processors", "expanding",
                 "bind_processors", "defaults")

    def __init__(self, statement, dialect, column_keys: tuple | None):
        # an INSERT or UPDATE sets the columns its parameters name (as session.execute compiles it)
        self.compiled = compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = compiled.string
        self.positional = compiled.positional
        columns = list(statement.exported_columns)
        self.returns_rows = bool(columns)
        names = [column.key for column in columns]
        self.row_class = type("Row", (DirectRow, namedtuple("Row", names, rename=True)), {"__slots__": ()})
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
        self.result_processors = processors if any(processors) else None
        #: Python-side column defaults SQLAlchemy computes before an INSERT or UPDATE runs (created_at,
        #: updated_at's onupdate ...), for the columns the parameters leave out
        self.defaults = [(column.key, default) for column, default in (
            *((column, column.default) for column in compiled.insert_prefetch),
            *((column, column.onupdate) for column in compiled.update_prefetch),
        )]
        #: an expanding IN renders its SQL per execution (SQLAlchemy's expanded state); the rest is fixed
        self.expanding = bool(compiled.post_compile_params or compiled.literal_execute_params)
        escaped = compiled.escaped_bind_names
        self.bind_processors = [
            (escaped.get(name, name), process) for name, bind in compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]

    def arguments(self, params: dict | None):
        """The statement (expanded for the parameters of an expanding IN) and its driver arguments, with the
        column types' bind processors applied (UTCDateTime, JSON ...)."""
        if self.defaults:
            params = dict(params or ())
            for key, default in self.defaults:
                if key not in params:
                    params[key] = default.arg(None) if default.is_callable else default.arg
        if self.expanding:
            state = self.compiled.construct_expanded_state(params)
            sql, values, processors, order = state.statement, state.parameters, state.processors.items(), state.positiontup
        else:
            sql, values, processors = self.sql, self.compiled.construct_params(params), self.bind_processors
            order = self.compiled.positiontup
        for name, process in processors:
            if name in values:
                values[name] = process(values[name])
        if self.positional:
            return sql, tuple(values[name] for name in order)
        return sql, values

    def rows(self, raw_rows: list) -> list:
        make = self.row_class._make
        processors = self.result_processors
        if processors is None:
            return list(map(make, raw_rows))
        return [make([value if process is None else process(value) for process, value in zip(processors, raw)])
                for raw in raw_rows]


class DirectStatement:
    """A Core statement built once and run on the session's connection straight through the driver.

    SQLAlchemy's execution of an already compiled statement costs about 3.5 times what the driver spends on it
    (a one-row select on PostgreSQL: ~275k machine instructions through session.execute against ~65k for the
    driver alone and ~150k through this, counted with cachegrind: the ORM session layer, an execution context,
    result metadata, events). The money path's hot statements, a few dozen per paid order,
    run through this instead, which keeps what their results depend on: SQLAlchemy compiles the statement
    (once per dialect) and renders its SQL and parameters (expanding IN too), the column types' bind and result
    processors run (UTCDateTime, JSON), the statement runs in the session's transaction after an autoflush,
    driver errors are raised as SQLAlchemy's (IntegrityError ...) and invalidate a dead connection, and
    before/after_cursor_execute listeners are called (statement counts in tests and benches).

    For single-row-parameter statements whose rows are read as tuples: not for executemany or ORM entities,
    and not for UPDATE or DELETE of the ledger (the session's do_orm_execute guard would not see them)."""

    __slots__ = ("statement", "_is_dml", "_last", "_plans")

    def __init__(self, statement):
        table = getattr(statement, "table", None)
        if (statement.is_update or statement.is_delete) and getattr(table, "name", "").startswith("ledger_"):
            raise ValueError("ledger rows are immutable: not a DirectStatement")
        self.statement = statement
        self._is_dml = statement.is_dml
        #: (dialect, column keys, plan) of the last run, one tuple so that threads read a matching set
        self._last: tuple = (None, None, None)
        self._plans: dict[tuple, _DirectPlan] = {}

    def _plan_for(self, dialect, column_keys: tuple | None) -> _DirectPlan:
        key = (type(dialect), dialect.paramstyle, dialect.server_version_info, column_keys)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _DirectPlan(self.statement, dialect, column_keys)
        self._last = (dialect, column_keys, plan)
        return plan

    def run(self, session, params: dict | None = None) -> DirectResult:
        if isinstance(session, scoped_session):
            session = session.registry()  # the context's Session, looked up once rather than per attribute
        if session.autoflush:
            session.flush()
        connection = session.connection()
        dialect = connection.dialect
        column_keys = tuple(params) if self._is_dml and params else None
        last_dialect, last_keys, plan = self._last
        if last_dialect is not dialect or last_keys != column_keys:
            plan = self._plan_for(dialect, column_keys)
        try:
            sql, arguments = plan.arguments(params)
        except Exception as error:  # a parameter missing, a bind processor refusing a value (a naive datetime ...)
            raise exc.StatementError(str(error), plan.sql, params, error) from error
        dbapi_connection = connection.connection.dbapi_connection
        cursor = dbapi_connection.cursor()
        listening = connection.dispatch.before_cursor_execute or connection.dispatch.after_cursor_execute
        try:
            if listening:
                connection.dispatch.before_cursor_execute(connection, cursor, sql, arguments, None, False)
            cursor.execute(sql, arguments)
            if listening:
                connection.dispatch.after_cursor_execute(connection, cursor, sql, arguments, None, False)
            rows = plan.rows(cursor.fetchall()) if plan.returns_rows else []
            return DirectResult(rows, cursor.rowcount)
        except dialect.loaded_dbapi.Error as error:
            invalidated = dialect.is_disconnect(error, dbapi_connection, cursor)
            if invalidated:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(sql, arguments, error, dialect.loaded_dbapi.Error,
                                          connection_invalidated=invalidated, dialect=dialect) from error
        finally:
            cursor.close()
