"""What the money path posts to the ledger: a paid order's split, the payment provider's fee, refunds and
chargebacks. Called by marketplace.orders inside the transaction that changes the order, so the ledger and
the order never disagree; each posting's key makes a second call for the same event change nothing.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.money import Money, allocate
from marketplace.royalties import ledger
from marketplace.royalties.ledger import Posting
from marketplace.royalties.models import (
    BASIS_POINTS,
    FeeBearer,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)
from marketplace.royalties.splits import Rule, rules_for

#: the transactions whose party entries a refund or chargeback takes back from
REVERSIBLE = (TransactionKind.SALE, TransactionKind.REFUND, TransactionKind.CHARGEBACK)


def allocate_by_weights(amount: int, weights: list[int]) -> list[int]:
    """Split `amount` in proportion to non-negative integer `weights` with the largest-remainder method:
    the parts add up to `amount` exactly, each within one unit of its exact share (ties go to the earlier)."""
    total = sum(weights)
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative and not all zero")
    sign = -1 if amount < 0 else 1
    magnitude = abs(amount)
    parts = [magnitude * w // total for w in weights]
    remainders = [magnitude * w % total for w in weights]
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[: magnitude - sum(parts)]:
        parts[i] += 1
    return [sign * part for part in parts]


def _rule_for(line, rules: dict[int, Rule]) -> Rule:
    rule = rules.get(line.listing_id)
    if rule is not None:
        return rule
    # the listing was deleted before payment: nobody else can be named, the platform holds it for review
    return Rule(None, BASIS_POINTS, FeeBearer.PLATFORM, ())


def sale_postings(order, rules: dict[int, Rule]) -> list[Posting]:
    """Each line's net amount (after its share of the discount) split among its rule's parties and the
    platform with the largest-remainder method, against the buyer's payment in the clearing account."""
    currency = order.currency
    postings: list[Posting] = []
    for line in order.lines:
        rule = _rule_for(line, rules)
        if line.shipping > 0:
            postings.append(_shipping_posting(line, rule, currency))
        if line.total <= 0:
            continue
        shares = [party.bp for party in rule.parties] + [rule.platform_fee_bp]
        parts = allocate(Money(line.total, currency), shares)
        common = {"order_line_id": line.id, "listing_id": line.listing_id, "gross": line.total, "split_id": rule.split_id}
        for party, part in zip(rule.parties, parts):
            postings.append(Posting(ledger.payable(currency, party.user_id, party.brand_id), part.amount,
                                    bp=party.bp, **common))
        postings.append(Posting(ledger.platform_revenue(currency), parts[-1].amount, bp=rule.platform_fee_bp, **common))
    paid = sum(line.total for line in order.lines if line.total > 0) + sum(line.shipping for line in order.lines)
    postings.append(Posting(ledger.gateway_clearing(currency), -paid))
    return postings


def _shipping_posting(line, rule: Rule, currency: str) -> Posting:
    """A line's shipping is not shared: it goes whole to whoever ships it (the platform holds it for review
    when the rule names nobody)."""
    shipper = rule.shipper()
    account = (ledger.payable(currency, shipper.user_id, shipper.brand_id) if shipper is not None
               else ledger.platform_revenue(currency))
    return Posting(account, line.shipping, order_line_id=line.id, listing_id=line.listing_id, gross=line.shipping,
                   split_id=rule.split_id)


def prepared_sale(order, now: datetime) -> ledger.PreparedPosting:
    """The split of the (locked) order just paid, checked and ready to post once (key "sale:order:<id>"), by the
    rules read with the order's lock when they were (orders.services.LockedOrder.rules), else read now."""
    rules = getattr(order, "rules", None)
    if rules is None:
        rules = rules_for({line.listing_id for line in order.lines})
    return ledger.prepare(f"sale:order:{order.id}", TransactionKind.SALE, order.currency, sale_postings(order, rules),
                          now, order_id=order.id, order_number=order.number)


def post_sale(order, now: datetime) -> int | None:
    """The (locked) order was just paid: post its split once (see prepared_sale)."""
    return ledger.post_prepared(prepared_sale(order, now))


def _remaining_by_line(order_id: int, line_ids=None) -> list[tuple[int, int, int | None, int | None, int, int | None]]:
    """What the order's sale still holds per (account, line) after earlier refunds and chargebacks:
    (account_id, order_line_id, listing_id, split_id, remaining, bp), in a stable order."""
    query = (
        select(LedgerEntry.account_id, LedgerEntry.order_line_id, func.max(LedgerEntry.listing_id),
               func.max(LedgerEntry.split_id), func.sum(LedgerEntry.amount), func.max(LedgerEntry.bp),
               func.max(LedgerEntry.gross))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerTransaction.order_id == order_id, LedgerTransaction.kind.in_(REVERSIBLE),
               LedgerEntry.order_line_id.is_not(None))
        .group_by(LedgerEntry.account_id, LedgerEntry.order_line_id)
        .order_by(LedgerEntry.order_line_id, LedgerEntry.account_id)
    )
    if line_ids is not None:
        query = query.where(LedgerEntry.order_line_id.in_(line_ids))
    return [tuple(row) for row in db.session.execute(query)]


