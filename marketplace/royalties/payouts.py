"""Payouts: where a user's or a brand's money goes (a payout account), taking a balance out of the ledger
(a payout), and sending it (a Stripe Connect transfer, or a recorded payout with the local gateway).

The order of things is what keeps a payout from being paid twice or lost:
1. `request_payout` locks the party's payable ledger account row, reads its balance, creates the pending
   Payout and posts `payout:<id>` (payable −amount, payouts +amount) in one transaction. A second request
   waiting on the lock then sees the balance already taken.
2. `send_payout` commits nothing new before it calls the provider, and every call for one payout carries the
   same idempotency key (`encore-payout-<id>`), so a retry after a timeout, a crash or a killed worker finds
   the transfer Stripe already made instead of making another. The answer is recorded in a second
   transaction, and only while the payout is still pending.
3. A refusal for good (the account is gone) fails the payout and posts `payout_reversal:<id>`, which gives the
   money back to the balance; an unreachable provider leaves it pending for `retry_pending_payouts`.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from app.accounts.models import BrandMembership, User
from app.errors import Conflict, PermissionDenied, ValidationFailed
from app.extensions import db
from app.i18n import format_money
from app.money import Money, MoneyError, check_currency
from marketplace.payments.gateway import GatewayUnavailable, PayoutRefused
from marketplace.royalties import ledger
from marketplace.royalties.ledger import Posting
from marketplace.royalties.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    Payout,
    PayoutAccount,
    PayoutProvider,
    PayoutStatus,
    TransactionKind,
)
from marketplace.royalties.parties import Party

log = logging.getLogger(__name__)

STRIPE_ACCOUNT_PATTERN = re.compile(r"^acct_[A-Za-z0-9]{6,}$")
LOCAL_LABEL_MIN, LOCAL_LABEL_MAX = 3, 80
#: a pending payout younger than this is probably being sent right now; the retry sweep leaves it alone
RETRY_AFTER = timedelta(minutes=2)
#: Stripe forgets an idempotency key after 24 hours: a payout pending that long is no longer sent automatically
#: (a retry could then pay twice); the operators' page shows it and a person checks it at Stripe
STALE_AFTER = timedelta(hours=23)


# ---------------------------------------------------------------- settings and reading

def payout_minimum() -> int:
    """A balance is paid out once it reaches this many minor units (of whatever currency)."""
    return int(current_app.config["ENCORE_PAYOUT_MINIMUM"])


def payout_mode() -> str:
    """Payouts use the payment gateway's mode: "stripe" (Connect transfers) or "local" (recorded)."""
    return PayoutProvider.STRIPE if current_app.config["ENCORE_PAYMENT_GATEWAY"] == "stripe" else PayoutProvider.LOCAL


def _owned_by(model, party: Party):
    return model.brand_id == party.brand_id if party.is_brand else model.user_id == party.user_id


def payout_account(party: Party) -> PayoutAccount | None:
    return db.session.scalar(select(PayoutAccount).where(_owned_by(PayoutAccount, party)))


def payouts_of(party: Party, limit: int = 200) -> list[Payout]:
    return list(db.session.scalars(
        select(Payout).where(_owned_by(Payout, party)).order_by(Payout.created_at.desc(), Payout.id.desc()).limit(limit)
    ))


def all_payouts(status: str | None = None, limit: int = 500) -> list[Payout]:
    """Every party's payouts for operators, newest first (failed ones are what they look for)."""
    query = select(Payout).order_by(Payout.created_at.desc(), Payout.id.desc()).limit(limit)
    if status:
        query = query.where(Payout.status == status)
    return list(db.session.scalars(query))


def may_act_for(user: User, party: Party) -> bool:
    """The user themself, or an owner or member of the brand. Operators read every payout but move nobody's
    money: they run the payout job, which pays every party alike."""
    if not party.is_brand:
        return party.user_id == user.id
    return db.session.scalar(select(BrandMembership.id).where(
        BrandMembership.brand_id == party.brand_id, BrandMembership.user_id == user.id)) is not None


def _require_acts_for(user: User, party: Party) -> None:
    if not may_act_for(user, party):
        if party.is_brand:
            raise PermissionDenied(_("Only members of this brand can manage its payouts."))
        raise PermissionDenied(_("You can only manage your own payouts."))


