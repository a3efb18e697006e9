"""The `encore` command: a FlaskGroup over create_app, with the project's own commands."""
from __future__ import annotations

import importlib
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_babel import force_locale

from app.accounts.models import Role
from app.errors import ValidationFailed
from app.extensions import db


@click.group("users", help="Manage accounts.")
def users_group():
    pass


@users_group.command("create")
@click.argument("email")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.FAN.value, show_default=True)
@click.option("--handle", help="Storefront handle (required for --role streamer).")
@click.option("--brand", "brand_name", help="Brand name (required for --role brand; created if new).")
@click.option("--name", "display_name", help="Display name (defaults to the part of the email before @).")
@with_appcontext
def create_user_command(email, password, role, handle, brand_name, display_name):
    """Create an account with a role.

    Bad input exits with status 2 and names the field, e.g. "error: handle: ...".
    """
    from app.accounts.services import create_account

    problems: dict[str, list[str]] = {}
    if role == Role.STREAMER and not handle:
        problems["handle"] = ["a streamer needs a storefront handle: pass --handle."]
    if handle and role != Role.STREAMER:
        problems["handle"] = ["--handle only applies to --role streamer."]
    if brand_name and role != Role.BRAND:
        problems["brand"] = ["--brand only applies to --role brand."]
    if not problems:
        # CLI output stays in English whatever the default UI language is
        with force_locale("en"):
            try:
                user = create_account(email, password, role, handle=handle, brand_name=brand_name, display_name=display_name)
                db.session.commit()
            except ValidationFailed as exc:
                db.session.rollback()
                problems = exc.errors
    if problems:
        for field, messages in problems.items():
            click.echo(f"error: {field}: {' '.join(messages)}", err=True)
        raise SystemExit(2)
    extra = f" @{user.creator_profile.handle}" if user.creator_profile else ""
    brands = ", ".join(m.brand.name for m in user.memberships)
    extra += f" [{brands}]" if brands else ""
    click.echo(f"created {user.email} ({', '.join(user.roles)}){extra}")


#: modules that define Celery tasks; the worker imports them so it knows every task name
TASK_MODULES = ("app.mail",)


@click.command("worker")
@click.option("--loglevel", default="info", show_default=True)
@click.option("--concurrency", default=1, show_default=True, type=int)
@click.option("--beat/--no-beat", default=False, show_default=True,
              help="Also run the periodic jobs (expiring unpaid orders); run it in one worker only.")
@with_appcontext
def worker_command(loglevel, concurrency, beat):
    """Start a Celery worker for this app's broker."""
    for module in TASK_MODULES:
        importlib.import_module(module)
    celery = current_app.extensions["celery"]
    argv = ["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", "--pool=solo" if concurrency == 1 else "--pool=prefork"]
    if beat:
        schedule = Path(current_app.config["ENCORE_INSTANCE_PATH"]) / "celerybeat-schedule"
        argv += ["--beat", f"--schedule={schedule}"]
    celery.worker_main(argv)


def register_commands(app) -> None:
    app.cli.add_command(users_group)
    app.cli.add_command(worker_command)


def _create_app():
    from app.factory import create_app

    return create_app()


main = FlaskGroup(create_app=_create_app, help="Encore: run the app, manage the database and accounts.")
