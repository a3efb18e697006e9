"""Test fixtures: one app per session on a real database (SQLite by default, PostgreSQL in CI),
tables emptied after every test, and factories that build real rows through the services."""
from __future__ import annotations

import contextvars
import os
import socket

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text

from app.db import sqlite_begin_mode
from app.extensions import db, limiter
from app.factory import create_app

from tests import factories
# the browser fixtures live here once: session fixtures imported into several modules would start one
# Playwright per module, and Playwright's sync API refuses a second instance in the same thread
from tests.browser_support import browser, live_server, phone, screenshots  # noqa: F401

TEST_DATABASE_URL = os.environ.get("ENCORE_TEST_DATABASE_URL")
TEST_BROKER_URL = os.environ.get("ENCORE_TEST_BROKER_URL")
ON_POSTGRES = bool(TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgresql"))


def _normalise_pg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch):
    """Block connections that leave this machine; loopback (PostgreSQL, Redis, live servers) stays open."""
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
            raise RuntimeError(f"tests may not reach {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


class FreshRequestClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    Tests keep an app context open; a request run inside it would share its `g` and its database
    session, so a view that forgot to commit would still look right to the test. Running the request
    in an empty contextvars context makes Flask push a fresh app context (and session) for it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # tests read English texts; a request's own Accept-Language header still wins
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    def open(self, *args, **kwargs):
        # end the test's own transaction first: it would hold SQLite's read lock against the request's
        # write, and afterwards the test's objects reload what the request committed
        if has_app_context():  # a redirect being followed runs here without one
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    database_url = _normalise_pg_url(TEST_DATABASE_URL) if TEST_DATABASE_URL else f"sqlite:///{instance / 'test.sqlite'}"
    celery = {
        "broker_url": TEST_BROKER_URL or "memory://",
        "result_backend": None,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_always_eager": True,
        "task_eager_propagates": True,
        "broker_connection_retry_on_startup": False,
    }
    app = create_app(
        {
            "ENCORE_ENV": "testing",
            "ENCORE_INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "CELERY": celery,
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": None,
        }
    )
    app.extensions["celery"].conf.update(celery)
    app.test_client_class = FreshRequestClient
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


#: PostgreSQL: each table's name with the sequences its columns own, and the query naming the tables a test wrote
#: to (both built once per session)
_owned_sequences: dict[str, list[str]] = {}
_used_tables_query = None


def _used_tables() -> list[str]:
    """The tables the test wrote to: rows left, or a sequence drawn from (an insert rolled back leaves none)."""
    global _used_tables_query
    if _used_tables_query is None:
        _owned_sequences.update({table.name: [] for table in db.metadata.sorted_tables})
        for table, sequence in db.session.execute(text(
            "SELECT tab.relname, seq.relname FROM pg_depend d"
            " JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S'"
            " JOIN pg_class tab ON tab.oid = d.refobjid WHERE d.deptype IN ('a', 'i')"
        )):
            if table in _owned_sequences:
                _owned_sequences[table].append(sequence)
        probes = ", ".join(
            f"""('{table}', EXISTS (SELECT 1 FROM "{table}")"""
            + "".join(f""" OR (SELECT is_called FROM "{sequence}")""" for sequence in sequences) + ")"
            for table, sequences in _owned_sequences.items()
        )
        _used_tables_query = text(f"SELECT name FROM (VALUES {probes}) AS probe(name, used) WHERE used")
    return list(db.session.scalars(_used_tables_query))


def _empty_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        # as TRUNCATE ... RESTART IDENTITY of every table would, but only for the few a test wrote to: a TRUNCATE
        # of all 42 tables took 115-175 ms after every test, minutes of the suite. The rows go in any order with
        # triggers off for this transaction (foreign keys and the ledger's immutability are triggers); every
        # table that holds a row is emptied, so no reference is left dangling.
        used = _used_tables()
        if used:
            db.session.execute(text("SET LOCAL session_replication_role = replica"))
            for table in used:
                db.session.execute(text(f'DELETE FROM "{table}"'))
                for sequence in _owned_sequences[table]:
                    db.session.execute(text(f"SELECT setval('\"{sequence}\"', 1, false)"))
    else:
        connection = db.session.connection()  # not Session.execute: the ledger's guard refuses ORM deletes
        for table in tables:
            connection.execute(table.delete())
    db.session.commit()


@pytest.fixture(autouse=True)
def app_context(app):
    """Every test runs inside an app context and starts from empty tables.

    The test's own session begins SQLite transactions DEFERRED: a test that reads while a live server or a
    worker thread writes must not hold the write lock the app's IMMEDIATE transactions wait for."""
    mode = sqlite_begin_mode.set("DEFERRED")
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        _empty_tables()
    sqlite_begin_mode.reset(mode)
    app.config["WTF_CSRF_ENABLED"] = False
    limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app):
    """The factories, e.g. make.streamer(handle="mia"), make.listing(owner, status="published")."""
    return factories