@dataclass(frozen=True)
class PayoutOption:
    """One currency of a party's balance on the payouts page: what a payout now would send, or why not."""

    balance: Money
    #: why "Pay out now" is disabled; None when a payout can be requested
    blocked_reason: str | None

    @property
    def can_pay_out(self) -> bool:
        return self.blocked_reason is None


def minimum_text(currency: str) -> str:
    return format_money(Money(payout_minimum(), currency))


def payout_options(party: Party) -> list[PayoutOption]:
    account = payout_account(party)
    options = []
    for balance in ledger.party_balances(user_id=party.user_id, brand_id=party.brand_id):
        reason = _refusal(balance, account)
        options.append(PayoutOption(balance, reason))
    return options


def _refusal(balance: Money, account: PayoutAccount | None) -> str | None:
    """Why this balance cannot be paid out now, in words; None when it can."""
    if account is None:
        return _("Connect a payout account first.")
    if account.provider != payout_mode():
        return _("Connect your payout account again: payouts now go through another provider.")
    if balance.amount <= 0:
        return _("There is nothing to pay out.")
    if balance.amount < payout_minimum():
        return _("Payouts start at %(minimum)s; this balance is %(balance)s.",
                 minimum=minimum_text(balance.currency), balance=format_money(balance))
    return None


# ---------------------------------------------------------------- payout accounts

def connect_account(user: User, party: Party, value: str | None, now: datetime) -> PayoutAccount:
    """Record where the party's money is paid (replacing the account it had). Stripe mode: a Connect
    account id Stripe knows; local mode: a label of 3–80 characters.
    :raise 403: not the user nor a member of the brand :raise 422: a malformed or unknown account
    :raise 502: Stripe could not be asked"""
    _require_acts_for(user, party)
    value = (value or "").strip()
    mode = payout_mode()
    if mode == PayoutProvider.STRIPE:
        if not STRIPE_ACCOUNT_PATTERN.match(value):
            raise ValidationFailed.one("external_id", _("A Stripe account id looks like acct_1A2b3C4d5E."))
        from marketplace.payments import get_gateway

        try:
            get_gateway().connected_account(value)
        except PayoutRefused:
            raise ValidationFailed.one("external_id", _("Stripe does not know this account.")) from None
    elif not LOCAL_LABEL_MIN <= len(value) <= LOCAL_LABEL_MAX:
        raise ValidationFailed.one("external_id", _("Name the account in %(min)d to %(max)d characters.",
                                                    min=LOCAL_LABEL_MIN, max=LOCAL_LABEL_MAX))
    account = db.session.scalar(select(PayoutAccount).where(_owned_by(PayoutAccount, party)).with_for_update())
    if account is None:
        from marketplace.orders.services import insert_once

        # two first connects at once: one insert wins, the other updates the row it made
        insert_once(PayoutAccount, ("brand_id",) if party.is_brand else ("user_id",), user_id=party.user_id,
                    brand_id=party.brand_id, provider=str(mode), external_id=value, connected_by_id=user.id,
                    created_at=now, updated_at=now)
        account = db.session.scalar(select(PayoutAccount).where(_owned_by(PayoutAccount, party))
                                    .with_for_update().execution_options(populate_existing=True))
    account.provider = str(mode)
    account.external_id = value
    account.connected_by_id = user.id
    account.updated_at = now
    db.session.flush()
    return account


# ---------------------------------------------------------------- taking a balance out

def _checked_currency(currency) -> str:
    try:
        return check_currency(currency if isinstance(currency, str) else "")
    except MoneyError:
        raise ValidationFailed.one("currency", _("Choose one of the currencies Encore pays in.")) from None


def request_payout(user: User, party: Party, currency, now: datetime) -> Payout:
    """Take the party's whole balance in `currency` out of the ledger as a pending payout.
    :raise 403: someone else's balance :raise 422: an unknown currency
    :raise 409: no payout account, nothing to pay, or less than the minimum"""
    _require_acts_for(user, party)
    currency = _checked_currency(currency)
    account = payout_account(party)
    if account is None:
        raise Conflict(_("Connect a payout account first."))
    return _take_balance(party.user_id, party.brand_id, currency, account, now, requested_by=user)


