"""Accounts API: bearer tokens (create, list, revoke), the caller's account and brands (list, verify)."""
from __future__ import annotations

from apiflask import APIBlueprint, HTTPError
from flask import request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from app.accounts import services
from app.accounts.schemas import BrandList, BrandOut, MeOut, TokenCreated, TokenList, TokenRequest
from app.api import auth, current_api_user
from app.errors import NotFound
from app.extensions import csrf, db, limiter

bp = APIBlueprint(
    "accounts_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Accounts", "description": "API tokens, the caller's account and brands."},
)
csrf.exempt(bp)  # the API authenticates with bearer tokens, never with the session cookie

#: password guesses allowed per client address and, separately, per account
TOKEN_ATTEMPTS = "10 per minute"


def _account_key() -> str:
    """Rate-limit key: the lower-cased email in the JSON body (the client address when there is none)."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if isinstance(email, str) and email.strip():
        return "account:" + email.strip().lower()
    return "address:" + (get_remote_address() or "")


def _too_many() -> str:
    return _("Too many attempts; wait a minute and try again.")


@bp.post("/tokens")
@limiter.limit(TOKEN_ATTEMPTS, key_func=get_remote_address, error_message=_too_many)
@limiter.limit(TOKEN_ATTEMPTS, key_func=_account_key, error_message=_too_many)
@bp.input(TokenRequest, arg_name="body")
@bp.output(TokenCreated, status_code=201)
@bp.doc(summary="Create an API token", responses=[401, 422, 429])
def create_token(body):
    """Exchange an email and password for a bearer token. Limited to 10 attempts a minute per address and per account."""
    user = services.authenticate(body["email"], body["password"])
    if user is None:
        raise HTTPError(401, "Unauthorized", _("Wrong email or password."), headers={"WWW-Authenticate": 'Bearer realm="encore"'})
    token, secret = services.create_api_token(user, body.get("name"))
    db.session.commit()
    return {"token": secret, "id": token.id, "name": token.name, "prefix": token.prefix, "created_at": token.created_at}


@bp.get("/tokens")
@bp.auth_required(auth)
@bp.output(TokenList)
@bp.doc(summary="List your tokens")
def list_tokens():
    """The caller's live tokens; secrets are never shown again."""
    return {"items": services.list_api_tokens(current_api_user())}


@bp.delete("/tokens/<int:token_id>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Revoke a token")
def revoke_token(token_id: int):
    services.revoke_api_token(current_api_user(), token_id)
    db.session.commit()
    return ""


# ---------------------------------------------------------------- brands


def _brand(slug: str):
    brand = services.find_brand(slug)
    if brand is None:
        raise NotFound(_("No brand called %(slug)s.", slug=slug))
    return brand


def _set_verified(slug: str, verified: bool):
    brand = _brand(slug)
    services.set_brand_verified(current_api_user(), brand, verified)
    db.session.commit()
    return brand


@bp.post("/brands/<slug>/verify")
@bp.auth_required(auth)
@bp.output(BrandOut)
@bp.doc(summary="Verify a brand", responses=[403, 404])
def verify_brand(slug: str):
    """Operators only: the brand's identity has been checked."""
    return _set_verified(slug, True)


@bp.post("/brands/<slug>/unverify")
@bp.auth_required(auth)
@bp.output(BrandOut)
@bp.doc(summary="Remove a brand's verification", responses=[403, 404])
def unverify_brand(slug: str):
    """Operators only."""
    return _set_verified(slug, False)


@bp.get("/brands")
@bp.output(BrandList)
@bp.doc(summary="List brands")
def list_brands():
    """Every brand, by name, and whether an operator has verified it."""
    return {"items": [brand for brand, _members in services.list_brands()]}


# ---------------------------------------------------------------- the caller


@bp.get("/me")
@bp.auth_required(auth)
@bp.output(MeOut)
@bp.doc(summary="Your account")
def me():
    return current_api_user()

