"""The JSON API's shared parts: bearer-token auth, problem-details errors (RFC 9457), offline docs."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import flask_swagger_ui
from apiflask import HTTPError, HTTPTokenAuth
from flask import Blueprint, current_app, request, send_from_directory, url_for
from flask_babel import gettext as _

from app.accounts.services import TOKEN_USE_PENDING, user_for_token
from app.extensions import db

auth = HTTPTokenAuth(scheme="Bearer", description="A token from POST /api/v1/tokens")

#: Swagger UI's distribution files (swagger-ui-dist 5.x, which renders OpenAPI 3.1), served from
#: this app so /api/docs works without internet access
SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
DOCS_ASSETS = "/api/docs/assets"

API_DESCRIPTION = """\
Encore's JSON API: listings, the review workflow, live rooms and the caller's account.

**Authentication.** Create a token with `POST /api/v1/tokens` (your email and password), then send it as
`Authorization: Bearer <token>`. The secret is shown once; list and revoke tokens under `/api/v1/tokens`.

**Errors** are `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, and on 422 an
`errors` object naming each bad field, e.g. `{"prices.0.amount": ["..."]}`.

**Money** is an integer count of the currency's minor unit: `{"currency": "CNY", "amount": 1200}` is 12.00 CNY.

**Collections** answer `{"items": [...]}`; paginated ones add `page`, `per_page`, `total` and `pages`.
"""

@auth.verify_token
def _verify_token(token: str):
    user = user_for_token(token)
    if db.session.info.pop(TOKEN_USE_PENDING, False):
        db.session.commit()  # record last_used_at
    return user


@auth.error_processor
def _auth_error(error: HTTPError):
    return current_app.error_callback(error)


def current_api_user():
    """The authenticated caller (on routes declared with auth_required)."""
    return auth.current_user


def optional_api_user():
    """The caller on routes open to anonymous visitors; a token that was sent but is not valid is refused."""
    user = auth.current_user
    if user is None and request.headers.get("Authorization"):
        raise HTTPError(401, "Unauthorized", _("The token is not valid or has been revoked."), headers=_challenge())
    return user


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="encore"'}


def absolute_url(url: str | None) -> str | None:
    """Make a URL that may be site-relative (local storage) absolute for API clients."""
    return urljoin(request.host_url, url) if url else None


def external_url(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


docs_assets = Blueprint("api_docs_assets", __name__)


@docs_assets.get(f"{DOCS_ASSETS}/<path:filename>")
def docs_asset(filename: str):
    return send_from_directory(SWAGGER_UI_DIST, filename, max_age=86400)


def init_app(app) -> None:
    from app.api.errors import register_error_handlers
    from app.api.schemas import PROBLEM_SCHEMA

    register_error_handlers(app)
    app.register_blueprint(docs_assets)
    app.config["SECURITY_SCHEMES"] = {"BearerAuth": {"type": "http", "scheme": "bearer"}}
    app.config["VALIDATION_ERROR_STATUS_CODE"] = 422
    app.config["AUTO_OPERATION_ID"] = True
    app.config["DESCRIPTION"] = API_DESCRIPTION
    app.config["INFO"] = {"description": API_DESCRIPTION}
    app.config["HTTP_ERROR_SCHEMA"] = PROBLEM_SCHEMA
    app.config["VALIDATION_ERROR_SCHEMA"] = PROBLEM_SCHEMA
    app.config["VALIDATION_ERROR_DESCRIPTION"] = "Unprocessable Content"
    app.config["SWAGGER_UI_CSS"] = f"{DOCS_ASSETS}/swagger-ui.css"
    app.config["SWAGGER_UI_BUNDLE_JS"] = f"{DOCS_ASSETS}/swagger-ui-bundle.js"
    app.config["SWAGGER_UI_STANDALONE_PRESET_JS"] = f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js"
    app.config["DOCS_FAVICON"] = f"{DOCS_ASSETS}/favicon-32x32.png"
