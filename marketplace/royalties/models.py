"""Royalties: who shares in a listing's sales (split rules, versioned), the double-entry ledger that records
every sale, fee, refund and payout, and the payout accounts money leaves through.

Ledger sign convention: an entry's amount is signed from its account's point of view, positive when the
account gains. A party's payable balance is the sum of its entries (what Encore owes it); the platform's
revenue likewise. The gateway clearing account is the counter-side of money coming in (a sale posts the
buyer's payment there as a negative amount), and the refunds and payouts accounts collect money leaving.
So every transaction's entries add up to zero per currency, and so does the whole ledger.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DDL, BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Brand, User
from app.db import IdMixin, utcnow
from app.extensions import db
from app.money import Money

BASIS_POINTS = 10_000


# ---------------------------------------------------------------- split rules

class SplitRole(StrEnum):
    CREATOR = "creator"
    CO_BRAND = "co_brand"
    DESIGNER = "designer"
    COLLABORATOR = "collaborator"


class SplitStatus(StrEnum):
    #: waiting for parties to accept their share; sales still use the version before it
    PROPOSED = "proposed"
    #: every party accepted: the version sales use, until a later version becomes active
    ACTIVE = "active"
    #: a later version replaced it (kept: sales made under it point here)
    SUPERSEDED = "superseded"
    #: a party declined or the owner replaced it before it became active
    WITHDRAWN = "withdrawn"


class Fulfiller(StrEnum):
    """Who ships a merch listing's orders (and is paid their shipping)."""

    CREATOR = "creator"
    CO_BRAND = "co_brand"


class FeeBearer(StrEnum):
    #: the platform's revenue bears the payment provider's fee (the default)
    PLATFORM = "platform"
    #: everyone in the split bears it in proportion to their share, the platform included
    SHARED = "shared"


class RoyaltySplit(IdMixin, db.Model):
    """One version of a listing's split. A version never changes once made: a change is a new version, and a
    sale records the version it was split by."""

    __tablename__ = "royalty_splits"
    __table_args__ = (
        UniqueConstraint("listing_id", "version"),
        CheckConstraint(f"platform_fee_bp >= 0 AND platform_fee_bp <= {BASIS_POINTS}", name="fee_range"),
    )

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=SplitStatus.PROPOSED, index=True)
    platform_fee_bp: Mapped[int]
    gateway_fee_bearer: Mapped[str] = mapped_column(String(20), default=FeeBearer.PLATFORM)
    #: who ships the listing's merch and is paid its shipping: the owning streamer, or the co-brand
    fulfilled_by: Mapped[str] = mapped_column(String(20), default=Fulfiller.CREATOR, server_default="creator")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]
    #: why a proposed version was withdrawn (a party declined), shown to the owner
    note: Mapped[str | None] = mapped_column(Text)

    parties: Mapped[list[SplitParty]] = relationship(
        back_populates="split", cascade="all, delete-orphan", order_by="SplitParty.position"
    )
    created_by: Mapped[User | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status == SplitStatus.ACTIVE

    @property
    def waiting_for(self) -> list[SplitParty]:
        return [party for party in self.parties if party.accepted_at is None]

    def __repr__(self) -> str:
        return f"<RoyaltySplit listing={self.listing_id} v{self.version} {self.status}>"


class SplitParty(IdMixin, db.Model):
    """A user or a brand with a share of a split version, in basis points of each line's net amount."""

    __tablename__ = "royalty_split_parties"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (brand_id IS NULL)", name="one_party"),
        CheckConstraint(f"bp >= 0 AND bp <= {BASIS_POINTS}", name="bp_range"),
        UniqueConstraint("split_id", "user_id"),
        UniqueConstraint("split_id", "brand_id"),
    )

    split_id: Mapped[int] = mapped_column(ForeignKey("royalty_splits.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="RESTRICT"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    bp: Mapped[int]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    split: Mapped[RoyaltySplit] = relationship(back_populates="parties")
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    brand: Mapped[Brand | None] = relationship()

    @property
    def party_key(self) -> str:
        return party_key(self.user_id, self.brand_id)

    @property
    def name(self) -> str:
        if self.brand is not None:
            return self.brand.name
        return self.user.display_name if self.user is not None else "?"


class ListingPlatformFee(db.Model):
    """An operator's platform fee for one listing, instead of ENCORE_PLATFORM_FEE_BP."""

    __tablename__ = "royalty_listing_fees"
    __table_args__ = (CheckConstraint(f"bp >= 0 AND bp <= {BASIS_POINTS}", name="bp_range"),)

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    bp: Mapped[int]
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


def party_key(user_id: int | None, brand_id: int | None) -> str:
    return f"brand:{brand_id}" if brand_id is not None else f"user:{user_id}"


# ---------------------------------------------------------------- ledger

class AccountKind(StrEnum):
    #: what Encore owes a user or a brand
    PAYABLE = "payable"
    #: the platform's fees, less the payment fees it bears
    PLATFORM_REVENUE = "platform_revenue"
    #: money the payment provider collected for Encore (negative: it is the other side of every sale)
    GATEWAY_CLEARING = "gateway_clearing"
    #: money given back to buyers (refunds and chargebacks)
    REFUNDS = "refunds"
    #: money paid out to parties
    PAYOUTS = "payouts"


class LedgerAccount(IdMixin, db.Model):
    __tablename__ = "ledger_accounts"

    #: unique name, e.g. "payable:user:12:CNY", "payable:brand:3:USD", "platform_revenue:CNY"
    key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    currency: Mapped[str] = mapped_column(String(3))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()
    brand: Mapped[Brand | None] = relationship()


class TransactionKind(StrEnum):
    SALE = "sale"
    GATEWAY_FEE = "gateway_fee"
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    PAYOUT = "payout"
    #: a payout the provider refused for good: its money goes back to the balance
    PAYOUT_REVERSAL = "payout_reversal"
    ADJUSTMENT = "adjustment"


class LedgerTransaction(IdMixin, db.Model):
    """One balanced posting. Its unique `key` (e.g. "sale:order:42", "refund:7", "payout:3") makes posting
    the same event twice impossible."""

    __tablename__ = "ledger_transactions"

    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="RESTRICT"), index=True)
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id", ondelete="RESTRICT"), index=True)
    memo: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    entries: Mapped[list[LedgerEntry]] = relationship(back_populates="transaction", order_by="LedgerEntry.id")


