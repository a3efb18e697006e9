"""Who the money is for: a user or a brand, and who may act for it (read its balance, statement, payouts)."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import Brand, BrandMembership, User
from app.errors import NotFound, PermissionDenied
from app.extensions import db


@dataclass(frozen=True)
class Party:
    """A user or a brand that can hold a balance. `locale` is the language its statements are written in."""

    user_id: int | None
    brand_id: int | None
    name: str
    locale: str | None = None

    @property
    def is_brand(self) -> bool:
        return self.brand_id is not None

    @property
    def key(self) -> str:
        return f"brand:{self.brand_id}" if self.is_brand else f"user:{self.user_id}"


def user_party(user: User) -> Party:
    return Party(user.id, None, user.display_name, user.locale)


def brand_party(brand: Brand, reader: User | None = None) -> Party:
    return Party(None, brand.id, brand.name, reader.locale if reader is not None else None)


def party_for(user: User, brand_id=None) -> Party:
    """The caller themself, or (with `brand_id`) a brand they belong to; operators may name any brand.
    :raise 404: no such brand :raise 403: a brand the caller does not belong to"""
    if brand_id is None or brand_id == "":
        return user_party(user)
    try:
        brand_id = int(brand_id)
    except (TypeError, ValueError):
        raise NotFound(_("There is no such brand.")) from None
    brand = db.session.get(Brand, brand_id)
    if brand is None:
        raise NotFound(_("There is no such brand."))
    member = db.session.scalar(select(BrandMembership.id).where(
        BrandMembership.brand_id == brand.id, BrandMembership.user_id == user.id))
    if member is None and not user.is_operator:
        raise PermissionDenied(_("You are not a member of this brand."))
    return brand_party(brand, user)


def parties_of(user: User) -> list[Party]:
    """The user and every brand they belong to: the balances they can look after."""
    brands = db.session.scalars(
        select(Brand).join(BrandMembership, BrandMembership.brand_id == Brand.id)
        .where(BrandMembership.user_id == user.id).order_by(Brand.name)
    )
    return [user_party(user), *(brand_party(brand, user) for brand in brands)]
