"""Celery bound to the Flask app: every task runs inside the app context and takes ids, not objects."""
from __future__ import annotations

from celery import Celery, Task
from flask import Flask

celery_app = Celery("encore")


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app.Task = FlaskTask
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def broker_status(app: Flask, timeout: float = 2.0) -> str:
    """'ok' when the broker accepts a connection, else the error's class name."""
    celery = app.extensions["celery"]
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return "ok"
    except Exception as exc:  # any broker failure is reported, not raised
        return f"unavailable: {type(exc).__name__}"
