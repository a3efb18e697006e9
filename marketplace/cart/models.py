"""A fan's cart: one row per signed-in user, lines of listings and quantities; prices are never stored here."""
from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import IdMixin, TimestampMixin
from app.extensions import db
from marketplace.catalog.models import Listing

#: the most of one listing a line can hold (the database checks it too)
MAX_QUANTITY = 99


class Cart(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "carts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    #: the currency the fan picked; None until they pick one (the cart then uses the app's default)
    currency: Mapped[str | None] = mapped_column(String(3))

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartLine.id"
    )


class CartLine(IdMixin, db.Model):
    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("cart_id", "listing_id", "variant_id"),
        CheckConstraint(f"quantity >= 1 AND quantity <= {MAX_QUANTITY}", name="quantity_range"),
    )

    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    #: reserved for merch variants (size, colour); no foreign key until variants exist
    variant_id: Mapped[int | None]
    quantity: Mapped[int] = mapped_column(default=1)

    cart: Mapped[Cart] = relationship(back_populates="lines")
    listing: Mapped[Listing] = relationship()
