"""Demo data for a first run: accounts for each role and published listings of every kind."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Load demo accounts and listings; running it again changes nothing."""
    raise click.ClickException("not yet")
