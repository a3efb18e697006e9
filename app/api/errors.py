"""Every error under /api answers as application/problem+json; pages get an HTML error page."""
from __future__ import annotations

from apiflask import HTTPError
from flask import current_app, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

from app.errors import ServiceError, ValidationFailed
from app.extensions import db

PROBLEM_TYPES = {400: "bad-request", 413: "payload-too-large", 422: "validation-error", 401: "unauthorized", 403: "forbidden", 404: "not-found", 409: "conflict", 410: "gone", 429: "rate-limited", 502: "gateway-unavailable"}


def is_api_request() -> bool:
    return request.path.startswith("/api/") and not request.path.startswith("/api/docs")


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """apiflask nests errors by location and field; flatten to {"prices.0.amount": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            # marshmallow reports a wrong type for a whole object under "_schema": name the object itself
            name = prefix if key == "_schema" and prefix else (f"{prefix}.{key}" if prefix else str(key))
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                out[name] = list(value)
            else:
                out.update(_flatten(value, name))
    elif isinstance(detail, list):
        out[prefix or "_"] = [str(v) for v in detail]
    return out


def problem(status: int, title: str, detail: str | None = None, errors: dict | None = None, headers=None):
    body = {
        "type": f"/api/problems/{PROBLEM_TYPES.get(status, 'error')}",
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for key, value in dict(headers or {}).items():
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def _page_texts(status: int) -> tuple[str, str] | None:
    """A translated title and explanation for the error pages people meet most."""
    texts = {
        400: (_("Bad request"), _("The request could not be understood.")),
        401: (_("Please log in"), _("You need to log in to see this page.")),
        403: (_("Not allowed"), _("You are not allowed to do this.")),
        404: (_("Page not found"), _("There is nothing at this address.")),
        405: (_("Not allowed here"), _("This page does not accept that kind of request.")),
        413: (_("Upload too large"), _("The upload is larger than we accept.")),
        429: (_("Too many attempts"), _("Please wait a minute and try again.")),
        500: (_("Something went wrong"), _("Something went wrong on our side. Please try again later.")),
        503: (_("Temporarily unavailable"), _("Encore is briefly unavailable. Please try again later.")),
    }
    return texts.get(status)


def _html_error(status: int, title: str, detail: str | None = None):
    return render_template("errors.html", status=status, title=title, detail=detail), status


def _html_http_error(error: HTTPException):
    """Werkzeug's stock English texts are swapped for translated ones; a specific description is kept."""
    status = error.code or 500
    texts = _page_texts(status)
    title, detail = error.name, error.description
    if texts is not None:
        title = texts[0]
        if detail == type(error).description or status in (429, 500):
            detail = texts[1]
    return _html_error(status, title, detail)


def register_error_handlers(app) -> None:
    @app.error_processor
    def _apiflask_error(error: HTTPError):
        # apiflask's own errors: request validation (detail holds {location: {field: [...]}}) and auth
        errors = None
        if error.status_code == 422 and isinstance(error.detail, dict):
            errors = {}
            for location_errors in error.detail.values():
                errors.update(_flatten(location_errors))
        detail = "Some fields are not valid." if errors else (error.detail if isinstance(error.detail, str) and error.detail else None)
        return problem(error.status_code, error.message or "Error", detail, errors, error.headers)

    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError):
        db.session.rollback()
        if is_api_request():
            errors = error.errors if isinstance(error, ValidationFailed) else None
            title = {
                422: "Unprocessable Content", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 410: "Gone",
                502: "Bad Gateway",
            }.get(
                error.status_code, "Bad Request"
            )
            return problem(error.status_code, title, error.message, errors)
        return _html_error(error.status_code, error.message)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if is_api_request():
            # webargs attaches {"json": ["Invalid JSON body."]} to the 400 for a body that does not parse
            messages = getattr(error, "data", None) or {}
            messages = messages.get("messages") if isinstance(messages, dict) else None
            errors = _flatten(messages) if isinstance(messages, dict) else None
            detail = "; ".join(m for msgs in errors.values() for m in msgs) if errors else error.description
            return problem(error.code or 500, error.name, detail, errors, headers=error.get_headers())
        response = _html_http_error(error)
        return response[0], response[1], {k: v for k, v in error.get_headers() if k.lower() != "content-type"}

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return _http_error(error)
        current_app.logger.exception("unhandled error")
        db.session.rollback()
        if is_api_request():
            return problem(500, "Internal Server Error", "Something went wrong on our side.")
        return _html_http_error(InternalServerError())
