"""Building a second app inside the test session without disturbing the session `app` fixture.

create_app binds process-wide things to the newest app (the Celery app's Flask app and
configuration, the password hasher's cost); `another_app` binds them back to the session app.
"""
from __future__ import annotations

from contextlib import contextmanager

from app.factory import create_app
from app.security import configure_password_hasher
from app.tasks import init_celery


def rebind(session_app) -> None:
    """Point the process-wide pieces at the session app again."""
    celery = init_celery(session_app)
    celery.conf.update(session_app.config["CELERY"])
    configure_password_hasher(session_app.config["PASSWORD_HASH_PARAMS"])


@contextmanager
def another_app(session_app, config: dict):
    """A second app made by create_app(config); the session app is restored afterwards."""
    try:
        yield create_app(config)
    finally:
        rebind(session_app)
