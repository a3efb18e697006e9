"""Account rules: registration, login, passwords, streamer profiles, brands and API tokens."""
from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select, update

from app.accounts.models import ApiToken, Brand, BrandMembership, BrandRole, CreatorProfile, Role, User
from app.db import DirectStatement, as_loaded, utcnow
from app.errors import Errors, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.images import ImageRejected, avatar_rendition
from app.security import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    digest_token,
    hash_password,
    new_api_token_secret,
    password_needs_rehash,
    verify_against_dummy,
    verify_password,
)
from app.storage import Storage, delete_after_commit, new_key
from app.validation import clean_email, clean_handle, clean_text, image_error, slugify


def _check_password(password, errors: Errors, field: str = "password") -> str:
    if not isinstance(password, str) or not password:
        errors.add(field, _("This field is required."))
        return ""
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.add(field, _("Use at least %(min)d characters.", min=MIN_PASSWORD_LENGTH))
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.add(field, _("Must be at most %(max)d characters.", max=MAX_PASSWORD_LENGTH))
    return password


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))


def register_user(email, password, display_name=None, locale: str | None = None) -> User:
    """Create a fan account; raises ValidationFailed naming each bad field."""
    errors = Errors()
    email = clean_email(email, errors)
    password = _check_password(password, errors)
    if display_name in (None, "") and email:
        display_name = email.split("@")[0]
    if display_name not in (None, "") or email:
        display_name = clean_text(display_name, errors, "display_name", max_length=80)
    if email and find_user_by_email(email) is not None:
        errors.add("email", _("An account with this email already exists."))
    errors.raise_if_any()
    user = User(email=email, password_hash=hash_password(password), display_name=display_name, locale=locale)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email, password) -> User | None:
    """The active user with these credentials, or None; upgrades an outdated hash."""
    user = find_user_by_email(email) if isinstance(email, str) else None
    if user is None or not isinstance(password, str):
        verify_against_dummy(password if isinstance(password, str) else "")
        return None
    if not verify_password(user.password_hash, password) or not user.is_active_account:
        return None
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def change_password(user: User, current_password, new_password) -> None:
    """Set a new password after checking the current one; other sessions are signed out."""
    errors = Errors()
    if not isinstance(current_password, str) or not verify_password(user.password_hash, current_password):
        errors.add("current_password", _("The current password is not correct."))
    _check_password(new_password, errors, "new_password")
    errors.raise_if_any()
    user.password_hash = hash_password(new_password)
    user.session_version += 1


def update_user(user: User, display_name=None, locale=None, locales: tuple[str, ...] = ("zh_CN", "en")) -> None:
    errors = Errors()
    if display_name is not None:
        display_name = clean_text(display_name, errors, "display_name", max_length=80)
    if locale not in (None, "") and locale not in locales:
        errors.add("locale", _("Unknown language."))
    errors.raise_if_any()
    if display_name is not None:
        user.display_name = display_name
    if locale is not None:
        user.locale = locale or None


def _check_profile(errors: Errors, display_name, bio) -> tuple[str, str]:
    return (
        clean_text(display_name, errors, "display_name", max_length=80),
        clean_text(bio, errors, "bio", max_length=2000, required=False),
    )


def find_creator(handle: str) -> CreatorProfile | None:
    return db.session.scalar(select(CreatorProfile).where(CreatorProfile.handle == (handle or "").lower()))


def become_streamer(user: User, handle, display_name, bio="") -> CreatorProfile:
    """Give the user a creator profile with a unique handle."""
    errors = Errors()
    if user.creator_profile is not None:
        errors.add("handle", _("You already have a streamer profile."))
        errors.raise_if_any()
    handle = clean_handle(handle, errors)
    display_name, bio = _check_profile(errors, display_name, bio)
    if handle and "handle" not in errors.errors and find_creator(handle) is not None:
        errors.add("handle", _("This handle is taken."))
    errors.raise_if_any()
    profile = CreatorProfile(user=user, handle=handle, display_name=display_name, bio=bio)
    db.session.add(profile)
    db.session.flush()
    return profile


def update_creator_profile(profile: CreatorProfile, display_name, bio) -> None:
    errors = Errors()
    display_name, bio = _check_profile(errors, display_name, bio)
    errors.raise_if_any()
    profile.display_name = display_name
    profile.bio = bio


def set_avatar(profile: CreatorProfile, data: bytes, storage: Storage) -> None:
    """Re-encode and store a new avatar; the old file goes once the change is committed."""
    try:
        avatar = avatar_rendition(data)
    except ImageRejected as exc:
        raise ValidationFailed.one("avatar", image_error(exc))
    old_key = profile.avatar_key
    profile.avatar_key = storage.put(new_key("avatars", avatar.extension), avatar.data)
    delete_after_commit(storage, [old_key])


def find_brand(slug: str) -> Brand | None:
    return db.session.scalar(select(Brand).where(Brand.slug == (slug or "").lower()))


