"""Celery bound to the Flask app: every task runs inside the app context and takes ids, not objects."""
from __future__ import annotations

from contextlib import contextmanager

from celery import Celery, Task
from flask import Flask
from kombu.transport import redis as kombu_redis


class FlaskTask(Task):
    """Runs inside an app context of the Flask app bound last by init_celery (looked up at call time,
    so a task created before a second app existed still runs in the right one)."""

    def __call__(self, *args, **kwargs):
        with self.app.flask_app.app_context():
            return self.run(*args, **kwargs)


#: every task, however early it is created, runs through FlaskTask
celery_app = Celery("encore", task_cls=FlaskTask)


class RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, but its one-off commands share one client of the channel's connection pool.
    kombu builds a new redis.Redis (~65 us of CPU) for each: twice per task in the worker (the ack emulation's
    pipelines when a message arrives and when it is acked). The client holds no connection of its own (each
    command takes one from the pool), so sharing it changes nothing else."""

    _shared_client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        shared = self._shared_client
        if shared is None or shared.connection_pool is not self.pool:  # the pool is made anew after a disconnect
            shared = self._shared_client = self._create_client()
        yield shared


class RedisTransport(kombu_redis.Transport):
    """The redis:// transport with RedisChannel (config "broker_transport")."""

    Channel = RedisChannel


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