def _take_balance(user_id: int | None, brand_id: int | None, currency: str, account: PayoutAccount, now: datetime,
                  requested_by: User | None) -> Payout:
    if account.provider != payout_mode():
        raise Conflict(_("Connect your payout account again: payouts now go through another provider."))
    ledger_account_id = ledger.find_account(ledger.payable(currency, user_id, brand_id))
    if ledger_account_id is None:
        raise Conflict(_("There is nothing to pay out."))
    # the lock makes requests for one balance take turns: the next one reads the balance this one reduced
    db.session.execute(select(LedgerAccount.id).where(LedgerAccount.id == ledger_account_id).with_for_update())
    balance = ledger.account_balance(ledger_account_id)
    if balance <= 0:
        raise Conflict(_("There is nothing to pay out."))
    if balance < payout_minimum():
        raise Conflict(_("Payouts start at %(minimum)s; this balance is %(balance)s.",
                         minimum=minimum_text(currency), balance=format_money(Money(balance, currency))))
    payout = Payout(user_id=user_id, brand_id=brand_id, ledger_account_id=ledger_account_id, currency=currency,
                    amount=balance, status=PayoutStatus.PENDING, provider=account.provider,
                    destination=account.external_id, attempts=0,
                    requested_by_id=requested_by.id if requested_by is not None else None, created_at=now)
    db.session.add(payout)
    db.session.flush()
    ledger.post(f"payout:{payout.id}", TransactionKind.PAYOUT, currency, [
        Posting(ledger.payable(currency, user_id, brand_id), -balance),
        Posting(ledger.payouts(currency), balance),
    ], now, payout_id=payout.id, memo=f"payout to {account.external_id}"[:255])
    return payout


def due_balances() -> list[tuple[int | None, int | None, str]]:
    """(user_id, brand_id, currency) of every payable balance at or above the minimum whose owner has a
    payout account in the current mode."""
    total = func.sum(LedgerEntry.amount)
    rows = db.session.execute(
        select(LedgerAccount.user_id, LedgerAccount.brand_id, LedgerAccount.currency)
        .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(PayoutAccount, or_(
            (PayoutAccount.user_id == LedgerAccount.user_id) & LedgerAccount.user_id.is_not(None),
            (PayoutAccount.brand_id == LedgerAccount.brand_id) & LedgerAccount.brand_id.is_not(None),
        ))
        .where(LedgerAccount.kind == AccountKind.PAYABLE, PayoutAccount.provider == str(payout_mode()))
        .group_by(LedgerAccount.id, LedgerAccount.user_id, LedgerAccount.brand_id, LedgerAccount.currency)
        .having(total >= payout_minimum())
        .order_by(LedgerAccount.id)
    ).all()
    return [tuple(row) for row in rows]


def create_due_payouts(now: datetime) -> list[int]:
    """A pending payout for every due balance, each committed on its own (one party's trouble stops nobody
    else's payout); answers the new payouts' ids."""
    created = []
    for user_id, brand_id, currency in due_balances():
        account = db.session.scalar(select(PayoutAccount).where(
            PayoutAccount.brand_id == brand_id if brand_id is not None else PayoutAccount.user_id == user_id))
        try:
            payout = _take_balance(user_id, brand_id, currency, account, now, requested_by=None)
        except Conflict:
            # a request by the party itself took the balance in the meantime
            db.session.rollback()
            continue
        created.append(payout.id)
        db.session.commit()
    return created


def run_payouts(now: datetime) -> list[int]:
    """Pay out every due balance: create the payouts, then send each. Answers the new payouts' ids."""
    created = create_due_payouts(now)
    for payout_id in created:
        try:
            send_payout(payout_id, now)
        except GatewayUnavailable:
            pass  # recorded on the payout; retry_pending_payouts sends it again
    return created


# ---------------------------------------------------------------- sending

def _locked_payout(payout_id: int) -> Payout | None:
    return db.session.scalar(select(Payout).where(Payout.id == payout_id).with_for_update()
                             .execution_options(populate_existing=True))


