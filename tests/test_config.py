"""Settings from ENCORE_* variables: production refuses unsafe values, cookies are locked down."""
from __future__ import annotations

import pytest
from flask import session

from app.config import DEV_SECRET_KEY, ConfigError, load_config
from app.factory import create_app
from tests.app_support import another_app

GOOD_KEY = "k" * 48


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Each test starts from no ENCORE_* settings except a private instance folder."""
    import os

    for name in list(os.environ):
        if name.startswith("ENCORE_") and not name.startswith("ENCORE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ENCORE_INSTANCE_PATH", str(tmp_path / "instance"))


def test_production_without_a_secret_key_is_refused(monkeypatch):
    monkeypatch.setenv("ENCORE_ENV", "production")

    with pytest.raises(ConfigError, match="ENCORE_SECRET_KEY is not set"):
        load_config()


def test_create_app_in_production_without_a_secret_key_is_refused(monkeypatch):
    monkeypatch.setenv("ENCORE_ENV", "production")

    with pytest.raises(ConfigError, match="ENCORE_SECRET_KEY is not set"):
        create_app()


def test_production_with_a_short_secret_key_is_refused(monkeypatch):
    monkeypatch.setenv("ENCORE_ENV", "production")
    monkeypatch.setenv("ENCORE_SECRET_KEY", "x" * 31)

    with pytest.raises(ConfigError, match="31 bytes long: production needs at least 32"):
        load_config()


def test_secret_key_length_is_counted_in_bytes_not_characters(monkeypatch):
    monkeypatch.setenv("ENCORE_ENV", "production")
    monkeypatch.setenv("ENCORE_SECRET_KEY", "密" * 11)  # 11 characters, 33 bytes

    assert load_config()["SECRET_KEY"] == "密" * 11


def test_production_with_the_development_key_is_refused(monkeypatch):
    monkeypatch.setenv("ENCORE_ENV", "production")
    monkeypatch.setenv("ENCORE_SECRET_KEY", DEV_SECRET_KEY)

    with pytest.raises(ConfigError, match="development key"):
        load_config()


def test_production_with_debug_on_is_refused(monkeypatch):
    monkeypatch.setenv("ENCORE_ENV", "production")
    monkeypatch.setenv("ENCORE_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("ENCORE_DEBUG", "1")

    with pytest.raises(ConfigError, match="ENCORE_DEBUG is on: debug mode must be off in production"):
        load_config()


def test_unknown_environment_is_refused(monkeypatch):
    monkeypatch.setenv("ENCORE_ENV", "staging")

    with pytest.raises(ConfigError, match="ENCORE_ENV must be one of development, production, testing, not 'staging'"):
        load_config()


def test_development_defaults_are_safe_to_start(tmp_path):
    config = load_config()

    assert config["ENCORE_ENV"] == "development"
    assert config["DEBUG"] is False
    assert config["SECRET_KEY"] == DEV_SECRET_KEY
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'encore.sqlite'}"
    assert config["CELERY"]["broker_url"].startswith("sqla+sqlite:///")
    assert config["CELERY"]["task_always_eager"] is False
    assert config["ENCORE_DEFAULT_CURRENCY"] == "CNY"


def test_default_currency_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ENCORE_DEFAULT_CURRENCY", "usd")

    assert load_config()["ENCORE_DEFAULT_CURRENCY"] == "USD"


def test_an_unknown_default_currency_is_refused(monkeypatch):
    monkeypatch.setenv("ENCORE_DEFAULT_CURRENCY", "XYZ")

    with pytest.raises(ConfigError, match="ENCORE_DEFAULT_CURRENCY"):
        load_config()


def test_database_broker_and_rate_limit_urls_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ENCORE_DATABASE_URL", "postgresql+psycopg://encore@db.internal/encore")
    monkeypatch.setenv("ENCORE_BROKER_URL", "redis://queue.internal:6379/0")
    monkeypatch.setenv("ENCORE_RATELIMIT_STORAGE_URL", "redis://queue.internal:6379/1")

    config = load_config()

    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://encore@db.internal/encore"
    assert config["CELERY"]["broker_url"] == "redis://queue.internal:6379/0"
    assert config["CELERY"]["result_backend"] == "redis://queue.internal:6379/0"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://queue.internal:6379/1"


def test_postgresql_connection_pool_holds_a_worker_s_threads(monkeypatch):
    monkeypatch.setenv("ENCORE_DATABASE_URL", "postgresql+psycopg://encore@db.internal/encore")
    assert load_config()["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 10

    monkeypatch.setenv("ENCORE_DB_POOL_SIZE", "16")
    assert load_config()["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 16

    for bad in ("0", "ten"):
        monkeypatch.setenv("ENCORE_DB_POOL_SIZE", bad)
        with pytest.raises(ConfigError, match="ENCORE_DB_POOL_SIZE"):
            load_config()


def test_sqlite_keeps_sqlalchemy_s_own_pool(monkeypatch):
    monkeypatch.setenv("ENCORE_DATABASE_URL", "sqlite:///encore.sqlite")
    assert "pool_size" not in load_config()["SQLALCHEMY_ENGINE_OPTIONS"]


def test_production_cookies_are_http_only_same_site_lax_and_secure(monkeypatch):
    monkeypatch.setenv("ENCORE_ENV", "production")
    monkeypatch.setenv("ENCORE_SECRET_KEY", GOOD_KEY)

    config = load_config()

    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        assert config[f"{prefix}_HTTPONLY"] is True
        assert config[f"{prefix}_SAMESITE"] == "Lax"
        assert config[f"{prefix}_SECURE"] is True
    assert config["WTF_CSRF_ENABLED"] is True
    assert config["DEBUG"] is False


def test_a_production_app_sends_the_session_cookie_with_all_three_flags(app, monkeypatch, tmp_path):
    monkeypatch.setenv("ENCORE_ENV", "production")
    monkeypatch.setenv("ENCORE_SECRET_KEY", GOOD_KEY)
    # production refuses the local test-mode gateway
    monkeypatch.setenv("ENCORE_PAYMENT_GATEWAY", "stripe")
    monkeypatch.setenv("ENCORE_STRIPE_SECRET_KEY", "sk_test_config")
    monkeypatch.setenv("ENCORE_STRIPE_WEBHOOK_SECRET", "whsec_config")

    with another_app(app, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.sqlite'}"}) as production:

        @production.get("/_test/touch-session")
        def touch_session():
            session["seen"] = True
            return "ok"

        response = production.test_client().get("/_test/touch-session", base_url="https://encore.example")

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert production.debug is False


def test_a_development_app_cookie_is_not_marked_secure(app, tmp_path):
    config = {"ENCORE_ENV": "development", "ENCORE_INSTANCE_PATH": str(tmp_path)}
    with another_app(app, config) as development:

        @development.get("/_test/touch-session")
        def touch_session():
            session["seen"] = True
            return "ok"

        cookie = development.test_client().get("/_test/touch-session").headers["Set-Cookie"]

    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
