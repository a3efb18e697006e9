"""Merch: a listing's variants with their stock, the stock held for unpaid orders, and streamers' shipping
profiles.

`Variant.stock` is what can still be sold: a reservation takes units out at checkout and a release puts them
back, so a CHECK that it never goes below zero is what makes overselling impossible even when two checkouts
race. `None` means unlimited (print on demand).
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import IdMixin, TimestampMixin
from app.extensions import db

#: the most units of one variant a listing may stock
MAX_STOCK = 1_000_000


class Variant(IdMixin, TimestampMixin, db.Model):
    """One buyable version of a merch listing (a size and a colour), with its own SKU and stock."""

    __tablename__ = "merch_variants"
    __table_args__ = (
        UniqueConstraint("listing_id", "sku", name="uq_merch_variants_listing_sku"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("weight_grams IS NULL OR weight_grams >= 0", name="weight_not_negative"),
    )

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    #: option name -> value, e.g. {"size": "L", "colour": "black"}
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    #: units that can still be sold; None = unlimited
    stock: Mapped[int | None]
    weight_grams: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)
    #: a retired variant stays for the orders that name it but can no longer be bought
    is_active: Mapped[bool] = mapped_column(default=True)

    prices: Mapped[list[VariantPrice]] = relationship(cascade="all, delete-orphan", order_by="VariantPrice.currency")

    @property
    def is_unlimited(self) -> bool:
        return self.stock is None

    def price_override(self, currency: str) -> int | None:
        return next((price.amount for price in self.prices if price.currency == currency), None)


class VariantPrice(db.Model):
    """A variant's own price in one currency, instead of the listing's."""

    __tablename__ = "merch_variant_prices"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    variant_id: Mapped[int] = mapped_column(ForeignKey("merch_variants.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class ReservationStatus(StrEnum):
    HELD = "held"
    ALLOCATED = "allocated"
    RELEASED = "released"


class StockReservation(IdMixin, db.Model):
    """Units of a variant taken out of stock for an order line until the order is paid (allocated) or
    expires or is cancelled (released, the units go back)."""

    __tablename__ = "merch_reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_merch_reservations_status_expires", "status", "expires_at"),
    )

    variant_id: Mapped[int] = mapped_column(ForeignKey("merch_variants.id", ondelete="RESTRICT"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), unique=True)
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=ReservationStatus.HELD)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    allocated_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]

    variant: Mapped[Variant] = relationship()


class ShippingProfile(IdMixin, TimestampMixin, db.Model):
    """Where a streamer ships and for how much: rates per region and currency."""

    __tablename__ = "shipping_profiles"

    creator_id: Mapped[int] = mapped_column(ForeignKey("creator_profiles.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))

    rates: Mapped[list[ShippingRate]] = relationship(
        back_populates="profile", cascade="all, delete-orphan", order_by="ShippingRate.position"
    )


class ShippingRate(IdMixin, db.Model):
    """The price of shipping one order's merch from one seller to any of `countries`, in one currency; free
    when the seller's merch in the order comes to at least `free_above`."""

    __tablename__ = "shipping_rates"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("free_above IS NULL OR free_above >= 0", name="free_above_not_negative"),
    )

    profile_id: Mapped[int] = mapped_column(ForeignKey("shipping_profiles.id", ondelete="CASCADE"), index=True)
    #: ISO 3166-1 alpha-2 codes, upper case
    countries: Mapped[list] = mapped_column(JSON, default=list)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    free_above: Mapped[int | None] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(default=0)

    profile: Mapped[ShippingProfile] = relationship(back_populates="rates")