def create_brand(name, owner: User | None = None, verified: bool = False) -> Brand:
    errors = Errors()
    name = clean_text(name, errors, "brand", max_length=120)
    slug = slugify(name) or None
    if name and db.session.scalar(select(Brand).where(Brand.name == name)) is not None:
        errors.add("brand", _("A brand with this name already exists."))
    errors.raise_if_any()
    if not slug or find_brand(slug) is not None:
        base = slug or "brand"
        n = 2
        while find_brand(f"{base}-{n}") is not None:
            n += 1
        slug = f"{base}-{n}"
    brand = Brand(name=name, slug=slug, verified=verified)
    db.session.add(brand)
    if owner is not None:
        db.session.add(BrandMembership(brand=brand, user=owner, role=BrandRole.OWNER))
    db.session.flush()
    return brand


def add_brand_member(brand: Brand, user: User, role: str = BrandRole.MEMBER) -> BrandMembership:
    existing = db.session.scalar(
        select(BrandMembership).where(BrandMembership.brand_id == brand.id, BrandMembership.user_id == user.id)
    )
    if existing is not None:
        return existing
    membership = BrandMembership(brand=brand, user=user, role=role)
    db.session.add(membership)
    db.session.flush()
    return membership


def list_brands() -> list[tuple[Brand, int]]:
    """Every brand with its member count, by name."""
    members = (
        select(BrandMembership.brand_id, func.count(BrandMembership.id).label("members"))
        .group_by(BrandMembership.brand_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Brand, func.coalesce(members.c.members, 0))
        .outerjoin(members, members.c.brand_id == Brand.id)
        .order_by(Brand.name, Brand.id)
    )
    return [(brand, count) for brand, count in rows]


def set_brand_verified(actor: User, brand: Brand, verified: bool) -> Brand:
    """Mark a brand's identity as checked (or no longer checked); operators only."""
    if not (actor is not None and actor.is_authenticated and actor.is_operator):
        raise PermissionDenied(_("Only operators can verify brands."))
    brand.verified = bool(verified)
    return brand


def create_api_token(user: User, name) -> tuple[ApiToken, str]:
    """A new bearer token; returns the row and the secret, which is shown once and never stored."""
    errors = Errors()
    name = clean_text(name or "API token", errors, "name", max_length=80)
    errors.raise_if_any()
    secret = new_api_token_secret()
    token = ApiToken(user=user, name=name, token_digest=digest_token(secret), prefix=secret[:10])
    db.session.add(token)
    db.session.flush()
    return token, secret


def list_api_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)
        )
    )


def revoke_api_token(user: User, token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound(_("No such token."))
    token.revoked_at = utcnow()


#: how stale a token's last_used_at may be before a call records it again
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


_USERS = User.__table__
_API_TOKENS = ApiToken.__table__
#: the live token's owner's row with what recording the token's use needs, built once: a Core select and
#: a User made from its row cost about a third of the ORM select of the token joined with its user
_TOKEN_OWNER = DirectStatement(
    select(*_USERS.c, _API_TOKENS.c.id.label("token_id"), _API_TOKENS.c.last_used_at.label("token_last_used_at"))
    .join_from(_API_TOKENS, _USERS, _API_TOKENS.c.user_id == _USERS.c.id)
    .where(_API_TOKENS.c.token_digest == bindparam("digest"), _API_TOKENS.c.revoked_at.is_(None))
)
_RECORD_TOKEN_USE = DirectStatement(
    update(_API_TOKENS).where(_API_TOKENS.c.id == bindparam("token_id")).values(last_used_at=bindparam("now"))
)
#: set in the session's info while a recorded token use waits for a commit
TOKEN_USE_PENDING = "encore.api_token_use_pending"


def user_for_token(secret: str) -> User | None:
    """The active owner of a live (not revoked) token.

    A use to record is written without the unit of work (no ApiToken object is loaded) and flagged in
    `db.session.info[TOKEN_USE_PENDING]` for a caller that commits only when there is something to commit."""
    if not secret:
        return None
    row = _TOKEN_OWNER.run(db.session, {"digest": digest_token(secret)}).first()
    if row is None or not row.is_active_account:
        return None
    now = utcnow()
    # "last used" is shown to the minute; writing it on every call would cost a write per API request
    if row.token_last_used_at is None or now - row.token_last_used_at >= TOKEN_USE_RESOLUTION:
        _RECORD_TOKEN_USE.run(db.session, {"token_id": row.token_id, "now": now})
        db.session.info[TOKEN_USE_PENDING] = True
    values = row._mapping
    return as_loaded(db.session, User, {column.key: values[column.key] for column in _USERS.c})


def create_account(email, password, role: str, handle=None, brand_name=None, display_name=None) -> User:
    """Create a user with a role in one step (CLI and demo data)."""
    if role not in set(Role):
        raise ValidationFailed.one("role", _("Unknown role."))
    user = register_user(email, password, display_name=display_name)
    if role == Role.STREAMER:
        become_streamer(user, handle or slugify(user.display_name).replace("-", "_"), user.display_name)
    elif role == Role.BRAND:
        if not brand_name:
            raise ValidationFailed.one("brand", _("A brand member needs a brand name."))
        brand = find_brand(slugify(brand_name)) or create_brand(brand_name)
        add_brand_member(brand, user, BrandRole.OWNER if not brand.memberships else BrandRole.MEMBER)
    elif role == Role.OPERATOR:
        user.is_operator = True
    return user
