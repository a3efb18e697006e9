"""Accounts: users, creator profiles (streamers), brands with their members, API tokens."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import IdMixin, TimestampMixin
from app.extensions import db


class Role(StrEnum):
    FAN = "fan"
    STREAMER = "streamer"
    BRAND = "brand"
    OPERATOR = "operator"


class User(IdMixin, TimestampMixin, UserMixin, db.Model):
    __tablename__ = "users"

    #: stored lower-cased; the login name
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(80))
    #: preferred UI language, one of the configured locales; None follows the browser
    locale: Mapped[str | None] = mapped_column(String(10))
    is_operator: Mapped[bool] = mapped_column(default=False)
    is_active_account: Mapped[bool] = mapped_column(default=True)
    #: bumped on password change so other sessions' cookies stop working
    session_version: Mapped[int] = mapped_column(default=1)

    creator_profile: Mapped[CreatorProfile | None] = relationship(back_populates="user", uselist=False)
    memberships: Mapped[list[BrandMembership]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_active_account

    def get_id(self) -> str:  # Flask-Login: the session version invalidates old sessions
        return f"{self.id}:{self.session_version}"

    @property
    def is_streamer(self) -> bool:
        return self.creator_profile is not None

    @property
    def is_brand_member(self) -> bool:
        return bool(self.memberships)

    @property
    def roles(self) -> list[Role]:
        roles = [Role.FAN]
        if self.is_streamer:
            roles.append(Role.STREAMER)
        if self.is_brand_member:
            roles.append(Role.BRAND)
        if self.is_operator:
            roles.append(Role.OPERATOR)
        return roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class CreatorProfile(IdMixin, TimestampMixin, db.Model):
    """A streamer's public identity: the storefront at /@<handle>."""

    __tablename__ = "creator_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    #: lower-case letters, digits and underscores; the storefront URL
    handle: Mapped[str] = mapped_column(String(30), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    bio: Mapped[str] = mapped_column(Text, default="")
    #: storage key of the re-encoded square avatar, None until uploaded
    avatar_key: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship(back_populates="creator_profile")

    def __repr__(self) -> str:
        return f"<CreatorProfile @{self.handle}>"


class Brand(IdMixin, TimestampMixin, db.Model):
    """A brand organisation that co-brands merch and licenses studio setups."""

    __tablename__ = "brands"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    #: set by an operator once the brand's identity has been checked
    verified: Mapped[bool] = mapped_column(default=False)

    memberships: Mapped[list[BrandMembership]] = relationship(back_populates="brand", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Brand {self.slug}>"


class BrandRole(StrEnum):
    OWNER = "owner"
    MEMBER = "member"


class BrandMembership(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "brand_memberships"
    __table_args__ = (UniqueConstraint("brand_id", "user_id"),)

    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=BrandRole.MEMBER)

    brand: Mapped[Brand] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class ApiToken(IdMixin, TimestampMixin, db.Model):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    #: hex SHA-256 of the secret token; the secret itself is shown once and never stored
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    #: the first characters of the token, so a user can tell their tokens apart
    prefix: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
