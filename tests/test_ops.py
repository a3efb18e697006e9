"""The health check: 200 while the database answers, 503 when it does not; the broker is reported."""
from __future__ import annotations

import time

import pytest

from tests.app_support import another_app

UNREACHABLE_DATABASE = "postgresql+psycopg://encore@127.0.0.1:1/encore?connect_timeout=2"


def test_healthz_reports_database_and_broker_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "broker": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_needs_no_login_and_ignores_csrf(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.get("/healthz").status_code == 200


def test_healthz_is_503_when_the_database_is_unreachable(app, tmp_path):
    config = {
        "ENCORE_ENV": "testing",
        "ENCORE_INSTANCE_PATH": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": UNREACHABLE_DATABASE,
        "CELERY": app.config["CELERY"],
    }
    with another_app(app, config) as down:
        started = time.monotonic()
        response = down.test_client().get("/healthz")
        elapsed = time.monotonic() - started
        with down.app_context():
            from app.extensions import db

            db.engine.dispose()

    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["database"].startswith("unavailable: ")
    assert response.json["broker"] == "ok"
    assert elapsed < 5


def test_healthz_stays_200_and_names_the_problem_when_the_broker_is_down(app, client):
    celery = app.extensions["celery"]
    saved = celery.conf.broker_url
    celery.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        celery.conf.broker_url = saved

    assert response.status_code == 200
    assert response.json["database"] == "ok"
    assert response.json["broker"].startswith("unavailable: ")


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_healthz_only_answers_get(client, method):
    assert getattr(client, method)("/healthz").status_code == 405
