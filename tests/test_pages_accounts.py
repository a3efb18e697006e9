"""The account pages: register, log in and out, settings sections, API tokens, language, cookies."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.accounts.models import ApiToken, User
from app.extensions import db
from tests.factories import PASSWORD


def _register(client, email="mia@example.com", display_name="Mia", password="sunny days ahead", confirm=None):
    return client.post(
        "/register",
        data={"email": email, "display_name": display_name, "password": password, "confirm": confirm or password},
    )


def _user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def _errors_near(html: str, field_id: str) -> str:
    """The text of the error list rendered under a field."""
    match = re.search(rf'<ul class="errors" id="{re.escape(field_id)}-errors">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


# ---------- register ----------


def test_register_creates_account_and_logs_in(client):
    response = _register(client)
    assert response.status_code == 302
    user = _user("mia@example.com")
    assert user is not None and user.display_name == "Mia"
    page = client.get("/settings")
    assert page.status_code == 200
    assert "mia@example.com" in page.text


def test_register_sends_a_welcome_email_in_the_chosen_language(app, client, tmp_path):
    from email import message_from_bytes
    from email.header import decode_header, make_header

    saved = app.config["ENCORE_OUTBOX_PATH"]
    app.config["ENCORE_OUTBOX_PATH"] = str(tmp_path)
    try:
        client.post("/language", data={"locale": "zh_CN", "next": "/"})
        _register(client)
    finally:
        app.config["ENCORE_OUTBOX_PATH"] = saved
    [sent] = list(tmp_path.glob("*.eml"))
    message = message_from_bytes(sent.read_bytes())
    assert message["To"] == "mia@example.com"
    assert str(make_header(decode_header(message["Subject"]))) == "欢迎加入 Encore"


def test_register_page_renders_for_anonymous(client):
    page = client.get("/register")
    assert page.status_code == 200
    assert 'name="email"' in page.text and 'name="confirm"' in page.text


def test_register_duplicate_email_shows_error_next_to_email(client, make):
    make.user(email="taken@example.com")
    response = _register(client, email="Taken@Example.com", display_name="Someone")
    assert response.status_code == 422
    assert "already exists" in _errors_near(response.text, "email")
    assert 'value="Someone"' in response.text  # what the user typed is kept


def test_register_bad_email_is_refused(client):
    response = _register(client, email="not-an-email")
    assert response.status_code == 422
    assert "valid email" in _errors_near(response.text, "email")
    assert _user("not-an-email") is None


def test_register_short_password_is_refused(client):
    response = _register(client, password="short")
    assert response.status_code == 422
    assert "at least 8" in _errors_near(response.text, "password")
    assert _user("mia@example.com") is None


def test_register_mismatched_confirmation_is_refused(client):
    response = _register(client, password="sunny days ahead", confirm="sunny days behind")
    assert response.status_code == 422
    assert "do not match" in _errors_near(response.text, "confirm")


# ---------- login / logout ----------


def test_login_with_correct_password_redirects_home(client, make):
    make.user(email="fan@example.com")
    response = make.login(client, "fan@example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/settings").status_code == 200


def test_login_email_is_case_insensitive(client, make):
    make.user(email="fan@example.com")
    assert make.login(client, "  FAN@example.com ").status_code == 302


def test_login_wrong_password_is_refused(client, make):
    make.user(email="fan@example.com")
    response = make.login(client, "fan@example.com", "wrong password!")
    assert response.status_code == 422
    assert "not correct" in response.text
    assert client.get("/settings").status_code == 302


def test_login_unknown_email_gets_the_same_message(client):
    response = client.post("/login", data={"email": "nobody@example.com", "password": "whatever123"})
    assert response.status_code == 422
    assert "The email or password is not correct." in response.text


def test_login_honours_local_next(client, make):
    make.user(email="fan@example.com")
    response = client.post("/login", data={"email": "fan@example.com", "password": PASSWORD, "next": "/settings#tokens"})
    assert response.headers["Location"] == "/settings#tokens"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_login_ignores_next_pointing_elsewhere(client, make, target):
    make.user(email="fan@example.com")
    response = client.post("/login", data={"email": "fan@example.com", "password": PASSWORD, "next": target})
    assert response.headers["Location"] == "/"
    response = client.post(f"/login?next={target}", data={"email": "fan@example.com", "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_login_page_keeps_next_from_query_in_form(client):
    page = client.get("/login?next=/dashboard/live-rooms")
    assert 'value="/dashboard/live-rooms"' in page.text


def test_settings_requires_login(client):
    response = client.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_logout_is_post_only_and_signs_out(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    assert client.get("/logout").status_code == 405
    response = client.post("/logout")
    assert response.status_code == 302
    assert client.get("/settings").status_code == 302


def test_login_session_cookie_is_httponly_and_samesite_lax(client, make):
    make.user(email="fan@example.com")
    response = make.login(client, "fan@example.com")
    cookies = [value for key, value in response.headers.items() if key.lower() == "set-cookie"]
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie


# ---------- rate limit ----------


def test_login_rate_limit_per_account_across_ips(app, make):
    make.user(email="fan@example.com")
    for n in range(10):
        client = app.test_client()
        response = client.post(
            "/login",
            data={"email": "Fan@example.com", "password": "wrong password!"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"},
        )
        assert response.status_code == 422
    eleventh = app.test_client().post(
        "/login", data={"email": "fan@example.com", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.1.1"}
    )
    assert eleventh.status_code == 429
    # another account from a fresh address is not affected
    make.user(email="other@example.com")
    other = app.test_client().post(
        "/login", data={"email": "other@example.com", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.2.1"}
    )
    assert other.status_code == 302


def test_login_rate_limit_per_ip_across_accounts(client, make):
    make.user(email="fan@example.com")
    for n in range(10):
        response = client.post("/login", data={"email": f"guess{n}@example.com", "password": "wrong password!"})
        assert response.status_code == 422
    eleventh = client.post("/login", data={"email": "fan@example.com", "password": PASSWORD})
    assert eleventh.status_code == 429
    assert "429" in eleventh.text  # the HTML error page
    # GET is not limited
    assert client.get("/login").status_code == 200


# ---------- CSRF ----------


def test_post_without_csrf_token_is_refused_when_csrf_enabled(app, client, make):
    make.user(email="fan@example.com")
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/login", data={"email": "fan@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/settings").status_code == 302


def test_login_with_csrf_token_from_the_form_works(app, client, make):
    make.user(email="fan@example.com")
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"email": "fan@example.com", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    settings = client.get("/settings")
    assert settings.status_code == 200
    # every settings form and the log-out form carry a token
    assert settings.text.count('csrf_token" type="hidden" value=') >= 4
    assert 'action="/logout"' in settings.text


# ---------- settings: profile and password ----------


def test_profile_update_saves_name_and_language(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    response = client.post("/settings/profile", data={"profile-display_name": "Night Owl", "profile-locale": "en"})
    assert response.status_code == 302
    user = _user("fan@example.com")
    assert user.display_name == "Night Owl" and user.locale == "en"
    assert '<html lang="en"' in client.get("/settings").text


def test_profile_update_with_empty_name_shows_error(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    response = client.post("/settings/profile", data={"profile-display_name": "  ", "profile-locale": ""})
    assert response.status_code == 422
    assert "required" in _errors_near(response.text, "profile-display_name")


def test_change_password_signs_out_other_sessions_but_not_this_one(app, make):
    make.user(email="fan@example.com")
    here, elsewhere = app.test_client(), app.test_client()
    make.login(here, "fan@example.com")
    make.login(elsewhere, "fan@example.com")
    assert elsewhere.get("/settings").status_code == 200

    response = here.post(
        "/settings/password",
        data={"password-current_password": PASSWORD, "password-new_password": "a brand new secret", "password-confirm": "a brand new secret"},
    )
    assert response.status_code == 302
    assert here.get("/settings").status_code == 200
    assert elsewhere.get("/settings").status_code == 302
    assert make.login(app.test_client(), "fan@example.com", "a brand new secret").status_code == 302
    assert make.login(app.test_client(), "fan@example.com", PASSWORD).status_code == 422


def test_change_password_with_wrong_current_password_shows_error(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    response = client.post(
        "/settings/password",
        data={"password-current_password": "nope nope", "password-new_password": "a brand new secret", "password-confirm": "a brand new secret"},
    )
    assert response.status_code == 422
    assert "not correct" in _errors_near(response.text, "password-current_password")
    assert client.get("/settings").status_code == 200  # still signed in


def test_change_password_too_short_shows_error_on_new_password(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    response = client.post(
        "/settings/password",
        data={"password-current_password": PASSWORD, "password-new_password": "short", "password-confirm": "short"},
    )
    assert response.status_code == 422
    assert "at least 8" in _errors_near(response.text, "password-new_password")


# ---------- settings: streamer profile and avatar ----------


def test_fan_sees_become_streamer_and_can_become_one(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    assert "Become a streamer" in client.get("/settings").text
    response = client.post(
        "/settings/streamer",
        data={"streamer-handle": "Mia_Draws", "streamer-display_name": "Mia", "streamer-bio": "Drawing live."},
    )
    assert response.status_code == 302
    profile = _user("fan@example.com").creator_profile
    assert profile.handle == "mia_draws"
    page = client.get("/settings")
    assert "Streamer profile" in page.text and "@mia_draws" in page.text


def test_become_streamer_with_taken_handle_shows_error(client, make):
    make.streamer(handle="mia")
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    response = client.post("/settings/streamer", data={"streamer-handle": "mia", "streamer-display_name": "Other Mia"})
    assert response.status_code == 422
    assert "taken" in _errors_near(response.text, "streamer-handle")
    assert 'value="Other Mia"' in response.text
    assert _user("fan@example.com").creator_profile is None


@pytest.mark.parametrize("handle", ["ab", "has space", "emoji🙂", "admin"])
def test_become_streamer_with_invalid_handle_shows_error(client, make, handle):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    response = client.post("/settings/streamer", data={"streamer-handle": handle, "streamer-display_name": "Mia"})
    assert response.status_code == 422
    assert _errors_near(response.text, "streamer-handle")
    assert _user("fan@example.com").creator_profile is None


def test_streamer_edits_creator_profile(client, make):
    make.streamer(handle="mia", email="mia@example.com")
    make.login(client, "mia@example.com")
    response = client.post("/settings/creator", data={"creator-display_name": "米娅", "creator-bio": "每晚直播"})
    assert response.status_code == 302
    profile = _user("mia@example.com").creator_profile
    assert (profile.display_name, profile.bio) == ("米娅", "每晚直播")


def test_fan_cannot_post_creator_profile_or_avatar(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    assert client.post("/settings/creator", data={"creator-display_name": "X"}).status_code == 403
    assert client.post("/settings/avatar", data={}).status_code == 403


def test_avatar_upload_with_non_image_shows_form_error(client, make):
    import io

    make.streamer(handle="mia", email="mia@example.com")
    make.login(client, "mia@example.com")
    response = client.post(
        "/settings/avatar",
        data={"avatar-avatar": (io.BytesIO(b"#!/bin/sh\necho not an image\n"), "avatar.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "not an image" in _errors_near(response.text, "avatar-avatar")
    assert _user("mia@example.com").creator_profile.avatar_key is None


def test_avatar_upload_with_png_stores_a_square_webp(client, make):
    import io

    from PIL import Image

    make.streamer(handle="mia", email="mia@example.com")
    make.login(client, "mia@example.com")
    response = client.post(
        "/settings/avatar",
        data={"avatar-avatar": (io.BytesIO(make.png_bytes(size=(300, 200))), "me.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    key = _user("mia@example.com").creator_profile.avatar_key
    assert key and key.endswith(".webp")
    page = client.get("/settings")
    assert f"/media/{key}" in page.text
    media = client.get(f"/media/{key}")
    assert media.status_code == 200
    assert Image.open(io.BytesIO(media.data)).size == (256, 256)


def test_brand_memberships_are_listed_read_only(client, make):
    make.brand_member(brand_name="Acme Lights", email="brand@example.com")
    make.login(client, "brand@example.com")
    page = client.get("/settings")
    assert "Acme Lights" in page.text
    assert 'id="brands"' in page.text


# ---------- settings: API tokens ----------


def test_api_token_secret_is_shown_once(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    response = client.post("/settings/tokens", data={"token-name": "OBS overlay"})
    assert response.status_code == 302
    first = client.get("/settings")
    secret = re.search(r'<code class="secret" id="new-token">([^<]+)</code>', first.text).group(1)
    token = db.session.scalar(select(ApiToken))
    assert token.name == "OBS overlay" and secret.startswith(token.prefix)
    assert first.headers["Cache-Control"] == "no-store"
    second = client.get("/settings")
    assert secret not in second.text
    assert token.prefix in second.text and "OBS overlay" in second.text


def test_api_token_without_name_shows_error(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    response = client.post("/settings/tokens", data={"token-name": ""})
    assert response.status_code == 422
    assert _errors_near(response.text, "token-name")


def test_revoked_api_token_is_rejected_by_the_api(app, client, make):
    user = make.user(email="fan@example.com")
    secret = make.api_token(user, name="nightly-backup-job")
    token_id = db.session.scalar(select(ApiToken.id))
    make.login(client, "fan@example.com")
    has_me = any(rule.rule == "/api/v1/me" for rule in app.url_map.iter_rules())
    if has_me:
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200

    response = client.post(f"/settings/tokens/{token_id}/revoke")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ApiToken, token_id).revoked_at is not None
    assert "nightly-backup-job" not in client.get("/settings").text
    if has_me:
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_cannot_revoke_someone_elses_token(client, make):
    owner = make.user(email="owner@example.com")
    make.api_token(owner)
    token_id = db.session.scalar(select(ApiToken.id))
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    assert client.post(f"/settings/tokens/{token_id}/revoke").status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, token_id).revoked_at is None


# ---------- layout: language switch and navigation ----------


def test_language_switch_changes_page_language(client):
    page = client.get("/login", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="zh-CN"' in page.text
    response = client.post("/language", data={"locale": "en", "next": "/login"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    page = client.get("/login", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en"' in page.text
    client.post("/language", data={"locale": "zh_CN", "next": "/login"})
    assert '<html lang="zh-CN"' in client.get("/login").text


def test_language_switch_form_posts_current_path(client):
    page = client.get("/register?next=/settings")
    assert 'action="/language"' in page.text
    assert 'name="next" value="/register?next=/settings"' in page.text
    assert "简体中文" in page.text and "English" in page.text


def test_navigation_depends_on_roles(client, make):
    anonymous = client.get("/login").text
    assert 'href="/register"' in anonymous and 'action="/logout"' not in anonymous

    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    fan = client.get("/settings").text
    assert 'action="/logout"' in fan and 'href="/dashboard"' not in fan and 'href="/operator/review"' not in fan
    client.post("/logout")

    make.streamer(email="mia@example.com")
    make.login(client, "mia@example.com")
    assert 'href="/dashboard"' in client.get("/settings").text
    client.post("/logout")

    make.operator(email="op@example.com")
    make.login(client, "op@example.com")
    assert 'href="/operator/review"' in client.get("/settings").text


def test_flash_messages_appear_after_login(client, make):
    make.user(email="fan@example.com", display_name="Night Owl")
    make.login(client, "fan@example.com")
    page = client.get("/settings", headers={"Accept-Language": "en"})
    assert 'class="flash flash-success"' in page.text and "Night Owl" in page.text
