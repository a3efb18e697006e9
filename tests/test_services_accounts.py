"""Account rules: registration, passwords, streamer profiles, brands, API tokens, live rooms."""
import pytest

from app.accounts import services as accounts
from app.accounts.models import ApiToken, Role, User
from app.errors import NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.liverooms import services as liverooms
from app.security import hash_password


def test_passwords_are_stored_as_argon2id_hashes(make):
    user = make.user(email="Mia@Example.com", password="s3cret-enough")
    assert user.email == "mia@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert "s3cret-enough" not in user.password_hash
    assert hash_password("s3cret-enough") != user.password_hash  # salted


def test_authenticate_accepts_the_right_password_only(make):
    make.user(email="mia@example.com", password="s3cret-enough")
    assert accounts.authenticate("MIA@example.com", "s3cret-enough") is not None
    assert accounts.authenticate("mia@example.com", "wrong-password") is None
    assert accounts.authenticate("nobody@example.com", "s3cret-enough") is None
    assert accounts.authenticate(None, None) is None


@pytest.mark.parametrize(
    "email, password, field",
    [("not-an-email", "long enough pw", "email"), ("", "long enough pw", "email"), ("a@example.com", "short", "password"),
     ("a@example.com", "x" * 300, "password"), ("a@example.com", None, "password")],
)
def test_registration_refuses_bad_input(email, password, field):
    with pytest.raises(ValidationFailed) as caught:
        accounts.register_user(email, password)
    assert field in caught.value.errors


def test_a_bad_email_alone_is_the_only_error_named():
    with pytest.raises(ValidationFailed) as caught:
        accounts.register_user("not-an-email", "long enough pw")
    assert list(caught.value.errors) == ["email"]


def test_registration_refuses_a_duplicate_email(make):
    make.user(email="mia@example.com")
    with pytest.raises(ValidationFailed) as caught:
        accounts.register_user("MIA@example.com", "long enough pw")
    assert "email" in caught.value.errors


def test_change_password_checks_the_current_one_and_ends_other_sessions(make):
    user = make.user(password="old password 1")
    version = user.session_version
    with pytest.raises(ValidationFailed) as caught:
        accounts.change_password(user, "wrong", "new password 1")
    assert "current_password" in caught.value.errors
    accounts.change_password(user, "old password 1", "new password 1")
    assert user.session_version == version + 1
    assert accounts.authenticate(user.email, "new password 1") == user


def test_become_streamer_requires_a_free_valid_handle(make):
    make.streamer(handle="mia")
    fan = make.user()
    for handle in ("Mia", "@mia", "ab", "has space", "admin"):
        with pytest.raises(ValidationFailed) as caught:
            accounts.become_streamer(fan, handle, "Mia 2")
        assert "handle" in caught.value.errors
    profile = accounts.become_streamer(fan, "@Mia_Live", "Mia Live")
    assert profile.handle == "mia_live" and Role.STREAMER in fan.roles
    with pytest.raises(ValidationFailed):
        accounts.become_streamer(fan, "another", "Again")


def test_api_token_secret_is_shown_once_and_stored_as_a_digest(make):
    user = make.user()
    token, secret = accounts.create_api_token(user, "laptop")
    db.session.commit()
    assert secret.startswith("enc_") and secret not in (token.token_digest, token.prefix)
    assert db.session.query(ApiToken).filter(ApiToken.token_digest == secret).count() == 0
    assert accounts.user_for_token(secret) == user
    accounts.revoke_api_token(user, token.id)
    assert accounts.user_for_token(secret) is None
    assert accounts.list_api_tokens(user) == []


def test_a_user_cannot_revoke_someone_elses_token(make):
    owner, other = make.user(), make.user()
    token, _ = accounts.create_api_token(owner, "mine")
    with pytest.raises(NotFound):
        accounts.revoke_api_token(other, token.id)
    assert token.revoked_at is None


def test_create_account_gives_each_role(make):
    streamer = accounts.create_account("s@example.com", "long enough pw", "streamer", handle="sunny")
    brand = accounts.create_account("b@example.com", "long enough pw", "brand", brand_name="Lumen Gear")
    operator = accounts.create_account("o@example.com", "long enough pw", "operator")
    assert Role.STREAMER in streamer.roles and streamer.creator_profile.handle == "sunny"
    assert Role.BRAND in brand.roles and brand.memberships[0].brand.slug == "lumen-gear"
    assert Role.OPERATOR in operator.roles
    with pytest.raises(ValidationFailed):
        accounts.create_account("x@example.com", "long enough pw", "brand")
    with pytest.raises(ValidationFailed):
        accounts.create_account("y@example.com", "long enough pw", "wizard")


def test_avatar_must_be_an_image(make):
    from app.storage import get_storage

    user = make.streamer()
    with pytest.raises(ValidationFailed) as caught:
        accounts.set_avatar(user.creator_profile, b"<svg/>", get_storage())
    assert "avatar" in caught.value.errors
    accounts.set_avatar(user.creator_profile, make.png_bytes(size=(300, 200)), get_storage())
    assert get_storage().exists(user.creator_profile.avatar_key)


def test_live_rooms_belong_to_their_streamer(make):
    mia, leo, fan = make.streamer(), make.streamer(), make.user()
    room = liverooms.add_room(mia, "bilibili", "https://live.bilibili.com/42", "Drawing night")
    assert [r.id for r in liverooms.rooms_of(mia.creator_profile)] == [room.id]
    with pytest.raises(PermissionDenied):
        liverooms.add_room(fan, "douyin", "https://live.douyin.com/1", "Fan room")
    with pytest.raises(PermissionDenied):
        liverooms.delete_room(leo, room.id)
    with pytest.raises(NotFound):
        liverooms.delete_room(mia, 999999)


@pytest.mark.parametrize(
    "platform, url, title, field",
    [("myspace", "https://x.example/1", "t", "platform"), ("douyin", "javascript:alert(1)", "t", "url"),
     ("douyin", "live.douyin.com/1", "t", "url"), ("douyin", "https://live.douyin.com/1", "", "title")],
)
def test_live_room_input_is_validated(make, platform, url, title, field):
    mia = make.streamer()
    with pytest.raises(ValidationFailed) as caught:
        liverooms.add_room(mia, platform, url, title)
    assert field in caught.value.errors
