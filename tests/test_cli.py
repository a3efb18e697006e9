"""The `encore` command: seed-demo, users create, worker, and the FlaskGroup commands."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.accounts.models import Brand, BrandMembership, CreatorProfile, User
from app.accounts.services import authenticate, find_user_by_email
from marketplace.demo import ACCOUNTS, BRAND_NAME, DEMO_PASSWORD, LISTINGS
from app.extensions import db
from app.liverooms.models import LiveRoom
from app.storage import get_storage
from marketplace.catalog.models import Listing, ListingPartner, ListingPrice, ListingStatus, ListingStatusChange
from tests.app_support import rebind


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _counts() -> dict[str, int]:
    models = (User, CreatorProfile, Brand, BrandMembership, LiveRoom, Listing, ListingPrice, ListingPartner, ListingStatusChange)
    return {model.__name__: _count(model) for model in models}


# ---------------------------------------------------------------- seed-demo

@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return result


def test_seed_demo_creates_each_role_and_prints_the_logins(seeded):
    for account in ACCOUNTS:
        line = next(line for line in seeded.output.splitlines() if line.startswith(account.email))
        assert DEMO_PASSWORD in line and account.role in line
        assert authenticate(account.email, DEMO_PASSWORD) is not None, account.email
    fan = find_user_by_email("fan@demo.encore.example")
    operator = find_user_by_email("operator@demo.encore.example")
    brand_member = find_user_by_email("brand@demo.encore.example")
    streamers = [find_user_by_email(a.email) for a in ACCOUNTS if a.role == "streamer"]

    assert fan.roles == ["fan"]
    assert operator.is_operator
    assert [m.brand.name for m in brand_member.memberships] == [BRAND_NAME]
    assert brand_member.memberships[0].brand.verified is True
    assert len(streamers) == 2
    storage = get_storage()
    for streamer in streamers:
        profile = streamer.creator_profile
        assert profile.handle and profile.bio
        assert profile.avatar_key and storage.exists(profile.avatar_key)
        rooms = db.session.scalars(select(LiveRoom).where(LiveRoom.creator_id == profile.id)).all()
        assert 2 <= len(rooms) <= 3

    # about thirty listings of every kind, each moved through the real workflow
    listings = db.session.scalars(select(Listing)).all()
    assert f"{len(LISTINGS)} listing(s) created" in seeded.output
    assert len(listings) == len(LISTINGS) >= 28
    assert {listing.kind for listing in listings} == {"sticker_pack", "merch", "course", "studio_setup"}
    for listing in listings:
        assert listing.status == ListingStatus.PUBLISHED
        steps = [(change.from_status, change.to_status) for change in listing.status_changes]
        assert steps == [("draft", "submitted"), ("submitted", "approved"), ("approved", "published")], listing.slug
        assert storage.exists(listing.cover_key) and storage.exists(listing.cover_thumb_key)
        assert listing.price_in("CNY") is not None
        assert listing.tag_names
    assert any(listing.price_in("USD") for listing in listings)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in listing.title) for listing in listings)
    assert 3 <= sum(listing.featured for listing in listings) <= 8
    cobranded = [listing for listing in listings if listing.partner_brands]
    assert cobranded and all(b.name == BRAND_NAME for listing in cobranded for b in listing.partner_brands)
    assert any(listing.kind == "merch" for listing in cobranded)


def test_seed_demo_twice_changes_nothing(runner, seeded):
    before = _counts()
    covers = {slug: key for slug, key in db.session.execute(select(Listing.slug, Listing.cover_key))}

    again = runner.invoke(args=["seed-demo"])
    db.session.expire_all()

    assert again.exit_code == 0, again.output
    assert "0 account(s) and 0 listing(s) created" in again.output
    assert _counts() == before
    assert {slug: key for slug, key in db.session.execute(select(Listing.slug, Listing.cover_key))} == covers


def test_seed_demo_keeps_an_existing_account_and_fills_in_the_rest(runner, make):
    make.user(email="fan@demo.encore.example", password="my own password")

    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    assert "4 account(s)" in result.output
    assert authenticate("fan@demo.encore.example", "my own password") is not None
    assert _count(User) == len(ACCOUNTS)


# ---------------------------------------------------------------- users create

@pytest.mark.parametrize(
    "args, roles",
    [
        (["--role", "fan"], ["fan"]),
        (["--role", "streamer", "--handle", "night_owl"], ["fan", "streamer"]),
        (["--role", "brand", "--brand", "Acme Lights"], ["fan", "brand"]),
        (["--role", "operator"], ["fan", "operator"]),
        ([], ["fan"]),
    ],
)
def test_users_create_makes_an_account_with_the_role(runner, args, roles):
    result = runner.invoke(args=["users", "create", "New@Example.com", "--password", "long enough pw", *args])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("created new@example.com")
    user = find_user_by_email("new@example.com")
    assert user.roles == roles
    assert authenticate("new@example.com", "long enough pw") is user


def test_users_create_streamer_gets_the_handle_and_brand_member_joins_the_brand(runner):
    runner.invoke(args=["users", "create", "s@example.com", "--password", "long enough pw", "--role", "streamer", "--handle", "@Night_Owl"])
    runner.invoke(args=["users", "create", "b1@example.com", "--password", "long enough pw", "--role", "brand", "--brand", "Acme"])
    result = runner.invoke(args=["users", "create", "b2@example.com", "--password", "long enough pw", "--role", "brand", "--brand", "Acme"])

    assert "[Acme]" in result.output
    assert find_user_by_email("s@example.com").creator_profile.handle == "night_owl"
    brand = db.session.scalar(select(Brand).where(Brand.name == "Acme"))
    assert sorted((m.user.email, m.role) for m in brand.memberships) == [("b1@example.com", "owner"), ("b2@example.com", "member")]


@pytest.mark.parametrize(
    "args, field",
    [
        (["--role", "streamer"], "handle"),
        (["--role", "streamer", "--handle", "Bad Handle!"], "handle"),
        (["--role", "streamer", "--handle", "ab"], "handle"),
        (["--role", "streamer", "--handle", "admin"], "handle"),
        (["--role", "fan", "--handle", "someone"], "handle"),
        (["--role", "brand"], "brand"),
        (["--role", "fan", "--brand", "Acme"], "brand"),
    ],
)
def test_users_create_refuses_bad_role_options_naming_the_field(runner, args, field):
    result = runner.invoke(args=["users", "create", "x@example.com", "--password", "long enough pw", *args])

    assert result.exit_code == 2
    assert f"error: {field}: " in result.stderr
    assert _count(User) == 0


def test_users_create_refuses_a_duplicate_email(runner, make):
    make.user(email="taken@example.com")

    result = runner.invoke(args=["users", "create", "TAKEN@example.com", "--password", "long enough pw"])

    assert result.exit_code == 2
    assert "error: email: An account with this email already exists." in result.stderr
    assert _count(User) == 1


def test_users_create_refuses_a_short_password_and_a_bad_email(runner):
    short = runner.invoke(args=["users", "create", "a@example.com", "--password", "short"])
    bad = runner.invoke(args=["users", "create", "not-an-email", "--password", "long enough pw"])

    assert short.exit_code == 2 and "error: password: Use at least 8 characters." in short.stderr
    assert bad.exit_code == 2 and "error: email: Enter a valid email address." in bad.stderr
    assert _count(User) == 0


def test_users_create_messages_are_english_whatever_the_default_locale(app, runner):
    assert app.config["BABEL_DEFAULT_LOCALE"] == "zh_CN"

    result = runner.invoke(args=["users", "create", "a@example.com", "--password", "short"])

    assert "Use at least 8 characters." in result.stderr


def test_users_create_refuses_an_unknown_role_and_a_missing_password(runner):
    unknown = runner.invoke(args=["users", "create", "a@example.com", "--password", "long enough pw", "--role", "admin"])
    missing = runner.invoke(args=["users", "create", "a@example.com"])

    assert unknown.exit_code == 2 and "'admin' is not one of" in unknown.stderr
    assert missing.exit_code == 2 and "--password" in missing.stderr
    assert _count(User) == 0


# ---------------------------------------------------------------- worker and the FlaskGroup

def test_worker_command_is_registered_with_its_options(runner):
    result = runner.invoke(args=["worker", "--help"])

    assert result.exit_code == 0
    assert "--loglevel" in result.output and "--concurrency" in result.output


def test_the_encore_entry_point_lists_run_db_and_project_commands(app, monkeypatch, tmp_path):
    from app.cli import main

    monkeypatch.setenv("ENCORE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("ENCORE_ENV", raising=False)
    try:
        result = CliRunner().invoke(main, ["--help"])
        run_help = CliRunner().invoke(main, ["run", "--help"])
    finally:
        rebind(app)

    assert result.exit_code == 0, result.output
    for command in ("run", "db", "seed-demo", "users", "worker"):
        assert f"  {command} " in result.output
    assert run_help.exit_code == 0 and "--port" in run_help.output
