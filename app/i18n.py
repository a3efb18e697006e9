"""Languages: locale choice and the template helpers that format money and dates per locale."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel import Locale
from flask import current_app, has_request_context, request, session
from flask_babel import format_datetime, format_decimal, get_locale
from flask_login import current_user

from app.extensions import babel
from app.money import Money

LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}


def select_locale() -> str:
    locales = current_app.config["ENCORE_LOCALES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in locales:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in locales:
        return chosen
    if request.accept_languages:
        best = request.accept_languages.best_match(locales + ["zh", "zh-CN", "en-US"])
        if best and best.lower().startswith("zh"):
            return "zh_CN"
        if best and best.lower().startswith("en"):
            return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_locale() -> str:
    """The active locale as configured ("zh_CN"), not Babel's expanded form ("zh_Hans_CN")."""
    locale = get_locale()
    if locale is None:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    name = str(locale)
    return _configured_codes(tuple(current_app.config["ENCORE_LOCALES"])).get(name, name)


@lru_cache(maxsize=8)
def _configured_codes(codes: tuple[str, ...]) -> dict[str, str]:
    """Babel's name of each configured locale ("zh_Hans_CN") to its configured code ("zh_CN"): parsing
    them on every call cost about a millisecond of a checkout."""
    names: dict[str, str] = {}
    for code in codes:
        names.setdefault(str(Locale.parse(code)), code)
    return names


def format_file_size(size: int | None) -> str:
    """A byte count as the reader's language writes it: 512 B, 2.1 KB, 1.5 MB; empty when unknown."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    return f"{format_decimal(value, format='#,##0' if unit == 'B' else '#,##0.#')} {unit}"


def format_money(value: Money | None) -> str:
    if value is None:
        return ""
    return value.format(str(get_locale() or "en"))


def init_app(app) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": format_datetime(value, fmt) if value else ""
    app.jinja_env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    app.jinja_env.globals["current_locale"] = current_locale
