"""API tokens and /me: password exchange, rate limits, listing and revoking tokens, digests only in the database."""
from __future__ import annotations

import hashlib

from sqlalchemy import select, text

from app.accounts import services as accounts
from app.accounts.models import ApiToken
from app.extensions import db
from tests.factories import PASSWORD
from tests.api_support import assert_problem, bearer


def ask_token(client, email, password=PASSWORD, address="10.0.0.1", **extra):
    return client.post(
        "/api/v1/tokens", json={"email": email, "password": password, **extra}, environ_base={"REMOTE_ADDR": address}
    )


# ---------------------------------------------------------------- creating tokens

def test_create_token_with_right_password_returns_the_secret_once(client, make):
    user = make.user(email="mia@example.com")

    response = ask_token(client, "Mia@Example.com", name="OBS overlay")

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "id", "name", "prefix", "created_at"}
    assert body["name"] == "OBS overlay"
    assert body["token"].startswith(body["prefix"])
    me = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.get_json()["id"] == user.id
    listed = client.get("/api/v1/tokens", headers=bearer(body["token"])).get_json()["items"]
    assert "token" not in listed[0]


def test_token_is_stored_as_a_digest_and_the_secret_is_nowhere_in_the_database(client, make):
    make.user(email="mia@example.com")

    secret = ask_token(client, "mia@example.com").get_json()["token"]

    stored = db.session.scalar(select(ApiToken))
    assert stored.token_digest == hashlib.sha256(secret.encode()).hexdigest()
    rows = db.session.execute(text("SELECT * FROM api_tokens")).all()
    assert rows and all(secret not in str(value) for row in rows for value in row)


def test_create_token_with_wrong_password_is_401_problem(client, make):
    make.user(email="mia@example.com")

    body = assert_problem(ask_token(client, "mia@example.com", password="wrong password"), 401)

    assert body["type"] == "/api/problems/unauthorized"
    assert db.session.scalar(select(ApiToken)) is None


def test_create_token_for_unknown_email_is_401_problem(client, make):
    assert_problem(ask_token(client, "nobody@example.com"), 401)


def test_create_token_for_deactivated_account_is_401(client, make):
    user = make.user(email="gone@example.com")
    user.is_active_account = False
    db.session.commit()

    assert_problem(ask_token(client, "gone@example.com"), 401)


def test_create_token_without_password_is_422_naming_the_field(client, make):
    response = client.post("/api/v1/tokens", json={"email": "mia@example.com"})

    assert "password" in assert_problem(response, 422)["errors"]


def test_create_token_with_wrong_types_is_422_not_500(client, make):
    response = client.post("/api/v1/tokens", json={"email": ["mia@example.com"], "password": 12345678})

    errors = assert_problem(response, 422)["errors"]
    assert {"email", "password"} <= errors.keys()


def test_create_token_with_malformed_json_is_400_problem(client):
    response = client.post("/api/v1/tokens", data='{"email": ', content_type="application/json")

    assert_problem(response, 400)


def test_create_token_works_with_csrf_protection_on(app, client, make):
    app.config["WTF_CSRF_ENABLED"] = True
    make.user(email="mia@example.com")

    assert ask_token(client, "mia@example.com").status_code == 201


# ---------------------------------------------------------------- rate limits

def test_eleventh_attempt_for_one_account_within_a_minute_is_429_from_any_address(client, make):
    make.user(email="mia@example.com")
    for n in range(10):
        email = "MIA@example.com" if n % 2 else "mia@example.com"
        assert ask_token(client, email, password="wrong password", address=f"10.0.1.{n}").status_code == 401

    response = ask_token(client, "mia@example.com", address="10.0.2.99")  # even the right password

    body = assert_problem(response, 429)
    assert body["type"] == "/api/problems/rate-limited"
    assert "Retry-After" in response.headers
    other = ask_token(client, "other@example.com", address="10.0.2.99")
    assert other.status_code == 401  # another account is not locked out


