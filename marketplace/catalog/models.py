"""The catalog: listings of every product kind, their prices, tags, co-brand partners and review trail."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Brand, CreatorProfile, User
from app.db import IdMixin, TimestampMixin, utcnow
from app.extensions import db
from app.money import Money


class ListingStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Listing(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "listings"

    creator_id: Mapped[int] = mapped_column(ForeignKey("creator_profiles.id", ondelete="CASCADE"), index=True)
    #: a code registered in marketplace.kinds (sticker_pack, merch, course, studio_setup)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    title: Mapped[str] = mapped_column(String(120))
    #: URL name, unique across the marketplace
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=ListingStatus.DRAFT, index=True)
    #: the operator's reason, kept while the listing is rejected
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    #: shown first on the home page; set by operators
    featured: Mapped[bool] = mapped_column(default=False)
    cover_key: Mapped[str | None] = mapped_column(String(255))
    cover_thumb_key: Mapped[str | None] = mapped_column(String(255))
    #: merch: where and for how much the streamer ships it (marketplace.merch.models.ShippingProfile)
    shipping_profile_id: Mapped[int | None] = mapped_column(ForeignKey("shipping_profiles.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None] = mapped_column(index=True)

    creator: Mapped[CreatorProfile] = relationship()
    prices: Mapped[list[ListingPrice]] = relationship(
        back_populates="listing", cascade="all, delete-orphan", order_by="ListingPrice.currency"
    )
    tags: Mapped[list[ListingTag]] = relationship(cascade="all, delete-orphan", order_by="ListingTag.name")
    partners: Mapped[list[ListingPartner]] = relationship(cascade="all, delete-orphan")
    status_changes: Mapped[list[ListingStatusChange]] = relationship(
        cascade="all, delete-orphan", order_by="ListingStatusChange.id"
    )

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]

    @property
    def partner_brands(self) -> list[Brand]:
        return [partner.brand for partner in self.partners]

    @property
    def is_public(self) -> bool:
        return self.status == ListingStatus.PUBLISHED

    def price_in(self, currency: str) -> Money | None:
        for price in self.prices:
            if price.currency == currency:
                return price.money
        return None

    def __repr__(self) -> str:
        return f"<Listing {self.id} {self.slug} {self.status}>"


class ListingPrice(IdMixin, db.Model):
    __tablename__ = "listing_prices"
    __table_args__ = (
        UniqueConstraint("listing_id", "currency"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    #: integer minor units of `currency` (1200 = 12.00 CNY)
    amount: Mapped[int] = mapped_column(BigInteger)

    listing: Mapped[Listing] = relationship(back_populates="prices")

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class ListingTag(db.Model):
    __tablename__ = "listing_tags"

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    #: normalised: trimmed, lower-cased
    name: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class ListingPartner(db.Model):
    """A brand that co-brands the listing."""

    __tablename__ = "listing_partners"

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True)

    brand: Mapped[Brand] = relationship()


class ListingStatusChange(IdMixin, db.Model):
    """One step of a listing's workflow: who moved it, from where to where, and why."""

    __tablename__ = "listing_status_changes"

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship()
