"""Settings read from ENCORE_* environment variables, with safe defaults for development."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

ENVIRONMENTS = ("development", "production", "testing")
MIN_SECRET_KEY_BYTES = 32
DEV_SECRET_KEY = "encore-development-key-not-for-production-use!"


class ConfigError(RuntimeError):
    """The app refuses to start: the message says which setting is wrong and why."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _positive_int(name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, not {value}.")
    return value


def default_instance_path() -> Path:
    return Path(__file__).resolve().parent.parent / "instance"


def load_config(overrides: dict | None = None) -> dict:
    """Build the Flask config from the environment, then apply explicit overrides (tests)."""
    overrides = dict(overrides or {})
    env = overrides.pop("ENCORE_ENV", None) or _env("ENCORE_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"ENCORE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}.")
    instance_path = Path(
        overrides.pop("ENCORE_INSTANCE_PATH", None)
        or _env("ENCORE_INSTANCE_PATH")
        or default_instance_path()
    ).resolve()
    database_url = _env("ENCORE_DATABASE_URL") or f"sqlite:///{instance_path / 'encore.sqlite'}"
    broker_url = _env("ENCORE_BROKER_URL") or f"sqla+sqlite:///{instance_path / 'celery-broker.sqlite'}"
    secret_key = _env("ENCORE_SECRET_KEY")
    if secret_key is None and env != "production":
        secret_key = DEV_SECRET_KEY
    production = env == "production"

    config = {
        "ENCORE_ENV": env,
        "ENCORE_INSTANCE_PATH": str(instance_path),
        "SECRET_KEY": secret_key,
        "DEBUG": _bool(_env("ENCORE_DEBUG")),
        "TESTING": env == "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {},  # idle pooled connections are pinged: app.db.check_connections_after_idle
        #: PostgreSQL connections each process keeps open between requests: at least the threads that use them (a
        #: gunicorn worker's --threads), else connections returned beyond it are closed and opened again under load
        "ENCORE_DB_POOL_SIZE": _positive_int("ENCORE_DB_POOL_SIZE", 10),
        "CELERY": {
            "broker_url": broker_url,
            # kombu's Redis transport, minus a client object built per command (see app.tasks.RedisChannel)
            "broker_transport": "app.tasks:RedisTransport" if broker_url.startswith("redis://") else None,
            "result_backend": _env("ENCORE_RESULT_BACKEND")
            or (broker_url if broker_url.startswith("redis") else f"db+sqlite:///{instance_path / 'celery-results.sqlite'}"),
            "task_serializer": "json",
            "result_serializer": "json",
            "accept_content": ["json"],
            "task_ignore_result": True,
            "broker_connection_retry_on_startup": True,
            "task_always_eager": False,
            # run by `encore worker --beat` (make run) or a separate `celery beat` in production
            "beat_schedule": {
                "orders-sweep": {"task": "orders.sweep", "schedule": 60.0},
                "royalties-payouts": {"task": "royalties.run_payouts", "schedule": 3600.0},
                "royalties-retry-payouts": {"task": "royalties.retry_pending_payouts", "schedule": 300.0},
            },
        },
        "ENCORE_DEFAULT_CURRENCY": (_env("ENCORE_DEFAULT_CURRENCY", "CNY") or "CNY").upper(),
        #: where people reach this site: links in emails sent by the worker start with it
        "ENCORE_PUBLIC_URL": (_env("ENCORE_PUBLIC_URL", "http://127.0.0.1:5000") or "").rstrip("/"),
        #: local (a test-mode pay page, the default) or stripe
        "ENCORE_PAYMENT_GATEWAY": (_env("ENCORE_PAYMENT_GATEWAY", "local") or "local").lower(),
        "ENCORE_STRIPE_SECRET_KEY": _env("ENCORE_STRIPE_SECRET_KEY"),
        "ENCORE_STRIPE_WEBHOOK_SECRET": _env("ENCORE_STRIPE_WEBHOOK_SECRET"),
        #: unset = Stripe's own API; tests point it at a local server that answers like Stripe
        "ENCORE_STRIPE_API_BASE": _env("ENCORE_STRIPE_API_BASE"),
        #: how long an order waits for its payment before it expires and releases what it reserved
        "ENCORE_PAYMENT_WINDOW_MINUTES": int(_env("ENCORE_PAYMENT_WINDOW_MINUTES", "60") or 60),
        #: minutes merch stock stays reserved after an order's payment window closes (a payment in flight)
        "ENCORE_RESERVATION_GRACE_MINUTES": _positive_int("ENCORE_RESERVATION_GRACE_MINUTES", 15, minimum=0),
        #: how long a signed download link works (the library page makes fresh ones on every visit)
        "ENCORE_DOWNLOAD_LINK_SECONDS": _positive_int("ENCORE_DOWNLOAD_LINK_SECONDS", 300),
        #: downloads of each file a purchase allows (resuming a download does not count again)
        "ENCORE_DOWNLOADS_PER_FILE": _positive_int("ENCORE_DOWNLOADS_PER_FILE", 10),
        #: the platform's share of every sale in basis points (1000 = 10%); operators may set another per listing
        "ENCORE_PLATFORM_FEE_BP": _positive_int("ENCORE_PLATFORM_FEE_BP", 1000, minimum=0, maximum=10_000),
        #: a balance is paid out once it reaches this many minor units of its currency (10000 = 100.00 CNY)
        "ENCORE_PAYOUT_MINIMUM": _positive_int("ENCORE_PAYOUT_MINIMUM", 10_000),
        #: the local test gateway's pretend processing fee in basis points of each payment (0 = none)
        "ENCORE_LOCAL_GATEWAY_FEE_BP": _positive_int("ENCORE_LOCAL_GATEWAY_FEE_BP", 0, minimum=0, maximum=10_000),
        "ENCORE_STORAGE_PATH": str(instance_path / "files"),
        #: file:///abs/path or s3://bucket/prefix; unset = the local folder ENCORE_STORAGE_PATH
        "ENCORE_STORAGE_URL": _env("ENCORE_STORAGE_URL"),
        #: an S3-compatible server (MinIO, Ceph...); unset = boto3's own choice (AWS_ENDPOINT_URL, else AWS)
        "ENCORE_S3_ENDPOINT_URL": _env("ENCORE_S3_ENDPOINT_URL"),
        "ENCORE_OUTBOX_PATH": str(instance_path / "outbox"),
        #: set ENCORE_SMTP_HOST to send email by SMTP instead of writing it to the outbox folder
        "ENCORE_SMTP_HOST": _env("ENCORE_SMTP_HOST"),
        "ENCORE_SMTP_PORT": int(_env("ENCORE_SMTP_PORT", "25") or 25),
        "ENCORE_SMTP_USERNAME": _env("ENCORE_SMTP_USERNAME"),
        "ENCORE_SMTP_PASSWORD": _env("ENCORE_SMTP_PASSWORD"),
        "ENCORE_SMTP_STARTTLS": _bool(_env("ENCORE_SMTP_STARTTLS")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        # a sticker zip may be up to 60 MB (stickers.imaging.MAX_ZIP_BYTES); larger requests get 413
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": _env("ENCORE_RATELIMIT_STORAGE_URL", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "ENCORE_LOCALES": ["zh_CN", "en"],
        "ENCORE_LISTINGS_PER_PAGE": 12,
        #: argon2id cost; None keeps argon2-cffi's recommended defaults. Tests use cheap parameters.
        "PASSWORD_HASH_PARAMS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1} if env == "testing" else None,
    }
    config.update(overrides)
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        # Sessions in UTC: timestamps arrive already in UTC, the zone every datetime in Encore is kept in
        options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", "-c timezone=UTC")
        options["connect_args"] = connect_args
        # SQLAlchemy's default keeps 5: with 8 threads a returned 6th connection was closed, and a new backend
        # started (with its prepared statements lost) about once a second in bench/checkout_flow.py
        options.setdefault("pool_size", config["ENCORE_DB_POOL_SIZE"])
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    check_config(config)
    return config


def check_config(config: dict) -> None:
    """Refuse a configuration the app cannot serve, and a production one that would be unsafe."""
    from app.money import SUPPORTED_CURRENCIES

    if config["ENCORE_DEFAULT_CURRENCY"] not in SUPPORTED_CURRENCIES:
        raise ConfigError(
            f"ENCORE_DEFAULT_CURRENCY is {config['ENCORE_DEFAULT_CURRENCY']!r}: use one of {', '.join(SUPPORTED_CURRENCIES)}."
        )
    if config.get("ENCORE_STORAGE_URL"):
        parse_storage_url(config["ENCORE_STORAGE_URL"])
    _check_endpoint_url(config.get("ENCORE_S3_ENDPOINT_URL"))
    if config["ENCORE_ENV"] != "production":
        return
    key = config.get("SECRET_KEY")
    if not key:
        raise ConfigError("ENCORE_SECRET_KEY is not set: production needs a random secret key of at least 32 bytes.")
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            f"ENCORE_SECRET_KEY is {len(key.encode())} bytes long: production needs at least {MIN_SECRET_KEY_BYTES}."
        )
    if key == DEV_SECRET_KEY:
        raise ConfigError("ENCORE_SECRET_KEY is the development key: set a random one for production.")
    if config.get("DEBUG"):
        raise ConfigError("ENCORE_DEBUG is on: debug mode must be off in production.")


