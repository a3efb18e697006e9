"""What the earnings dashboards read: a party's earnings per day, week or month, its best-selling listings and
latest ledger lines, and the platform's totals with the whole-ledger check for operators.

Read-only: nothing here posts or commits. Each function is one or two grouped queries over the entries of one
account (through ix_ledger_entries_statement), never a query per row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import func, select

from app.extensions import db
from app.money import Money
from marketplace.catalog.models import Listing
from marketplace.royalties import ledger
from marketplace.royalties.models import AccountKind, LedgerEntry, TransactionKind
from marketplace.royalties.parties import Party

GRAINS = ("day", "week", "month")
#: entry kinds that take money back from a party: shown as "refunded", a positive amount
REFUND_KINDS = (TransactionKind.REFUND, TransactionKind.CHARGEBACK)


class Period(NamedTuple):
    """One bar of the chart: the period's first day, what was earned and what refunds took back (positive)."""

    start: date
    earned: Money
    refunded: Money


class TopListing(NamedTuple):
    listing_id: int | None
    title: str
    earned: Money
    #: how many order lines paid the party for this listing
    sales: int


@dataclass(frozen=True)
class LedgerLine:
    """One of the party's entries as the dashboard lists it."""

    entry_id: int
    created_at: datetime
    kind: str
    order_number: str | None
    listing_id: int | None
    listing_title: str | None
    amount: Money


@dataclass(frozen=True)
class CurrencySummary:
    """The platform's side of the ledger in one currency."""

    currency: str
    platform_revenue: Money
    #: what Encore owes parties: the sum of every payable balance
    liabilities: Money
    refunds: Money
    payouts: Money
    clearing: Money


@dataclass(frozen=True)
class PlatformSummary:
    currencies: list[CurrencySummary]
    check: ledger.LedgerCheck

    @property
    def sums_to_zero(self) -> bool:
        return self.check.sums_to_zero


# ---------------------------------------------------------------- periods

def period_start(day: date, grain: str) -> date:
    """The first day of the period holding `day`: itself, its week's Monday, or the first of its month."""
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown grain {grain!r}; one of {', '.join(GRAINS)}")


def _previous_start(start: date, grain: str) -> date:
    if grain == "day":
        return start - timedelta(days=1)
    if grain == "week":
        return start - timedelta(days=7)
    return (start - timedelta(days=1)).replace(day=1)


def period_starts(grain: str, periods: int, today: date) -> list[date]:
    """The first days of the `periods` periods up to and including today's, oldest first."""
    starts = [period_start(today, grain)]
    while len(starts) < periods:
        starts.append(_previous_start(starts[-1], grain))
    return starts[::-1]


def _utc_day():
    """The UTC calendar day of an entry, as SQL; PostgreSQL's date() would use the session's time zone."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", LedgerEntry.created_at))
    return func.date(LedgerEntry.created_at)


def _as_date(value) -> date:
    # SQLite answers date() with text, PostgreSQL with a date
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def account_series(account_id: int | None, currency: str, grain: str, periods: int, today: date) -> list[Period]:
    """Sales and refunds of one account per period (empty periods are zero), from one grouped-by-day query."""
    if periods < 1:
        raise ValueError("at least one period")
    starts = period_starts(grain, periods, today)
    earned = dict.fromkeys(starts, 0)
    refunded = dict.fromkeys(starts, 0)
    if account_id is not None:
        day = _utc_day()
        rows = db.session.execute(
            select(day, LedgerEntry.kind, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.account_id == account_id,
                   LedgerEntry.kind.in_([TransactionKind.SALE, *REFUND_KINDS]),
                   LedgerEntry.created_at >= _midnight(starts[0]),
                   LedgerEntry.created_at < _midnight(today + timedelta(days=1)))
            .group_by(day, LedgerEntry.kind)
        )
        for day_value, kind, amount in rows:
            start = period_start(_as_date(day_value), grain)
            if start not in earned:
                continue
            if kind == TransactionKind.SALE:
                earned[start] += int(amount)
            else:
                refunded[start] -= int(amount)
    return [Period(start, Money(earned[start], currency), Money(refunded[start], currency)) for start in starts]


def party_account_id(party: Party, currency: str) -> int | None:
    """The party's payable account in `currency`, or None when it never earned in it."""
    return ledger.find_account(ledger.payable(currency, party.user_id, party.brand_id))


def earnings_series(party: Party, currency: str, grain: str, periods: int, today: date) -> list[Period]:
    """The party's earnings (sale entries) and refunds (refund and chargeback entries, as a positive amount) per
    day, week (from Monday) or month: `periods` periods ending with today's, oldest first."""
    return account_series(party_account_id(party, currency), currency, grain, periods, today)


def platform_series(currency: str, grain: str, periods: int, today: date) -> list[Period]:
    """The platform's revenue from sales and what refunds took back of it, per period."""
    return account_series(ledger.find_account(ledger.platform_revenue(currency)), currency, grain, periods, today)


# ---------------------------------------------------------------- listings and lines

def top_listings(party: Party, currency: str, limit: int = 5, since: datetime | None = None) -> list[TopListing]:
    """The listings that earned the party the most (sales only), with how many sale lines each had."""
    account_id = party_account_id(party, currency)
    if account_id is None:
        return []
    earned = func.sum(LedgerEntry.amount).label("earned")
    query = (
        select(LedgerEntry.listing_id, Listing.title, earned, func.count(LedgerEntry.id))
        .outerjoin(Listing, Listing.id == LedgerEntry.listing_id)
        .where(LedgerEntry.account_id == account_id, LedgerEntry.kind == TransactionKind.SALE)
        .group_by(LedgerEntry.listing_id, Listing.title)
        .order_by(earned.desc(), Listing.title, LedgerEntry.listing_id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    return [TopListing(listing_id, title or "", Money(int(amount), currency), int(count))
            for listing_id, title, amount, count in db.session.execute(query)]


def recent_lines(party: Party, currency: str, limit: int = 20) -> list[LedgerLine]:
    """The party's latest entries in `currency`, newest first, with their order number and listing title."""
    account_id = party_account_id(party, currency)
    if account_id is None:
        return []
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.order_number,
               LedgerEntry.listing_id, Listing.title, LedgerEntry.amount)
        .outerjoin(Listing, Listing.id == LedgerEntry.listing_id)
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(limit)
    )
    return [LedgerLine(entry_id, created_at, kind, number, listing_id, title, Money(int(amount), currency))
            for entry_id, created_at, kind, number, listing_id, title, amount in rows]


def party_currencies(party: Party) -> list[str]:
    """The currencies the party has a payable account in, alphabetically."""
    return [account.currency for account in ledger.party_accounts(party.user_id, party.brand_id)]


# ---------------------------------------------------------------- the platform

def platform_summary() -> PlatformSummary:
    """Per currency: the platform's revenue, what it owes parties, refunds, payouts and the gateway clearing
    account; and the whole-ledger check (every transaction and every currency sums to zero)."""
    check = ledger.check_ledger()

    def money(currency: str, kind: str) -> Money:
        return Money(check.total(currency, kind), currency)

    currencies = [
        CurrencySummary(
            currency=currency,
            platform_revenue=money(currency, AccountKind.PLATFORM_REVENUE),
            liabilities=money(currency, AccountKind.PAYABLE),
            refunds=money(currency, AccountKind.REFUNDS),
            payouts=money(currency, AccountKind.PAYOUTS),
            clearing=money(currency, AccountKind.GATEWAY_CLEARING),
        )
        for currency in sorted(check.totals)
    ]
    return PlatformSummary(currencies, check)
