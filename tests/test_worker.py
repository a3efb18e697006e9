"""Email through a real Celery worker thread and a real broker (Redis in CI, else the SQLAlchemy
transport on a SQLite file) — not eager mode."""
from __future__ import annotations

import email
import email.policy
import time
from pathlib import Path

import pytest

from app.extensions import db
from app.mail import deliver_email, queue_welcome_email, send_email
from tests.worker_support import reset_connections, worker  # noqa: F401  (fixture)


@pytest.fixture
def outbox(app, tmp_path):
    """A fresh outbox folder for this test."""
    saved = app.config["ENCORE_OUTBOX_PATH"]
    app.config["ENCORE_OUTBOX_PATH"] = str(tmp_path / "outbox")
    yield tmp_path / "outbox"
    app.config["ENCORE_OUTBOX_PATH"] = saved


def _wait_for_messages(folder: Path, count: int, timeout: float = 8.0) -> list[email.message.EmailMessage]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
        if len(files) >= count:
            return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
        time.sleep(0.05)
    raise AssertionError(f"expected {count} message(s) in {folder} within {timeout}s")


def test_send_email_writes_a_complete_eml_file_to_the_outbox(outbox):
    path = send_email("fan@example.com", "Your order", "Thank you — 谢谢！")

    assert path.parent == outbox and path.suffix == ".eml"
    assert not list(outbox.glob("*.part"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "fan@example.com"
    assert message["Subject"] == "Your order"
    assert message["From"] and message["Message-ID"] and message["Date"]
    assert message.get_content().strip() == "Thank you — 谢谢！"


def test_deliver_email_task_is_run_by_a_real_worker(worker, outbox):
    result = deliver_email.delay("fan@example.com", "Hello from the queue", "Queued body")

    (message,) = _wait_for_messages(outbox, 1)
    assert result.id
    assert message["Subject"] == "Hello from the queue"
    assert message.get_content().strip() == "Queued body"


def test_welcome_email_is_written_in_the_users_language_after_registration(worker, outbox, make):
    user = make.user(email="lin@example.com", display_name="Lin")
    user.locale = "en"
    db.session.commit()

    assert queue_welcome_email(user.id) is True
    (message,) = _wait_for_messages(outbox, 1)
    assert message["To"] == "lin@example.com"
    assert message["Subject"] == "Welcome to Encore"
    assert "Hello Lin" in message.get_content()


def test_welcome_email_for_a_deleted_account_writes_nothing(worker, outbox, make):
    user = make.user(email="kept@example.com")

    assert queue_welcome_email(987654) is True  # no such account
    assert queue_welcome_email(user.id) is True
    # the solo worker runs tasks in order: once the second task's message exists, the first task is done
    _wait_for_messages(outbox, 1)
    time.sleep(0.2)
    assert [m["To"] for m in _wait_for_messages(outbox, 1)] == ["kept@example.com"]


def test_queue_welcome_email_reports_false_when_the_broker_is_down(app, make):
    celery = app.extensions["celery"]
    changed = {
        "broker_url": "redis://127.0.0.1:1/0",
        "task_always_eager": False,
        "task_publish_retry": False,
        "broker_connection_timeout": 1,
    }
    saved = {key: celery.conf[key] for key in changed}
    user = make.user()
    celery.conf.update(changed)
    reset_connections(celery)
    try:
        started = time.monotonic()
        assert queue_welcome_email(user.id) is False
        assert time.monotonic() - started < 5
    finally:
        celery.conf.update(saved)
        reset_connections(celery)