@dataclass(frozen=True)
class StorageLocation:
    """Where files live, parsed from ENCORE_STORAGE_URL: a local folder or an S3 bucket and key prefix."""

    scheme: str  # "file" or "s3"
    path: str = ""  # file: the absolute folder
    bucket: str = ""  # s3
    prefix: str = ""  # s3: keys are stored as <prefix>/<key>; may be empty


# S3's bucket naming rules (3-63 lowercase letters, digits, dots, hyphens; a letter or digit at both ends)
_BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_PREFIX_SEGMENT_PATTERN = re.compile(r"^[A-Za-z0-9._\-]+$")


def parse_storage_url(url: str) -> StorageLocation:
    """Parse ENCORE_STORAGE_URL; a URL the storage cannot use raises ConfigError."""
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ConfigError(f"ENCORE_STORAGE_URL is {url!r}: it takes no query or fragment.")
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ConfigError(f"ENCORE_STORAGE_URL is {url!r}: a local folder needs an absolute path, e.g. file:///srv/encore/files.")
        return StorageLocation("file", path=path)
    if parts.scheme == "s3":
        if not _BUCKET_PATTERN.match(parts.netloc):
            raise ConfigError(
                f"ENCORE_STORAGE_URL is {url!r}: name a valid S3 bucket (3-63 lowercase letters, digits, dots or hyphens), "
                "e.g. s3://encore-files/prod."
            )
        prefix = parts.path.strip("/")
        segments = prefix.split("/") if prefix else []
        if any(not _PREFIX_SEGMENT_PATTERN.match(s) or s in (".", "..") for s in segments):
            raise ConfigError(
                f"ENCORE_STORAGE_URL is {url!r}: the key prefix may hold letters, digits, '.', '_', '-' and single '/'."
            )
        return StorageLocation("s3", bucket=parts.netloc, prefix=prefix)
    raise ConfigError(f"ENCORE_STORAGE_URL is {url!r}: use file:///abs/path or s3://bucket/prefix.")


def _check_endpoint_url(url: str | None) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"ENCORE_S3_ENDPOINT_URL is {url!r}: use an http(s) address, e.g. https://minio.internal:9000.")