class LedgerEntry(IdMixin, db.Model):
    """One account's side of a transaction. Never updated or deleted: see `refuse_ledger_changes` and, on
    PostgreSQL, the trigger `ledger_immutable`."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        # A party's statement and balance read its entries in time order through this index alone: on
        # PostgreSQL it carries every column a statement line shows (an index-only scan, no table reads)
        Index("ix_ledger_entries_statement", "account_id", "created_at", "id",
              postgresql_include=["kind", "amount", "gross", "bp", "listing_id", "order_id", "order_number",
                                  "payout_id"]),
    )

    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id", ondelete="RESTRICT"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: copied from the transaction so a statement reads one table
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    #: for sale, fee and refund entries: the order line, its listing, the line's net amount the share was
    #: taken from, the share in basis points, and the split version
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id", ondelete="RESTRICT"), index=True)
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id", ondelete="SET NULL"), index=True)
    gross: Mapped[int | None] = mapped_column(BigInteger)
    bp: Mapped[int | None]
    split_id: Mapped[int | None] = mapped_column(ForeignKey("royalty_splits.id", ondelete="RESTRICT"))
    # Copied from the transaction (and its order's number) when posted, so a statement line needs no join;
    # the transaction's own columns carry the foreign keys.
    order_id: Mapped[int | None]
    order_number: Mapped[str | None] = mapped_column(String(24))
    payout_id: Mapped[int | None]

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship()

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


#: PostgreSQL refuses any UPDATE or DELETE of a ledger row, whatever code (or person) sends it. TRUNCATE,
#: which only the test suite uses between tests, fires no row trigger.
IMMUTABLE_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
        MESSAGE = 'ledger rows are immutable: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' refused';
END;
$$ LANGUAGE plpgsql
"""
IMMUTABLE_TRIGGER = (
    "CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION ledger_immutable()"
)
IMMUTABLE_TABLES = ("ledger_transactions", "ledger_entries")

event.listen(
    LedgerTransaction.__table__, "after_create", DDL(IMMUTABLE_FUNCTION).execute_if(dialect="postgresql")
)
for _table in (LedgerTransaction.__table__, LedgerEntry.__table__):
    event.listen(_table, "after_create", DDL(IMMUTABLE_TRIGGER.format(table=_table.name)).execute_if(dialect="postgresql"))


# ---------------------------------------------------------------- payouts

class PayoutProvider(StrEnum):
    STRIPE = "stripe"
    LOCAL = "local"


class PayoutAccount(IdMixin, db.Model):
    """Where a user's or a brand's money is paid: a Stripe Connect account, or (local gateway) a recorded one."""

    __tablename__ = "payout_accounts"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (brand_id IS NULL)", name="one_owner"),
        UniqueConstraint("user_id"),
        UniqueConstraint("brand_id"),
    )

    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    #: Stripe: the connected account id (acct_...); local: what the party calls the account
    external_id: Mapped[str] = mapped_column(String(255))
    connected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PayoutStatus(StrEnum):
    #: posted to the ledger, the money not yet sent (or the provider's answer not yet recorded)
    PENDING = "pending"
    PAID = "paid"
    #: the provider refused for good; a reversal gave the money back to the balance
    FAILED = "failed"


class Payout(IdMixin, db.Model):
    """Money moved out of a party's balance. Posted to the ledger when created (so the balance is never paid
    twice); sent to the provider with an idempotency key made from its id, so a retry never sends twice."""

    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("(user_id IS NULL) <> (brand_id IS NULL)", name="one_owner"),
    )

    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id", ondelete="RESTRICT"), index=True)
    ledger_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id", ondelete="RESTRICT"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default=PayoutStatus.PENDING, index=True)
    provider: Mapped[str] = mapped_column(String(20))
    #: the payout account's id at the time (a later change of account does not redirect this payout)
    destination: Mapped[str] = mapped_column(String(255))
    #: the provider's id of the money movement (Stripe: tr_...)
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    paid_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    brand: Mapped[Brand | None] = relationship()

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)
