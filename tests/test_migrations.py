"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL,
in one linear history of dated files, and can be undone."""
from __future__ import annotations

import re
import secrets
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


@pytest.mark.skipif(not ON_POSTGRES, reason="set ENCORE_TEST_DATABASE_URL to a PostgreSQL URL")
def test_postgresql_database_migrated_to_head_matches_the_models(app, tmp_path):
    server = make_url(_normalise_pg_url(TEST_DATABASE_URL))
    name = f"encore_migrations_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            _migrate_and_compare(app, server.set(database=name).render_as_string(hide_password=False), tmp_path)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


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
