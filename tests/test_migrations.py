"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL,
in one linear history of dated files, and can be undone."""
from __future__ import annotations

import re
import secrets
from contextlib import contextmanager
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.extensions import db
from tests.app_support import another_app
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL, _normalise_pg_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
FILE_NAME = re.compile(r"^(?P<date>\d{8})_(?P<time>\d{4})_(?P<rev>[0-9a-f]+)_(?P<slug>[a-z0-9_]+)\.py$")


def _drift(connection) -> list:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False}
    )
    return compare_metadata(context, db.metadata)


def _migrate_and_compare(session_app, database_url: str, instance: Path) -> None:
    config = {"ENCORE_ENV": "testing", "ENCORE_INSTANCE_PATH": str(instance), "SQLALCHEMY_DATABASE_URI": database_url}
    with another_app(session_app, config) as migrated:
        with migrated.app_context():
            try:
                flask_migrate.upgrade()
                with db.engine.connect() as connection:
                    assert _drift(connection) == []
                    head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                assert head == _script().get_current_head()

                flask_migrate.downgrade(revision="base")
                assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

                flask_migrate.upgrade()  # and up again from base
                with db.engine.connect() as connection:
                    assert _drift(connection) == []
            finally:
                db.session.remove()
                db.engine.dispose()


def _script() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_sqlite_database_migrated_to_head_matches_the_models(app, tmp_path):
    _migrate_and_compare(app, f"sqlite:///{tmp_path / 'migrated.sqlite'}", tmp_path)


@contextmanager
def _empty_postgres_database():
    """The URL of a new, empty PostgreSQL database on the test server, dropped afterwards."""
    server = make_url(_normalise_pg_url(TEST_DATABASE_URL))
    name = f"encore_migrations_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.mark.skipif(not ON_POSTGRES, reason="set ENCORE_TEST_DATABASE_URL to a PostgreSQL URL")
def test_postgresql_database_migrated_to_head_matches_the_models(app, tmp_path):
    with _empty_postgres_database() as url:
        _migrate_and_compare(app, url, tmp_path)


def test_migration_history_is_one_line_with_a_single_head():
    script = _script()
    revisions = list(script.walk_revisions())

    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    for revision in revisions:
        assert not isinstance(revision.down_revision, (tuple, list)), f"{revision.revision} is a merge point"
        assert not revision.is_branch_point, f"{revision.revision} has more than one child"


def test_migration_files_are_named_date_time_revision_slug():
    files = sorted(p for p in (MIGRATIONS / "versions").glob("*.py"))
    assert files
    by_revision = {revision.revision: Path(revision.path).name for revision in _script().walk_revisions()}
    for path in files:
        match = FILE_NAME.match(path.name)
        assert match, f"{path.name} is not named YYYYMMDD_HHMM_<rev>_<slug>.py"
        assert by_revision.get(match["rev"]) == path.name, f"{path.name}: the revision id in the name is not the file's"


LEDGER_BEFORE_STATEMENT_COLUMNS = "04749e8d413a"
LEDGER_ROWS = [
    """INSERT INTO users (id, email, password_hash, display_name, is_operator, is_active_account, session_version,
                          created_at, updated_at)
       VALUES (1, 'fan@example.com', 'x', 'Fan', false, true, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)""",
    """INSERT INTO orders (id, number, buyer_id, status, currency, subtotal, discount, total, refunded_amount, gateway,
                           expires_at, needs_attention, created_at, updated_at)
       VALUES (7, 'EN-261124-AAAAAA', 1, 'paid', 'CNY', 1000, 0, 1000, 0, 'local', CURRENT_TIMESTAMP, false,
               CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)""",
    """INSERT INTO ledger_accounts (id, key, kind, currency, user_id, created_at) VALUES
       (1, 'payable:user:1:CNY', 'payable', 'CNY', 1, CURRENT_TIMESTAMP)""",
    """INSERT INTO ledger_accounts (id, key, kind, currency, created_at) VALUES
       (2, 'gateway_clearing:CNY', 'gateway_clearing', 'CNY', CURRENT_TIMESTAMP)""",
    """INSERT INTO ledger_transactions (id, key, kind, currency, order_id, created_at)
       VALUES (1, 'sale:order:7', 'sale', 'CNY', 7, CURRENT_TIMESTAMP)""",
    """INSERT INTO ledger_entries (transaction_id, account_id, amount, currency, created_at, kind) VALUES
       (1, 1, 1000, 'CNY', CURRENT_TIMESTAMP, 'sale'), (1, 2, -1000, 'CNY', CURRENT_TIMESTAMP, 'sale')""",
]


def _ledger_entries_gain_their_order(session_app, database_url: str, instance: Path) -> None:
    config = {"ENCORE_ENV": "testing", "ENCORE_INSTANCE_PATH": str(instance), "SQLALCHEMY_DATABASE_URI": database_url}
    with another_app(session_app, config) as migrated:
        with migrated.app_context():
            try:
                flask_migrate.upgrade(revision=LEDGER_BEFORE_STATEMENT_COLUMNS)
                with db.engine.begin() as connection:
                    for statement in LEDGER_ROWS:
                        connection.execute(text(statement))
                flask_migrate.upgrade()
                with db.engine.connect() as connection:
                    rows = connection.execute(text(
                        "SELECT order_id, order_number, amount FROM ledger_entries ORDER BY id")).all()
                assert [tuple(row) for row in rows] == [(7, "EN-261124-AAAAAA", 1000), (7, "EN-261124-AAAAAA", -1000)]
                if db.engine.dialect.name == "postgresql":  # the trigger is back on after the one backfill
                    with pytest.raises(Exception, match="immutable"):
                        with db.engine.begin() as connection:
                            connection.execute(text("UPDATE ledger_entries SET amount = 1"))
            finally:
                db.session.remove()
                db.engine.dispose()


def test_existing_ledger_entries_gain_their_order_number_on_sqlite(app, tmp_path):
    _ledger_entries_gain_their_order(app, f"sqlite:///{tmp_path / 'ledger.sqlite'}", tmp_path)


@pytest.mark.skipif(not ON_POSTGRES, reason="set ENCORE_TEST_DATABASE_URL to a PostgreSQL URL")
def test_existing_ledger_entries_gain_their_order_number_on_postgresql_with_the_trigger_kept(app, tmp_path):
    with _empty_postgres_database() as url:
        _ledger_entries_gain_their_order(app, url, tmp_path)
