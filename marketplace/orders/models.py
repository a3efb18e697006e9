"""Orders: what a fan bought at which price, how the payment went, what was fulfilled and refunded.

Prices are snapshots taken at checkout; later price changes never touch an order. Amounts are integer
minor units of the order's currency, and the database checks that every total adds up.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import CreatorProfile, User
from app.db import IdMixin, TimestampMixin, utcnow
from app.extensions import db
from app.money import Money
from marketplace.cart.models import MAX_QUANTITY


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: the states in which the buyer's money is (at least partly) with the marketplace
PAID_STATES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED)
#: orders that never took money; they do not count as a coupon's uses
CLOSED_UNPAID_STATES = (OrderStatus.CANCELLED, OrderStatus.EXPIRED)


class Order(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("subtotal >= 0 AND discount >= 0 AND discount <= subtotal", name="amounts_valid"),
        CheckConstraint("total = subtotal - discount + shipping_total", name="total_with_shipping_adds_up"),
        CheckConstraint("shipping_total >= 0", name="shipping_not_negative"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= total", name="refund_within_total"),
    )

    #: what the fan quotes to support, e.g. EN-261124-7K3Q9P
    number: Mapped[str] = mapped_column(String(24), unique=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.PENDING_PAYMENT, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    #: what the buyer pays for shipping the order's merch (each seller's share is on its lines); 0 for digital
    shipping_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: {"name", "line1", "line2", "city", "region", "postal_code", "country", "phone"}; None without merch
    shipping_address: Mapped[dict | None] = mapped_column(JSON)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id", ondelete="SET NULL"), index=True)
    #: the code as the fan typed it (normalised), kept if the coupon is later deleted
    coupon_code: Mapped[str | None] = mapped_column(String(32))
    #: the buyer's language at checkout: order emails are written in it
    locale: Mapped[str | None] = mapped_column(String(10))
    #: the gateway that collects the payment (local or stripe) and its ids
    gateway: Mapped[str] = mapped_column(String(20))
    payment_session_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payment_url: Mapped[str | None] = mapped_column(Text)
    #: the provider's id of the money movement (Stripe: the PaymentIntent), set when paid; refunds use it
    payment_reference: Mapped[str | None] = mapped_column(String(255), index=True)
    #: a pending order still unpaid at this time expires and releases its reservations
    expires_at: Mapped[datetime] = mapped_column(index=True)
    paid_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    #: something an operator must look at (a payment after expiry, an amount mismatch, a refund made outside Encore)
    needs_attention: Mapped[bool] = mapped_column(default=False, index=True)
    attention_note: Mapped[str | None] = mapped_column(Text)

    buyer: Mapped[User] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id")
    status_changes: Mapped[list[OrderStatusChange]] = relationship(
        cascade="all, delete-orphan", order_by="OrderStatusChange.id"
    )
    refunds: Mapped[list[Refund]] = relationship(back_populates="order", cascade="all, delete-orphan", order_by="Refund.id")

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def subtotal_money(self) -> Money:
        return Money(self.subtotal, self.currency)

    @property
    def discount_money(self) -> Money:
        return Money(self.discount, self.currency)

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)

    @property
    def refunded_money(self) -> Money:
        return Money(self.refunded_amount, self.currency)

    @property
    def is_pending(self) -> bool:
        return self.status == OrderStatus.PENDING_PAYMENT

    def __repr__(self) -> str:
        return f"<Order {self.id} {self.number} {self.status}>"


class OrderLine(IdMixin, db.Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint(f"quantity >= 1 AND quantity <= {MAX_QUANTITY}", name="quantity_range"),
        CheckConstraint("unit_price >= 0 AND subtotal = unit_price * quantity", name="subtotal_adds_up"),
        CheckConstraint("discount >= 0 AND discount <= subtotal AND total = subtotal - discount", name="total_adds_up"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    #: kept when the listing is deleted: the snapshot below still says what was bought
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id", ondelete="SET NULL"), index=True)
    #: the seller; streamers see the lines of their own listings only
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("creator_profiles.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(120))
    variant_id: Mapped[int | None]
    quantity: Mapped[int]
    unit_price: Mapped[int] = mapped_column(BigInteger)
    subtotal: Mapped[int] = mapped_column(BigInteger)
    #: this line's share of the order's coupon discount
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    #: this line's part of the order's shipping (paid to whoever ships it); not part of `total`
    shipping: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    fulfilled_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    carrier: Mapped[str | None] = mapped_column(String(60))
    tracking_number: Mapped[str | None] = mapped_column(String(80))
    shipped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    order: Mapped[Order] = relationship(back_populates="lines")
    creator: Mapped[CreatorProfile | None] = relationship()

    def money(self, amount: int) -> Money:
        return Money(amount, self.order.currency)

    @property
    def unit_price_money(self) -> Money:
        return self.money(self.unit_price)

    @property
    def subtotal_money(self) -> Money:
        return self.money(self.subtotal)

    @property
    def discount_money(self) -> Money:
        return self.money(self.discount)

    @property
    def total_money(self) -> Money:
        return self.money(self.total)


class OrderStatusChange(IdMixin, db.Model):
    """One step of an order's history; a note without a change of state records an event (a failed payment)."""

    __tablename__ = "order_status_changes"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: a code from orders.services.HistoryNote with its parameters, worded when read (in the reader's language)
    note: Mapped[str | None] = mapped_column(String(40))
    note_params: Mapped[dict | None] = mapped_column(db.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship()


class RefundStatus(StrEnum):
    SUCCEEDED = "succeeded"


class Refund(IdMixin, db.Model):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text, default="")
    #: who asked for it; None for a refund made at the payment provider and reported by its webhook
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default=RefundStatus.SUCCEEDED)
    gateway_reference: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="refunds")
    actor: Mapped[User | None] = relationship()
    lines: Mapped[list[RefundLine]] = relationship(cascade="all, delete-orphan", order_by="RefundLine.id")

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)


class RefundLine(IdMixin, db.Model):
    """An order line given back; a line is refunded at most once (the unique constraint makes sure)."""

    __tablename__ = "refund_lines"

    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)

    order_line: Mapped[OrderLine] = relationship()


class PaymentEvent(IdMixin, db.Model):
    """A webhook event, stored once: its id's unique constraint is what makes a replay change nothing."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("gateway", "event_id"),)

    gateway: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(80))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    #: what handling it did: paid, expired, ignored, late_payment, unknown_order, ...
    outcome: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderEmail(IdMixin, db.Model):
    """An order email that was sent; its unique key keeps a task that runs twice from sending twice."""

    __tablename__ = "order_emails"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    #: "confirmation" or "refund:<refund id>"
    key: Mapped[str] = mapped_column(String(60))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("order_id", "key"),)
