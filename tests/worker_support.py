"""A real Celery worker for tests about the queue: a thread consuming from a real broker (Redis when
ENCORE_TEST_BROKER_URL is set, as in CI; else kombu's SQLAlchemy transport on a SQLite file), eager mode off.

Import the `worker` fixture into a test module: `from tests.worker_support import worker`.
"""
from __future__ import annotations

import os

import kombu.pools
import pytest
from celery.contrib.testing.worker import start_worker

BROKER_URL = os.environ.get("ENCORE_TEST_BROKER_URL")


def reset_connections(celery) -> None:
    """Forget pooled broker connections so the next publish uses the current broker_url.

    kombu keeps pools in a process-wide registry keyed by broker URL; closing one without clearing
    the registry would hand the closed pool back on the next publish to the same URL.
    """
    kombu.pools.reset()
    celery._pool = None
    amqp = celery.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture(scope="module")
def worker(app, tmp_path_factory):
    """The app's Celery switched to a real broker with one worker thread consuming from it (started once:
    a worker takes seconds to stop)."""
    celery = app.extensions["celery"]
    broker = BROKER_URL or f"sqla+sqlite:///{tmp_path_factory.mktemp('broker') / 'broker.sqlite'}"
    changed = {
        "broker_url": broker,
        "task_always_eager": False,
        "broker_connection_retry_on_startup": True,
    }
    saved = {key: celery.conf[key] for key in changed}
    celery.conf.update(changed)
    reset_connections(celery)
    celery.control.purge()  # leftovers of an interrupted earlier run must not be delivered here
    try:
        with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING") as running:
            yield running
    finally:
        celery.conf.update(saved)
        reset_connections(celery)
