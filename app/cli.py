"""The `encore` command: a FlaskGroup over create_app, with the project's own commands."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

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
@click.option("--handle", help="Storefront handle, for streamers.")
@click.option("--brand", "brand_name", help="Brand name, for brand members (created if new).")
@click.option("--name", "display_name", help="Display name.")
@with_appcontext
def create_user_command(email, password, role, handle, brand_name, display_name):
    """Create an account with a role."""
    from app.accounts.services import create_account

    try:
        user = create_account(email, password, role, handle=handle, brand_name=brand_name, display_name=display_name)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        for field, messages in exc.errors.items():
            click.echo(f"error: {field}: {' '.join(messages)}", err=True)
        raise SystemExit(2)
    extra = f" @{user.creator_profile.handle}" if user.creator_profile else ""
    click.echo(f"created {user.email} ({', '.join(user.roles)}){extra}")


@click.command("worker")
@click.option("--loglevel", default="info", show_default=True)
@click.option("--concurrency", default=1, show_default=True, type=int)
@with_appcontext
def worker_command(loglevel, concurrency):
    """Start a Celery worker for this app's broker."""
    celery = current_app.extensions["celery"]
    argv = ["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", "--pool=solo" if concurrency == 1 else "--pool=prefork"]
    celery.worker_main(argv)


def register_commands(app) -> None:
    app.cli.add_command(users_group)
    app.cli.add_command(worker_command)
    from app.demo import seed_demo_command

    app.cli.add_command(seed_demo_command)


def _create_app():
    from app.factory import create_app

    return create_app()


main = FlaskGroup(create_app=_create_app, help="Encore: run the app, manage the database and accounts.")