def send_payout(payout_id: int, now: datetime) -> str:
    """Send a pending payout to its provider and record the answer; answers the payout's status afterwards
    ("missing" for an unknown id). A payout that is not pending is never sent.
    :raise GatewayUnavailable: the provider did not answer (recorded on the payout, which stays pending)"""
    payout = _locked_payout(payout_id)
    if payout is None:
        db.session.rollback()
        return "missing"
    if payout.status != PayoutStatus.PENDING:
        status = payout.status
        db.session.rollback()
        return status
    if payout.provider == PayoutProvider.LOCAL:
        # nothing leaves Encore in local mode: the payout is recorded as paid at once
        _mark_paid(payout, f"local_{payout.id}", now)
        db.session.commit()
        return PayoutStatus.PAID
    request = (payout.id, payout.amount, payout.currency, payout.destination,
               {"party": f"brand:{payout.brand_id}" if payout.brand_id else f"user:{payout.user_id}"})
    # the payout (and its ledger posting) is committed before the provider hears of it; nothing is held locked
    # while the provider answers
    db.session.commit()
    from marketplace.payments import get_gateway

    gateway = get_gateway()
    try:
        if gateway.name != PayoutProvider.STRIPE:
            raise GatewayUnavailable(_("Payouts to Stripe wait until the Stripe gateway is configured again."))
        reference = gateway.transfer(*request)
    except PayoutRefused as refusal:
        return _record_refusal(payout_id, refusal.message, now)
    except GatewayUnavailable as error:
        _record_attempt(payout_id, error.message)
        raise
    payout = _locked_payout(payout_id)
    if payout is not None and payout.status == PayoutStatus.PENDING:
        payout.attempts += 1
        _mark_paid(payout, reference, now)
    status = payout.status if payout is not None else "missing"
    db.session.commit()
    return status


def _mark_paid(payout: Payout, reference: str, now: datetime) -> None:
    payout.status = PayoutStatus.PAID
    payout.provider_reference = reference
    payout.paid_at = now
    payout.last_error = None


def _record_attempt(payout_id: int, message: str) -> None:
    payout = _locked_payout(payout_id)
    if payout is not None and payout.status == PayoutStatus.PENDING:
        payout.attempts += 1
        payout.last_error = message[:2000]
    db.session.commit()


def _record_refusal(payout_id: int, message: str, now: datetime) -> str:
    """The provider refused for good: the payout fails and its money goes back to the party's balance."""
    payout = _locked_payout(payout_id)
    if payout is None or payout.status != PayoutStatus.PENDING:
        status = payout.status if payout is not None else "missing"
        db.session.rollback()
        return status
    payout.status = PayoutStatus.FAILED
    payout.failed_at = now
    payout.attempts += 1
    payout.last_error = message[:2000]
    currency = payout.currency
    ledger.post(f"payout_reversal:{payout.id}", TransactionKind.PAYOUT_REVERSAL, currency, [
        Posting(ledger.payable(currency, payout.user_id, payout.brand_id), payout.amount),
        Posting(ledger.payouts(currency), -payout.amount),
    ], now, payout_id=payout.id, memo="refused by the provider")
    db.session.commit()
    log.warning("payout %s was refused and reversed: %s", payout_id, message)
    return PayoutStatus.FAILED


def pending_to_retry(now: datetime, limit: int = 500) -> list[int]:
    """Pending payouts old enough that no worker is still sending them, and young enough that Stripe still
    knows their idempotency key."""
    return list(db.session.scalars(
        select(Payout.id).where(Payout.status == PayoutStatus.PENDING, Payout.created_at <= now - RETRY_AFTER,
                                Payout.created_at > now - STALE_AFTER)
        .order_by(Payout.id).limit(limit)
    ))


def retry_pending_payouts(now: datetime) -> dict:
    """Send again every pending payout an earlier attempt left pending; answers counts per outcome."""
    outcomes: dict[str, int] = {}
    for payout_id in pending_to_retry(now):
        try:
            status = send_payout(payout_id, now)
        except GatewayUnavailable:
            status = "unavailable"
        outcomes[status] = outcomes.get(status, 0) + 1
    stale = db.session.scalar(select(func.count(Payout.id)).where(
        Payout.status == PayoutStatus.PENDING, Payout.created_at <= now - STALE_AFTER))
    db.session.rollback()
    if stale:
        log.error("%s payout(s) pending for more than %s: check them at Stripe before sending again", stale, STALE_AFTER)
    return outcomes
