"""Celery bound to the Flask app: every task runs inside the app context and takes ids, not objects."""
from __future__ import annotations

from celery import Celery, Task
from flask import Flask


class FlaskTask(Task):
    """Runs inside an app context of the Flask app bound last by init_celery (looked up at call time,
    so a task created before a second app existed still runs in the right one)."""

    def __call__(self, *args, **kwargs):
        with self.app.flask_app.app_context():
            return self.run(*args, **kwargs)


#: every task, however early it is created, runs through FlaskTask
celery_app = Celery("encore", task_cls=FlaskTask)


def init_celery(app: Flask) -> Celery:
    celery_app.flask_app = app
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