def refunded_by_line(order_id: int) -> dict[int, int]:
    """How much of each of the order's lines refunds have given back so far, as the ledger attributed it: a
    refund naming no lines (a partial refund made at the provider) is spread over the lines, and only the
    ledger knows how."""
    query = (
        select(LedgerEntry.order_line_id, func.sum(LedgerEntry.amount))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerTransaction.order_id == order_id, LedgerTransaction.kind == TransactionKind.REFUND,
               LedgerEntry.order_line_id.is_not(None))
        .group_by(LedgerEntry.order_line_id)
    )
    return {line_id: -int(total) for line_id, total in db.session.execute(query)}


def post_reversal(order, kind: str, key: str, amount: int, now: datetime, line_ids=None,
                  refund_id: int | None = None, memo: str | None = None) -> int | None:
    """Take `amount` back from what the order's sale gave each party and the platform, in proportion to what
    each still holds (of the lines `line_ids`, or all), exact to the unit; the money goes to the refunds
    account. A whole line refunded takes back exactly what its sale posted."""
    rows = _remaining_by_line(order.id, line_ids)
    weights = [max(int(row[4]), 0) for row in rows]
    amount = min(amount, sum(weights))
    if amount <= 0:
        return None
    parts = allocate_by_weights(amount, weights)
    account_refs = _refs_by_id({row[0] for row in rows})
    postings = [
        Posting(account_refs[row[0]], -part, order_line_id=row[1], listing_id=row[2], split_id=row[3], bp=row[5],
                gross=int(row[6]) if row[6] is not None else None)
        for row, part in zip(rows, parts) if part
    ]
    postings.append(Posting(ledger.refunds(order.currency), amount))
    return ledger.post(key, kind, order.currency, postings, now, order_id=order.id, order_number=order.number,
                       refund_id=refund_id, memo=memo)


def _refs_by_id(account_ids) -> dict[int, ledger.AccountRef]:
    from marketplace.royalties.models import LedgerAccount

    return {
        account.id: ledger.AccountRef(account.kind, account.currency, account.user_id, account.brand_id)
        for account in db.session.scalars(select(LedgerAccount).where(LedgerAccount.id.in_(account_ids)))
    }


def post_refund(order, refund, lines, now: datetime) -> int | None:
    """A refund of whole `lines` (or, when none are named, of part of the order) was recorded."""
    line_ids = [line.id for line in lines] if lines else None
    return post_reversal(order, TransactionKind.REFUND, f"refund:{refund.id}", refund.amount, now, line_ids,
                         refund_id=refund.id)


def post_chargeback(order, dispute_id: str, amount: int, now: datetime) -> int | None:
    """The buyer's bank took `amount` back (a dispute): reversed like a refund, once per dispute."""
    return post_reversal(order, TransactionKind.CHARGEBACK, f"chargeback:{dispute_id}"[:120], amount, now,
                         memo=f"dispute {dispute_id}"[:255])


def post_gateway_fee(order, fee: int, reference: str | None, now: datetime) -> int | None:
    """The provider kept `fee` of the order's payment. It comes out of the platform's revenue, or out of
    everyone's share where the line's split says the fee is shared (per line in proportion to its amount,
    then by the split's shares). Posted once per order (key "fee:order:<id>")."""
    if fee <= 0:
        return None
    currency = order.currency
    lines = [line for line in order.lines if line.total > 0]
    if not lines:
        return None
    rules = rules_for({line.listing_id for line in lines})
    borne: dict[ledger.AccountRef, int] = defaultdict(int)
    for line, line_fee in zip(lines, allocate_by_weights(fee, [line.total for line in lines])):
        rule = _rule_for(line, rules)
        if rule.gateway_fee_bearer != FeeBearer.SHARED or not rule.parties:
            borne[ledger.platform_revenue(currency)] += line_fee
            continue
        shares = [party.bp for party in rule.parties] + [rule.platform_fee_bp]
        refs = [ledger.payable(currency, p.user_id, p.brand_id) for p in rule.parties] + [ledger.platform_revenue(currency)]
        for ref, part in zip(refs, allocate_by_weights(line_fee, shares)):
            borne[ref] += part
    postings = [Posting(ref, -amount) for ref, amount in borne.items()]
    postings.append(Posting(ledger.gateway_clearing(currency), fee))
    return ledger.post(f"fee:order:{order.id}", TransactionKind.GATEWAY_FEE, currency, postings, now,
                       order_id=order.id, order_number=order.number, memo=(reference or "")[:255] or None)
