"""Coupons: a streamer's code giving a percent or a fixed amount off their listings, within limits."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import CreatorProfile
from app.db import IdMixin, utcnow
from app.extensions import db
from app.money import Money
from marketplace.catalog.models import Listing


class CouponKind(StrEnum):
    PERCENT = "percent"  #: `percent_bp` basis points off each eligible line
    FIXED = "fixed"  #: `amount` minor units of `currency` off the eligible lines together


#: the listings a coupon is restricted to; no row means every listing of the coupon's creator
coupon_listings = Table(
    "coupon_listings",
    db.metadata,
    Column("coupon_id", ForeignKey("coupons.id", ondelete="CASCADE"), primary_key=True),
    Column("listing_id", ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Coupon(IdMixin, db.Model):
    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("creator_id", "code"),
        CheckConstraint("kind IN ('percent', 'fixed')", name="kind_known"),
        CheckConstraint(
            "(kind = 'percent' AND percent_bp >= 1 AND percent_bp <= 10000 AND amount IS NULL AND currency IS NULL)"
            " OR (kind = 'fixed' AND percent_bp IS NULL AND amount > 0 AND currency IS NOT NULL)",
            name="value_shape",
        ),
        CheckConstraint(
            "(min_order_amount IS NULL AND min_order_currency IS NULL)"
            " OR (min_order_amount > 0 AND min_order_currency IS NOT NULL)",
            name="min_order_shape",
        ),
        CheckConstraint("max_uses_total IS NULL OR max_uses_total >= 1", name="max_uses_total_positive"),
        CheckConstraint("max_uses_per_buyer IS NULL OR max_uses_per_buyer >= 1", name="max_uses_per_buyer_positive"),
        CheckConstraint("valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from", name="window_order"),
    )

    creator_id: Mapped[int] = mapped_column(ForeignKey("creator_profiles.id", ondelete="CASCADE"), index=True)
    #: stored upper-case; unique per creator, so codes compare case-insensitively
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(10))
    #: percent coupons: 1..10000 basis points (1500 = 15 %)
    percent_bp: Mapped[int | None]
    #: fixed coupons: integer minor units of `currency`
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    max_uses_total: Mapped[int | None]
    max_uses_per_buyer: Mapped[int | None]
    #: the least the eligible lines must add up to, in minor units of `min_order_currency`
    min_order_amount: Mapped[int | None] = mapped_column(BigInteger)
    min_order_currency: Mapped[str | None] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    creator: Mapped[CreatorProfile] = relationship()
    listings: Mapped[list[Listing]] = relationship(secondary=coupon_listings, order_by="Listing.id")

    @property
    def fixed_money(self) -> Money | None:
        return Money(self.amount, self.currency) if self.amount is not None and self.currency else None

    @property
    def min_order(self) -> Money | None:
        if self.min_order_amount is None or not self.min_order_currency:
            return None
        return Money(self.min_order_amount, self.min_order_currency)

    @property
    def listing_ids(self) -> list[int]:
        return [listing.id for listing in self.listings]

    def __repr__(self) -> str:
        return f"<Coupon {self.id} {self.code} {self.kind}>"
