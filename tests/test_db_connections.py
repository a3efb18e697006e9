"""Pooled database connections: one that sat idle is checked before use, one in steady use is not, and the app's
pool keeps as many as a gunicorn worker's threads use at once."""
import threading

import pytest
from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.pool import NullPool

from app.db import check_connections_after_idle
from app.extensions import db
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL, _normalise_pg_url

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="server-side disconnects and the PostgreSQL pool: set ENCORE_TEST_DATABASE_URL to PostgreSQL")


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


def test_eight_threads_reuse_the_app_s_pooled_connections(app):
    """As in a gunicorn worker with 8 threads: once each thread has had a connection, busy rounds open no new
    ones (SQLAlchemy's default pool of 5 closed the 6th to 8th when they came back and opened them again)."""
    threads = 8
    with app.app_context():
        engine = db.engine
    opened = []

    def count_new_connection(_dbapi_connection, _record):
        opened.append(1)

    event.listen(engine, "connect", count_new_connection)
    all_holding = threading.Barrier(threads)
    held, failures = [], []

    def hold_a_connection():
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                all_holding.wait(timeout=10)  # all eight are checked out at the same moment
                held.append(1)
        except Exception as exc:  # a thread's error would otherwise vanish and leave `opened` empty
            failures.append(exc)

    def busy_round():
        workers = [threading.Thread(target=hold_a_connection) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    try:
        busy_round()  # the pool fills up to eight
        opened.clear()
        for _ in range(3):
            busy_round()
        assert failures == [] and len(held) == 4 * threads
        assert opened == []
        assert engine.pool.checkedin() >= threads
    finally:
        event.remove(engine, "connect", count_new_connection)
