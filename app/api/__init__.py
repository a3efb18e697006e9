"""The JSON API's shared parts: bearer-token auth and problem-details errors (RFC 9457)."""
from __future__ import annotations

from apiflask import APIBlueprint, HTTPTokenAuth
from flask import g

from app.accounts.services import user_for_token
from app.extensions import db

auth = HTTPTokenAuth(scheme="Bearer", description="A token from POST /api/v1/tokens")


@auth.verify_token
def _verify_token(token: str):
    user = user_for_token(token)
    if user is not None:
        db.session.commit()  # record last_used_at
        g.api_user = user
    return user


def current_api_user():
    return auth.current_user


def init_app(app) -> None:
    from app.api.errors import register_error_handlers

    register_error_handlers(app)
    app.config["SECURITY_SCHEMES"] = {"BearerAuth": {"type": "http", "scheme": "bearer"}}
    app.config["VALIDATION_ERROR_STATUS_CODE"] = 422
    app.config["AUTO_OPERATION_ID"] = True