def test_eleventh_attempt_from_one_address_within_a_minute_is_429_for_any_account(client, make):
    make.user(email="mia@example.com")
    for n in range(10):
        assert ask_token(client, f"guess{n}@example.com", address="10.0.3.3").status_code == 401

    assert_problem(ask_token(client, "mia@example.com", address="10.0.3.3"), 429)
    assert ask_token(client, "mia@example.com", address="10.0.3.4").status_code == 201


# ---------------------------------------------------------------- listing and revoking

def test_list_tokens_shows_only_the_callers_live_tokens(client, make):
    mia, bo = make.user(), make.user()
    secret = make.api_token(mia, name="laptop")
    revoked, _ = accounts.create_api_token(mia, "old")
    accounts.revoke_api_token(mia, revoked.id)
    make.api_token(bo, name="bo's")
    db.session.commit()

    response = client.get("/api/v1/tokens", headers=bearer(secret))

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["name"] for item in items] == ["laptop"]
    assert set(items[0]) == {"id", "name", "prefix", "created_at", "last_used_at"}
    assert items[0]["last_used_at"] is not None


def test_list_tokens_without_a_token_is_401_problem(client):
    response = client.get("/api/v1/tokens")

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_refused_with_401(client, make):
    user = make.user()
    secret = make.api_token(user)
    token_id = client.get("/api/v1/tokens", headers=bearer(secret)).get_json()["items"][0]["id"]

    response = client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(secret))

    assert response.status_code == 204
    assert_problem(client.get("/api/v1/me", headers=bearer(secret)), 401)
    assert_problem(client.get("/api/v1/tokens", headers=bearer(secret)), 401)


def test_revoking_someone_elses_token_is_404_and_leaves_it_working(client, make):
    mia, bo = make.user(), make.user()
    mia_secret, bo_secret = make.api_token(mia), make.api_token(bo)
    bo_token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == bo.id))

    assert_problem(client.delete(f"/api/v1/tokens/{bo_token_id}", headers=bearer(mia_secret)), 404)
    assert client.get("/api/v1/me", headers=bearer(bo_secret)).status_code == 200


def test_made_up_token_is_401_problem(client):
    assert_problem(client.get("/api/v1/me", headers=bearer("enc_not-a-real-token")), 401)


# ---------------------------------------------------------------- /me

def test_me_for_a_streamer_shows_the_creator_profile(client, make):
    user = make.streamer(handle="mia")

    body = client.get("/api/v1/me", headers=bearer(make.api_token(user))).get_json()

    assert set(body) == {"id", "email", "display_name", "locale", "roles", "creator", "brands"}
    assert body["roles"] == ["fan", "streamer"]
    assert body["creator"] == {"handle": "mia", "display_name": user.creator_profile.display_name,
                               "bio": "Live every night.", "avatar_url": None}
    assert body["brands"] == []


def test_me_for_a_brand_member_lists_their_brands(client, make):
    user = make.brand_member(brand_name="Acme Lights")

    body = client.get("/api/v1/me", headers=bearer(make.api_token(user))).get_json()

    assert body["roles"] == ["fan", "brand"]
    assert body["creator"] is None
    assert body["brands"] == [{"slug": "acme-lights", "name": "Acme Lights", "verified": False}]


def test_me_for_an_operator_has_the_operator_role(client, make):
    user = make.operator()

    body = client.get("/api/v1/me", headers=bearer(make.api_token(user))).get_json()

    assert "operator" in body["roles"]


def test_me_shows_an_uploaded_avatar_as_an_absolute_url(client, make):
    from app.storage import get_storage

    user = make.streamer(handle="mia")
    accounts.set_avatar(user.creator_profile, make.png_bytes(), get_storage())
    db.session.commit()

    avatar = client.get("/api/v1/me", headers=bearer(make.api_token(user))).get_json()["creator"]["avatar_url"]

    assert avatar.startswith("http://localhost/media/avatars/")
    assert client.get(avatar).status_code == 200
