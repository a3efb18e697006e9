"""Pooled database connections: one that sat idle is checked before use, one in steady use is not."""
import pytest
from sqlalchemy import create_engine, exc, text
from sqlalchemy.pool import NullPool

from app.db import check_connections_after_idle
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL, _normalise_pg_url

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="server-side disconnects: set ENCORE_TEST_DATABASE_URL to PostgreSQL")


def _engine(idle_seconds: float):
    engine = create_engine(_normalise_pg_url(TEST_DATABASE_URL), pool_size=1, max_overflow=0)
    check_connections_after_idle(engine, idle_seconds)
    return engine


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def _terminate(pid: int) -> None:
    killer = create_engine(_normalise_pg_url(TEST_DATABASE_URL), poolclass=NullPool)
    with killer.connect() as connection:
        assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()


def test_a_connection_killed_while_idle_is_replaced_before_use():
    engine = _engine(idle_seconds=0)  # every connection counts as idle
    try:
        first = _backend_pid(engine)
        _terminate(first)  # as a database restart or an idle timeout would
        second = _backend_pid(engine)  # the ping fails, the pool reconnects; the caller sees nothing
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged():
    engine = _engine(idle_seconds=3600)
    pinged = []
    try:
        first = _backend_pid(engine)
        original_ping = engine.dialect.do_ping
        engine.dialect.do_ping = lambda dbapi_connection: pinged.append(1) or original_ping(dbapi_connection)
        assert _backend_pid(engine) == first
        assert pinged == []
        # so a connection that died between two uses fails its next statement, and the pool starts afresh
        _terminate(first)
        with pytest.raises(exc.OperationalError), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()
