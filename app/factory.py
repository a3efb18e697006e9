"""The application factory: config, extensions, the modules to load, CLI and error pages."""
from __future__ import annotations

import importlib
import logging
from pathlib import Path

from apiflask import APIFlask

from app import extensions
from app.config import load_config
from app.db import check_connections_after_idle, make_sqlite_transactional, render_migration_item
from app.security import configure_password_hasher

#: each module exposes init_app(app); product kinds register themselves from theirs
MODULES = (
    "app.web",
    "app.accounts",
    "app.liverooms",
    "app.api",
    "marketplace.catalog",
    "marketplace.cart",
    "marketplace.discounts",
    "marketplace.orders",
    "marketplace.payments",
    "marketplace.royalties",
    "marketplace.downloads",
    "marketplace.merch",
    "stickers",
    "courses",
    "licensing",
)

WEB_DIR = Path(__file__).parent / "web"


def create_app(config: dict | None = None) -> APIFlask:
    settings = load_config(config)
    instance_path = Path(settings["ENCORE_INSTANCE_PATH"])
    app = APIFlask(
        "encore",
        title="Encore API",
        version="1",
        spec_path="/api/v1/openapi.json",
        docs_path="/api/docs",
        docs_ui="swagger-ui",
        json_errors=False,
        instance_path=str(instance_path),
        instance_relative_config=False,
        template_folder=str(WEB_DIR / "templates"),
        static_folder=str(WEB_DIR / "static"),
        static_url_path="/static",
    )
    app.config.from_mapping(settings)
    app.debug = bool(settings["DEBUG"])
    instance_path.mkdir(parents=True, exist_ok=True)
    if app.config["ENCORE_ENV"] == "production":
        logging.basicConfig(level=logging.INFO)

    configure_password_hasher(app.config["PASSWORD_HASH_PARAMS"])
    extensions.db.init_app(app)
    with app.app_context():
        make_sqlite_transactional(extensions.db.engine)
        check_connections_after_idle(extensions.db.engine)
    extensions.migrate.init_app(
        app,
        extensions.db,
        directory=str(Path(__file__).parent.parent / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
    )
    extensions.login_manager.init_app(app)
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)

    from app import i18n, storage, tasks

    i18n.init_app(app)
    storage.init_app(app)
    tasks.init_celery(app)

    for name in MODULES:
        importlib.import_module(name).init_app(app)

    from app.cli import register_commands

    register_commands(app)
    _check_rate_limits_only_in_limited_views(app, extensions.limiter)
    return app


def _check_rate_limits_only_in_limited_views(app: APIFlask, limiter) -> None:
    """Drop Flask-Limiter's before_request check while nothing needs it.

    Views decorated with `limiter.limit` check their own limits when called; the before_request hook only
    applies default, application, meta and blueprint limits, and this app declares none, yet it cost
    about a quarter of a millisecond on every request. Declaring any of those brings the hook back."""
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits or limiter._meta_limits or manager._blueprint_limits:
        return
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
