"""Order rules: checkout, the payment states, fulfilment, refunds and who may see what.

Functions take explicit arguments and never read the request; writes flush, the caller commits. Every
change of an order's state locks the order row first (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
write lock is taken when the transaction begins), so two events about one order apply one after another.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import ARRAY, Integer, any_, bindparam, func, insert, inspect, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.accounts.models import User
from app.db import DirectStatement, detached_as_loaded, utcnow
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.i18n import format_money
from app.money import SUPPORTED_CURRENCIES, Money
from marketplace import kinds
from marketplace.cart import services as cart_services
from marketplace.cart.models import Cart, CartLine
from marketplace.catalog.models import Listing
from marketplace.discounts import services as discount_services
from marketplace.orders.models import (
    CLOSED_UNPAID_STATES,
    PAID_STATES,
    Order,
    OrderEmail,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    PaymentEvent,
    Refund,
    RefundLine,
)
from marketplace.payments.gateway import CheckoutLine, PaymentRequest, RefundRequest

if TYPE_CHECKING:
    from marketplace.royalties.ledger import PreparedPosting

#: Crockford's base 32 without look-alikes: order numbers are read aloud to support
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_REASON_LENGTH = 500


# ---------------------------------------------------------------- wording

def status_label(status: str) -> str:
    return {
        OrderStatus.PENDING_PAYMENT: _("Awaiting payment"),
        OrderStatus.PAID: _("Paid"),
        OrderStatus.FULFILLED: _("Fulfilled"),
        OrderStatus.PARTIALLY_REFUNDED: _("Partially refunded"),
        OrderStatus.REFUNDED: _("Refunded"),
        OrderStatus.CANCELLED: _("Cancelled"),
        OrderStatus.EXPIRED: _("Expired"),
    }.get(status, status)


class HistoryNote:
    """Codes stored with a status change, worded when read so each reader sees their own language."""

    CHECKOUT = "checkout"
    PAYMENT_FAILED = "payment_failed"
    LATE_PAYMENT = "late_payment"
    GOODS_GONE = "goods_gone"
    AMOUNT_MISMATCH = "amount_mismatch"
    CANCELLED_BY_BUYER = "cancelled_by_buyer"
    EXPIRED_UNPAID = "expired_unpaid"
    REFUND = "refund"
    EXTERNAL_REFUND = "external_refund"
    FULFILLED = "fulfilled"
    CHARGEBACK = "chargeback"
    SOLD_OUT_REFUND = "sold_out_refund"
    SHIPPED = "shipped"


def _money_param(params: dict, name: str) -> str:
    """An amount stored as minor units with the note's currency, formatted for the reader."""
    value, currency = params.get(name), params.get("currency")
    if isinstance(value, int) and currency:
        return format_money(Money(value, currency))
    return str(value) if value is not None else "-"


def describe_note(change: OrderStatusChange) -> str:
    params = change.note_params or {}
    code = change.note
    if code == HistoryNote.CHECKOUT:
        return _("Order placed.")
    if code == HistoryNote.PAYMENT_FAILED:
        return _("A payment attempt failed: %(message)s", message=params.get("message") or "-")
    if code == HistoryNote.LATE_PAYMENT:
        return _("The payment arrived after the order had closed; an operator will check it.")
    if code == HistoryNote.GOODS_GONE:
        return _("The payment arrived after the reserved items were released and they sold out meanwhile; "
                 "it is refunded automatically.")
    if code == HistoryNote.SOLD_OUT_REFUND:
        return _("Refunded %(amount)s automatically: the items sold out before the payment arrived.",
                 amount=_money_param(params, "amount"))
    if code == HistoryNote.AMOUNT_MISMATCH:
        return _("The payment (%(got)s) does not match the order total (%(expected)s); an operator will check it.",
                 got=_money_param(params, "got"), expected=_money_param(params, "expected"))
    if code == HistoryNote.CANCELLED_BY_BUYER:
        return _("Cancelled by the buyer.")
    if code == HistoryNote.EXPIRED_UNPAID:
        return _("No payment arrived in time.")
    if code == HistoryNote.REFUND:
        return _("Refunded %(amount)s: %(reason)s", amount=_money_param(params, "amount"), reason=params.get("reason") or "-")
    if code == HistoryNote.EXTERNAL_REFUND:
        return _("Refunded %(amount)s at the payment provider.", amount=_money_param(params, "amount"))
    if code == HistoryNote.FULFILLED:
        return _("Everything in the order was delivered.")
    if code == HistoryNote.SHIPPED:
        return _("Shipped by %(carrier)s, tracking number %(tracking_number)s.",
                 carrier=params.get("carrier") or "-", tracking_number=params.get("tracking_number") or "-")
    if code == HistoryNote.CHARGEBACK:
        return _("The buyer's bank took back %(amount)s (a dispute); an operator will look at it.",
                 amount=_money_param(params, "amount"))
    return code or ""


# ---------------------------------------------------------------- small helpers

def new_order_number(now: datetime) -> str:
    return f"EN-{now:%y%m%d}-" + "".join(secrets.choice(NUMBER_ALPHABET) for _i in range(6))


def _record(order: Order, to_status: str, actor=None, note: str | None = None, at: datetime | None = None,
            **params) -> None:
    """A history row for the order; `at` is when the change happened (default: now)."""
    change = OrderStatusChange(
        from_status=order.status if order.id else None, to_status=to_status,
        actor_id=getattr(actor, "id", None), note=note, note_params=params or None,
        **({"created_at": at} if at is not None else {}),
    )
    if order.id is None:
        order.status_changes.append(change)
    else:  # appending would load the whole history first
        change.order_id = order.id
        db.session.add(change)
        if "status_changes" in order.__dict__:
            set_committed_value(order, "status_changes", [*order.status_changes, change])


def _move(order: Order, to_status: str, actor=None, note: str | None = None, at: datetime | None = None,
          **params) -> None:
    _record(order, to_status, actor, note, at, **params)
    order.status = to_status


#: the tables the hot paths (checkout, payment, fulfilment) read and write with Core statements built once
_ORDERS, _ORDER_LINES, _USERS = Order.__table__, OrderLine.__table__, User.__table__

_HISTORY = OrderStatusChange.__table__
#: built once: the hot paths write history rows without the ORM's flush (checkout keeps the new row's id)
_INSERT_HISTORY = DirectStatement(insert(_HISTORY).returning(_HISTORY.c.id))


def insert_history(order_id: int, from_status: str | None, to_status: str, actor_id: int | None = None,
                   note: str | None = None, at: datetime | None = None, **params) -> None:
    """Write one history row directly (one INSERT, no unit of work). For code that changes an order without
    loading it as an ORM object; an Order whose `status_changes` are loaded does not see the new row until
    it is expired or read again. `at` is when the change happened (default: now)."""
    _INSERT_HISTORY.run(db.session, {"order_id": order_id,
                                     **_history_row(from_status, to_status, actor_id, note, at, **params)})


#: the history columns a change fills (order_id aside)
_HISTORY_COLUMNS = ("from_status", "to_status", "actor_id", "note", "note_params", "created_at")


def _history_row(from_status: str | None, to_status: str, actor_id: int | None = None, note: str | None = None,
                 at: datetime | None = None, **params) -> dict:
    """insert_history's arguments as the history row's columns (but order_id)."""
    return {"from_status": from_status, "to_status": to_status, "actor_id": actor_id, "note": note,
            "note_params": params or None, "created_at": at or utcnow()}


def _prefixed(prefix: str, row: dict, columns: tuple[str, ...]) -> dict:
    """A row's columns as the parameters <prefix>_<column> of a statement that writes several tables."""
    return {f"{prefix}_{name}": row[name] for name in columns}


def _insert_for_order_of(order_id, table, columns: tuple[str, ...], prefix: str):
    """INSERT a row of `table` for the order whose id `order_id` (a CTE's column) gives, its `columns` from the
    parameters <prefix>_<column>: nothing when the CTE gives no row (PostgreSQL's one-statement writes)."""
    return insert(table).from_select(
        ["order_id", *columns],
        select(order_id, *(bindparam(f"{prefix}_{name}", type_=table.c[name].type) for name in columns)),
    )


#: (the columns an UPDATE sets, whether it records a payment event, whether it claims lines, the kind statement it
#: delivers lines by, whether it records an email, whether it posts a ledger transaction) -> its statement (a handful
#: of shapes: paid, fulfilled, flagged)
_UPDATES_WITH_HISTORY: dict[tuple, DirectStatement] = {}
_EVENTS = PaymentEvent.__table__
_ORDER_EMAILS = OrderEmail.__table__


def _update_with_history(columns: tuple[str, ...], with_event: bool = False, with_claim: bool = False,
                         grant: kinds.FulfilLines | None = None, with_email: bool = False,
                         with_ledger: bool = False) -> DirectStatement:
    """PostgreSQL: UPDATE the order's `columns` and INSERT its history row in one statement, the UPDATE's
    RETURNING feeding the INSERT (no row updated, no history written). In the same statement, `with_event`
    records the payment event that caused the change (its order and outcome: parameters stored_event_id,
    event_outcome), `with_claim` marks lines fulfilled at the order's fulfilled_at (claimed_line_ids; the
    fulfilled_at IS NULL guard of _CLAIM_LINE), `grant` delivers lines through their kind's fulfil_lines statement
    (fulfil_line_ids and its parameters), and `with_email` records the email `email_key` as sent at `email_sent_at`
    unless it was before (as insert_once; the statement answers how many it recorded: 1 or 0), and `with_ledger`
    posts a ledger transaction (royalties.ledger.posting_ctes, its parameters prefixed ledger_; the statement
    answers its id, or NULL when it posted nothing: an account missing, or the key posted before). Built once per
    shape."""
    key = (columns, with_event, with_claim, grant, with_email, with_ledger)
    statement = _UPDATES_WITH_HISTORY.get(key)
    if statement is None:
        # the order's id is not named order_id: an UPDATE sets every column its parameters name, and the lines and
        # the events have an order_id column
        updated = (update(_ORDERS).where(_ORDERS.c.id == bindparam("changed_order_id"))
                   .values({name: bindparam(name) for name in columns}).returning(_ORDERS.c.id).cte("updated"))
        insert_history = _insert_for_order_of(updated.c.id, _HISTORY, _HISTORY_COLUMNS, "history")
        if with_event:
            insert_history = insert_history.add_cte(
                update(_EVENTS).where(_EVENTS.c.id == bindparam("stored_event_id"))
                .values(order_id=bindparam("changed_order_id"), outcome=bindparam("event_outcome")).cte("recorded_event"))
        if with_claim:
            insert_history = insert_history.add_cte(
                update(_ORDER_LINES).where(
                    _ORDER_LINES.c.id == any_(bindparam("claimed_line_ids", type_=ARRAY(Integer))),
                    _ORDER_LINES.c.fulfilled_at.is_(None),
                ).values(fulfilled_at=bindparam("fulfilled_at")).cte("claimed_lines"))
        if grant is not None:
            insert_history = insert_history.add_cte(grant.statement().cte("granted_lines"))
        answers = []
        if with_email:
            recorded_email = (
                postgresql_insert(_ORDER_EMAILS).from_select(
                    ["order_id", "key", "sent_at"],
                    select(updated.c.id, bindparam("email_key", type_=_ORDER_EMAILS.c.key.type),
                           bindparam("email_sent_at", type_=_ORDER_EMAILS.c.sent_at.type)))
                .on_conflict_do_nothing(index_elements=["order_id", "key"]).returning(_ORDER_EMAILS.c.id)
                .cte("recorded_email"))
            insert_history = insert_history.add_cte(recorded_email)
            answers.append(select(func.count()).select_from(recorded_email).scalar_subquery().label("emails_recorded"))
        if with_ledger:
            from marketplace.royalties.ledger import posting_ctes

            transaction, entries = posting_ctes("ledger_")
            posted_entries = entries.cte("posted_entries")
            insert_history = insert_history.add_cte(transaction, posted_entries)
            answers.append(select(func.min(posted_entries.c.transaction_id)).scalar_subquery()
                           .label("ledger_transaction_id"))
        if answers:
            insert_history = insert_history.returning(*answers)
        statement = _UPDATES_WITH_HISTORY[key] = DirectStatement(insert_history)
    return statement


#: built once (cached statements are not compiled again)
_LOCK_ORDER = select(Order).where(Order.id == bindparam("order_id")).with_for_update(of=Order) \
    .execution_options(populate_existing=True)
_LOCK_ORDER_WITH_BUYER = _LOCK_ORDER.options(joinedload(Order.buyer))
_LINES_OF_ORDER = select(OrderLine).where(OrderLine.order_id == bindparam("order_id")).order_by(OrderLine.id) \
    .execution_options(populate_existing=True)


def lock_order(order_id: int, with_buyer: bool = False) -> Order | None:
    """The order with its row locked until the transaction ends (and its buyer), then its lines read afresh.

    The lines come in a second query, never joined to the locking one: a statement that waited for the lock
    sees joined rows as they were when it started, before the change it waited for."""
    order = db.session.scalar(_LOCK_ORDER_WITH_BUYER if with_buyer else _LOCK_ORDER, {"order_id": order_id})
    if order is not None:
        set_committed_value(order, "lines", list(db.session.scalars(_LINES_OF_ORDER, {"order_id": order_id})))
    return order


#: (table, unique columns, dialect) -> its INSERT .. ON CONFLICT DO NOTHING RETURNING id, built once: the values
#: come with each execution, so the compiled statement is reused
_INSERTS_ONCE: dict[tuple, object] = {}


def insert_once(model, unique: tuple[str, ...], **values) -> int | None:
    """Insert a row unless one with the same `unique` columns exists; answers the new row's id, or None.

    One statement (INSERT ... ON CONFLICT DO NOTHING) instead of a savepoint, an insert and a release. Like a
    plain insert, it waits for a concurrent transaction inserting the same key and answers None once that
    one commits."""
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        table = model.__table__
        key = (table, tuple(unique), dialect)
        statement = _INSERTS_ONCE.get(key)
        if statement is None:
            dialect_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            statement = _INSERTS_ONCE[key] = DirectStatement(
                dialect_insert(table).on_conflict_do_nothing(index_elements=list(unique)).returning(table.c.id)
            )
        return statement.run(db.session, values).scalar()
    try:
        with db.session.begin_nested():
            row = model(**values)
            db.session.add(row)
    except IntegrityError:
        return None
    return row.id


def coupon_uses(coupon_id: int, buyer_id: int) -> tuple[int, int]:
    """How often a coupon was used: in total and by this buyer (orders that never took money do not count)."""
    base = select(func.count(Order.id)).where(Order.coupon_id == coupon_id, Order.status.not_in(CLOSED_UNPAID_STATES))
    total = db.session.scalar(base) or 0
    by_buyer = db.session.scalar(base.where(Order.buyer_id == buyer_id)) or 0
    return total, by_buyer


def _kind_hook(line: OrderLine, name: str):
    kind = kinds.get(line.kind)
    return getattr(kind, name, None) if kind is not None else None


# ---------------------------------------------------------------- checkout

@dataclass
class LockedCartLine:
    """A cart line as checkout reads it."""

    id: int
    listing_id: int
    variant_id: int | None
    quantity: int


@dataclass
class LockedCart:
    """The buyer's cart as checkout reads it (what cart_services.summarize needs), its row locked."""

    id: int
    currency: str | None
    lines: list[LockedCartLine]
    #: the lines' listings with their prices, read with the lines; held here because the session holds its
    #: objects weakly, and the cart's summary finds them there instead of reading them again
    listings: dict[int, Listing]


_CARTS, _CART_LINES = Cart.__table__, CartLine.__table__
#: built once: the buyer's cart (its id and currency) with its lines, their listings (the columns checkout reads)
#: and prices, one row per line and price; the cart's row and its lines' rows locked (see _lock_cart)
_LOCK_CART_WITH_LINES = DirectStatement(
    select(_CARTS.c.id.label("cart_id"), _CARTS.c.currency.label("cart_currency"), _CART_LINES.c.id,
           _CART_LINES.c.variant_id, _CART_LINES.c.quantity, _CART_LINES.c.listing_id.label("line_listing_id"),
           *cart_services.LISTING_WITH_PRICE_COLUMNS)
    .select_from(_CARTS.join(_CART_LINES, _CART_LINES.c.cart_id == _CARTS.c.id)
                 .outerjoin(cart_services.LISTINGS_JOIN_PRICES, Listing.__table__.c.id == _CART_LINES.c.listing_id))
    .where(_CARTS.c.user_id == bindparam("user_id"))
    .order_by(_CART_LINES.c.id, *cart_services.PRICE_ORDER)
    .with_for_update(of=(_CARTS, _CART_LINES))
)
_EMPTY_CART = DirectStatement(CartLine.__table__.delete().where(CartLine.__table__.c.cart_id == bindparam("cart_id")))


def _lock_cart(user) -> LockedCart | None:
    """The buyer's cart with its lines, their listings and prices, the cart's row and the lines' rows locked, in
    one statement (the listings become this session's objects, where the cart's summary finds them); None for
    no cart or an empty one.

    The lines are locked with the cart, not only joined to it: a statement that waited for a lock reads each row
    it locked as it is after the wait (a line the checkout it waited for removed is gone), but a row it only
    joined as it was when the statement began, so a second checkout would find the lines the first one removed."""
    rows = _LOCK_CART_WITH_LINES.run(db.session, {"user_id": user.id}).all()
    if not rows:
        return None
    listings = cart_services.listings_from_rows(rows, fresh=True)
    lines = {}
    for line in rows:
        if line.id not in lines:
            lines[line.id] = LockedCartLine(line.id, line.line_listing_id, line.variant_id, line.quantity)
    return LockedCart(rows[0].cart_id, rows[0].cart_currency, list(lines.values()), listings)


def _emptied(cart: LockedCart, deleted: bool = False) -> None:
    """The cart's lines are deleted (`deleted`: the order's insert did it); a Cart object this session holds must
    not show them any more."""
    if not deleted:
        _EMPTY_CART.run(db.session, {"cart_id": cart.id})
    loaded = db.session.identity_map.get(identity_key(Cart, cart.id))
    if loaded is not None:
        db.session.expire(loaded, ["lines"])


def check_currency(currency) -> str:
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if code not in SUPPORTED_CURRENCIES:
        raise ValidationFailed.one("currency", _("Choose one of: %(currencies)s.", currencies=", ".join(SUPPORTED_CURRENCIES)))
    return code


def place_order(buyer, currency, coupon_code: str | None, now: datetime, gateway_name: str,
                payment_window: timedelta, locale: str | None = None, shipping_address=None) -> Order:
    """Turn the buyer's cart into an order awaiting payment: prices are checked again and snapshotted,
    the coupon applied with its uses counted under a lock, each line's kind reserves what it needs, and
    the cart is emptied. The cart row stays locked until the caller commits, so a second checkout of the
    same cart waits and then finds it empty.

    The order, its lines and its first history row are written with one INSERT each (a one-line order on
    PostgreSQL: all three in one statement), without the unit of work;
    the answer is the order as this session's ORM object (its lines, history and refunds loaded), so reading
    it or changing it later works as for an order read from the database.

    :raise 409: the cart is empty (or was just checked out), the coupon has no uses left, a kind cannot reserve
    :raise 422: unknown currency, a line not on sale or not sold in the currency, a coupon that does not apply,
        merch without a valid `shipping_address` or not shipped to its country (see merch.shipping.shipping_for)
    """
    currency = check_currency(currency)
    cart = _lock_cart(buyer)
    if cart is None or not cart.lines:
        raise Conflict(_("Your cart is empty; it may have just been checked out."), field="cart")
    summary = cart_services.summarize(cart, currency)
    if summary.currency != currency:
        raise ValidationFailed.one("currency", _("Your cart is in %(currency)s.", currency=summary.currency))
    if not summary.can_checkout:
        raise ValidationFailed.one("cart", " ".join(str(cart_services.problem_label(code)) for code in summary.problems))
    lines = [(view.listing, view.quantity, view.unit_price) for view in summary.lines]
    code = discount_services.normalize_code(coupon_code) if coupon_code else ""
    coupon = None
    uses_total = uses_by_buyer = 0
    if code:
        coupon = discount_services.find_coupon(code, {listing.creator_id for listing, _q, _u in lines}, lock=True)
        uses_total, uses_by_buyer = coupon_uses(coupon.id, buyer.id)
    priced = discount_services.price_lines(lines, code or None, buyer, now, uses_total, uses_by_buyer)
    address, shipping = _shipping(summary, priced, currency, shipping_address)

    values = dict(
        buyer_id=buyer.id, status=OrderStatus.PENDING_PAYMENT, currency=currency,
        subtotal=priced.subtotal.amount, discount=priced.discount.amount,
        total=priced.total.amount + shipping.total, refunded_amount=0, shipping_total=shipping.total,
        coupon_id=coupon.id if coupon else None, coupon_code=coupon.code if coupon else None,
        locale=locale, gateway=gateway_name, expires_at=now + payment_window, needs_attention=False,
        created_at=now, updated_at=now,  # the order's date: its number and payment window start from it too
    )
    if address is not None:  # left out otherwise: SQL NULL, not a JSON null
        values["shipping_address"] = address
    line_values = [
        dict(listing_id=view.listing.id, creator_id=view.listing.creator_id, kind=view.listing.kind,
             title=view.title, variant_id=view.variant_id, quantity=line.quantity, unit_price=line.unit_price.amount,
             subtotal=line.subtotal.amount, discount=line.discount.amount, total=line.total.amount,
             shipping=line_shipping)
        for view, line, line_shipping in zip(summary.lines, priced.lines, shipping.per_line)
    ]
    history = _history_row(None, OrderStatus.PENDING_PAYMENT, buyer.id, HistoryNote.CHECKOUT, now)
    in_one_statement = len(line_values) == 1 and db.session.get_bind().dialect.name == "postgresql"
    if in_one_statement:
        # most orders: the order, its line and its history in one statement, which empties the cart too
        order_id, number, line_ids, history_id = _insert_one_line_order(values, line_values[0], history, cart.id, now)
        line_values[0]["order_id"] = order_id
    else:
        order_id, number = _insert_new_order(values, now)
        for row in line_values:
            row["order_id"] = order_id
        if len(line_values) == 1:  # one statement without SQLAlchemy's executemany batching
            line_ids = [_INSERT_ORDER_LINE.run(db.session, line_values[0]).scalar()]
        else:
            line_ids = db.session.scalars(_INSERT_ORDER_LINES, line_values).all()
        history_id = _INSERT_HISTORY.run(db.session, {"order_id": order_id, **history}).scalar()
    history["order_id"] = order_id

    order = _as_loaded(Order, {
        **values, "id": order_id, "number": number, "shipping_address": address, "payment_session_id": None,
        "payment_url": None, "payment_reference": None, "paid_at": None, "fulfilled_at": None, "closed_at": None,
        "attention_note": None,
    })
    order_lines = []
    for line_id, row in zip(line_ids, line_values):
        line = _as_loaded(OrderLine, dict(id=line_id, fulfilled_at=None, refunded_at=None, shipped_at=None, carrier=None,
                                          tracking_number=None, shipped_by_id=None, **row))
        set_committed_value(line, "order", order)
        order_lines.append(line)
    set_committed_value(order, "lines", order_lines)
    set_committed_value(order, "status_changes", [_as_loaded(OrderStatusChange, {"id": history_id, **history})])
    set_committed_value(order, "refunds", [])  # a new order has none: showing it must not query for them
    set_committed_value(order, "buyer", buyer)
    db.session.add(order)  # persistent, with nothing to flush; the cascade brings its lines and history along

    for line in order.lines:
        reserve = _kind_hook(line, "reserve")
        if reserve is not None:
            reserve(line)
    _emptied(cart, deleted=in_one_statement)
    return order


def _as_loaded(cls, values: dict):
    """An object built from the values just inserted, made to look loaded from its row (nothing pending)."""
    instance = detached_as_loaded(cls, values)
    # an object this session still holds for the same id is left over from a transaction rolled back outside
    # it (tests): the row is new, so the new object replaces it, as a flush would
    stale = db.session.identity_map.get(inspect(instance).key)
    if stale is not None:
        db.session.expunge(stale)
    return instance


#: built once: the new order's rows are inserted without the unit of work (see place_order)
_INSERT_ORDER_LINES = insert(_ORDER_LINES).returning(_ORDER_LINES.c.id, sort_by_parameter_order=True)
_INSERT_ORDER_LINE = DirectStatement(insert(_ORDER_LINES).returning(_ORDER_LINES.c.id))
#: a taken number inserts nothing instead of failing the transaction (no savepoint needed)
_INSERT_ORDER_UNLESS_NUMBER_TAKEN = {
    "postgresql": DirectStatement(
        postgresql_insert(_ORDERS).on_conflict_do_nothing(index_elements=["number"]).returning(_ORDERS.c.id)),
    "sqlite": DirectStatement(
        sqlite_insert(_ORDERS).on_conflict_do_nothing(index_elements=["number"]).returning(_ORDERS.c.id)),
}


def _shipping(summary, priced, currency: str, shipping_address):
    """The normalised address (None for an order without merch, whatever was sent) and the shipping quote."""
    from marketplace.merch import shipping

    listings = [view.listing for view in summary.lines]
    if not any(shipping.is_physical(listing) for listing in listings):
        return None, shipping.ShippingQuote(currency=currency, per_line=[0] * len(listings))
    address = shipping.clean_address(shipping_address)
    quote = shipping.shipping_for([(listing, line.total.amount) for listing, line in zip(listings, priced.lines)],
                                  currency, address["country"])
    return address, quote


#: the line columns place_order fills
_ORDER_LINE_COLUMNS = ("listing_id", "creator_id", "kind", "title", "variant_id", "quantity", "unit_price", "subtotal",
                       "discount", "total", "shipping")


#: the order's columns (with or without shipping_address) -> the statement of _insert_one_line_order
_ONE_LINE_ORDER_INSERTS: dict[tuple[str, ...], DirectStatement] = {}


def _one_line_order_insert(order_columns: tuple[str, ...]) -> DirectStatement:
    """PostgreSQL: INSERT the order (nothing when its number is taken), its line and its first history row in one
    statement, the order's RETURNING feeding the other two, and DELETE the cart's lines; answers (id, line_id,
    history_id), or no row. Parameters: the order's columns by name, the line's as line_<column>, the history's as
    history_<column>, cart_id (the lines go whether or not the number was taken: a retry deletes nothing more)."""
    statement = _ONE_LINE_ORDER_INSERTS.get(order_columns)
    if statement is None:
        new_order = (postgresql_insert(_ORDERS).values({name: bindparam(name) for name in order_columns})
                     .on_conflict_do_nothing(index_elements=["number"]).returning(_ORDERS.c.id).cte("new_order"))
        new_line = (_insert_for_order_of(new_order.c.id, _ORDER_LINES, _ORDER_LINE_COLUMNS, "line")
                    .returning(_ORDER_LINES.c.id).cte("new_line"))
        new_history = (_insert_for_order_of(new_order.c.id, _HISTORY, _HISTORY_COLUMNS, "history")
                       .returning(_HISTORY.c.id).cte("new_history"))
        emptied_cart = _CART_LINES.delete().where(_CART_LINES.c.cart_id == bindparam("cart_id")).cte("emptied_cart")
        statement = _ONE_LINE_ORDER_INSERTS[order_columns] = DirectStatement(select(
            new_order.c.id, select(new_line.c.id).scalar_subquery().label("line_id"),
            select(new_history.c.id).scalar_subquery().label("history_id"),
        ).add_cte(emptied_cart))
    return statement


def _insert_one_line_order(values: dict, line: dict, history: dict, cart_id: int,
                           now: datetime) -> tuple[int, str, list[int], int]:
    """_insert_new_order, with the order's one line and its first history row written, and the cart's lines
    deleted, in the same statement (PostgreSQL); answers the order's id and number, [the line's id] and the
    history row's id."""
    params = {**_prefixed("line", line, _ORDER_LINE_COLUMNS), **_prefixed("history", history, _HISTORY_COLUMNS),
              "cart_id": cart_id}
    statement = _one_line_order_insert(tuple(values) + ("number",))
    number, row = _under_new_number(
        lambda number: statement.run(db.session, {**values, "number": number, **params}).first(), now)
    return row.id, number, [row.line_id], row.history_id


def _insert_new_order(values: dict, now: datetime) -> tuple[int, str]:
    """Insert the order row under a new random number (see _under_new_number); answers its id and number. On
    PostgreSQL and SQLite a taken number inserts nothing (ON CONFLICT), elsewhere it fails inside a savepoint."""
    statement = _INSERT_ORDER_UNLESS_NUMBER_TAKEN.get(db.session.get_bind().dialect.name)

    def insert_numbered(number: str) -> int | None:
        if statement is not None:
            return statement.run(db.session, {**values, "number": number}).scalar()
        try:
            with db.session.begin_nested():
                return db.session.scalar(insert(_ORDERS).returning(_ORDERS.c.id), {**values, "number": number})
        except IntegrityError:
            if db.session.scalar(select(Order.id).where(Order.number == number)) is None:
                raise
        return None

    number, order_id = _under_new_number(insert_numbered, now)
    return order_id, number


def _under_new_number(insert_numbered, now: datetime):
    """Call insert_numbered(number) with a new random order number until it inserts (it answers None when the
    number is taken: at 100,000 orders a day, a few numbers a day are drawn twice); answers the number and
    what the insert answered."""
    for _attempt in range(5):
        number = new_order_number(now)
        inserted = insert_numbered(number)
        if inserted is not None:
            return number, inserted
    raise Conflict(_("Could not number the order; try again."))


def gateway_lines(order: Order) -> list[CheckoutLine]:
    """The order's lines as a payment provider lists them: what is paid per unit after the discount.

    A provider wants whole unit prices, so a discount that does not divide by the quantity splits the line
    into one line at the lower unit price and one unit carrying the remainder; the order's shipping is one more
    item, so the items add up to the order's total exactly."""
    out = []
    for line in order.lines:
        unit, remainder = divmod(line.total, line.quantity)
        if remainder:
            if line.quantity - 1:
                out.append(CheckoutLine(line.title, unit, line.quantity - 1))
            out.append(CheckoutLine(line.title, unit + remainder, 1))
        else:
            out.append(CheckoutLine(line.title, unit, line.quantity))
    if order.shipping_total:
        out.append(CheckoutLine(_("Shipping"), order.shipping_total, 1))
    return out


def payment_request(order: Order, success_url: str, cancel_url: str) -> PaymentRequest:
    return PaymentRequest(
        order_id=order.id, order_number=order.number, currency=order.currency, total=order.total,
        lines=gateway_lines(order), customer_email=order.buyer.email, success_url=success_url,
        cancel_url=cancel_url, locale=order.locale, expires_at=_provider_expiry(order),
    )


#: Stripe Checkout sessions live 30 minutes to 24 hours
PROVIDER_MIN_WINDOW, PROVIDER_MAX_WINDOW = timedelta(minutes=31), timedelta(hours=23, minutes=59)


def _provider_expiry(order: Order) -> int:
    """The provider stops taking money when the order expires, within the window it accepts."""
    window = min(max(order.expires_at - order.created_at, PROVIDER_MIN_WINDOW), PROVIDER_MAX_WINDOW)
    return int((order.created_at + window).timestamp())


# ---------------------------------------------------------------- payment events

@dataclass
class PaymentOutcome:
    """What a payment event did to its order: `outcome` is stored with the event; `queue` lists the
    follow-up work to start after the commit (fulfil, email)."""

    outcome: str
    order: Order | LockedOrder | None = None
    queue: tuple[str, ...] = ()
    #: the outcome was stored with the order's change (see mark_paid's `event_id`): the caller need not store it
    event_recorded: bool = False


def mark_paid(order: Order | LockedOrder, payment_reference: str | None, amount: int | None, currency: str | None,
              now: datetime, event_id: int | None = None) -> PaymentOutcome:
    """A payment for the (locked) order arrived. Applies once: a second report changes nothing.

    A payment for an order that had closed (expired, cancelled) is taken when every line's kind can still
    allocate its goods, and flagged for an operator either way. The order is an Order or, from the webhook, a
    LockedOrder (lock_for_payment); it is changed with Core statements either way (see _write_order). `event_id`,
    the stored payment event reporting it: on PostgreSQL the order's move to paid records the event's order and
    outcome in the same statement (the answer's `event_recorded` says so)."""
    if order.status in PAID_STATES or order.status == OrderStatus.REFUNDED:
        return PaymentOutcome("already_paid", order)
    if amount is not None and (amount != order.total or (currency or "").upper() != order.currency):
        _write_order(order, {"needs_attention": True, "attention_note": HistoryNote.AMOUNT_MISMATCH,
                             "updated_at": utcnow()})
        if (currency or "").upper() == order.currency:
            insert_history(order.id, order.status, order.status, None, HistoryNote.AMOUNT_MISMATCH, now,
                           expected=order.total, got=amount, currency=order.currency)
        else:
            insert_history(order.id, order.status, order.status, None, HistoryNote.AMOUNT_MISMATCH, now,
                           expected=str(Money(order.total, order.currency)),
                           got=f"{amount} {(currency or '').upper()}")
        return PaymentOutcome("amount_mismatch", order)
    late = order.status in CLOSED_UNPAID_STATES
    allocated = _allocate_all(order)
    if not allocated:
        # the money is taken (the ledger posts the sale) and given back in full by the task the outcome queues
        # (refund_sold_out): the fan's money trail is complete and the order ends refunded
        recorded = _set_paid(order, payment_reference, now, HistoryNote.GOODS_GONE, (event_id, "goods_gone"))
        return PaymentOutcome("goods_gone", order, (SOLD_OUT_REFUND,), recorded)
    outcome = "late_payment" if late else "paid"
    recorded = _set_paid(order, payment_reference, now, HistoryNote.LATE_PAYMENT if late else None, (event_id, outcome))
    return PaymentOutcome(outcome, order, ("fulfil", "confirmation"), recorded)


#: built once; the SET clause is the columns named in the parameters
_UPDATE_ORDER = DirectStatement(update(_ORDERS).where(_ORDERS.c.id == bindparam("order_id")))


@dataclass(frozen=True, slots=True)
class _Written:
    #: the history row and what came with it (event, claims, grants, email, ledger) were written in the order's UPDATE
    in_one_statement: bool = False
    #: the email was recorded now (False: it was before); None when it was not asked for or not written
    email_recorded: bool | None = None
    #: the ledger transaction asked for was posted with the UPDATE
    ledger_posted: bool = False


def _write_order(order: Order | LockedOrder, changes: dict, history: dict | None = None,
                 event: tuple[int | None, str] = (None, ""), claim: tuple[int, ...] = (),
                 grant: tuple[kinds.FulfilLines, tuple[int, ...]] | None = None, email_key: str | None = None,
                 ledger: "PreparedPosting | None" = None) -> _Written:
    """One UPDATE of the (locked) order's row, no unit-of-work flush, and with `history` (insert_history's
    arguments) the history row of the change: on PostgreSQL in the same statement (_update_with_history), a
    round trip fewer on the payment and fulfilment paths, and with it the payment event `event` (its id and
    outcome) that caused the change, the lines `claim` (ids) marked fulfilled at changes["fulfilled_at"], the
    lines `grant` delivers through their kind's fulfil_lines, the email `email_key` recorded as sent, and the
    ledger transaction `ledger` (a royalties.ledger.PreparedPosting with entries) posted. The answer says whether
    those came with the UPDATE (else the caller writes them). A loaded Order is given the
    values written, so it reads as the database does (its history is read again if used); for a LockedOrder, an
    Order this session holds for the same row is expired instead."""
    event_id, event_outcome = event
    written = _Written()
    if history is None:
        _UPDATE_ORDER.run(db.session, {"order_id": order.id, **changes})
    elif db.session.get_bind().dialect.name == "postgresql":
        params = {"changed_order_id": order.id, **changes,
                  **_prefixed("history", _history_row(**history), _HISTORY_COLUMNS)}
        if event_id is not None:
            params.update(stored_event_id=event_id, event_outcome=event_outcome)
        if claim:
            params["claimed_line_ids"] = list(claim)
        statement_of_kind = None
        if grant is not None:
            statement_of_kind, granted_ids = grant
            params.update(statement_of_kind.params(granted_ids))
        if email_key is not None:
            params.update(email_key=email_key, email_sent_at=utcnow())
        with_ledger = ledger is not None and bool(ledger.postings)
        if with_ledger:
            params.update(ledger.prefixed("ledger_"))
        row = _update_with_history(tuple(changes), with_event=event_id is not None, with_claim=bool(claim),
                                   grant=statement_of_kind, with_email=email_key is not None,
                                   with_ledger=with_ledger).run(db.session, params).first()
        written = _Written(True, bool(row and row.emails_recorded) if email_key is not None else None,
                           bool(with_ledger and row and row.ledger_transaction_id is not None))
    else:
        for line_id in claim:
            _CLAIM_LINE.run(db.session, {"line_id": line_id, "now": changes["fulfilled_at"]})
        _UPDATE_ORDER.run(db.session, {"order_id": order.id, **changes})
        insert_history(order.id, **history)
    loaded = order if isinstance(order, Order) else db.session.identity_map.get(identity_key(Order, order.id))
    if loaded is None:
        order.status = changes.get("status", order.status)
    elif loaded is order:
        for name, value in changes.items():
            set_committed_value(order, name, value)
        if "status_changes" in order.__dict__:
            db.session.expire(order, ["status_changes"])
    else:
        order.status = changes.get("status", order.status)
        db.session.expire(loaded, [*changes, "status_changes"])
    return written


def _set_paid(order: Order | LockedOrder, payment_reference: str | None, now: datetime, attention: str | None,
              event: tuple[int | None, str]) -> bool:
    """Move the (locked) order to paid with one UPDATE and one history row (see _write_order for `event`) and post
    its sale to the ledger; answers whether the event was recorded with the UPDATE."""
    from marketplace.royalties import ledger, posting

    sale = posting.prepared_sale(order, now)
    changes = {"status": OrderStatus.PAID, "paid_at": now, "updated_at": utcnow()}
    if payment_reference:  # else the reference the checkout stored stays
        changes["payment_reference"] = payment_reference
    if attention is not None:  # flagged for an operator: a late payment, or goods sold out meanwhile
        changes.update(needs_attention=True, attention_note=attention)
    written = _write_order(order, changes, history=dict(from_status=order.status, to_status=OrderStatus.PAID,
                                                        note=attention, at=now), event=event, ledger=sale)
    if not written.ledger_posted:  # SQLite, a party's first sale (its account is created), or posted before
        ledger.post_prepared(sale)
    return written.in_one_statement and event[0] is not None


class _GoodsGone(Exception):
    pass


def _allocate_all(order: Order) -> bool:
    """Every line's kind allocates its goods; when one cannot, what the others took is given back (a savepoint)."""
    hooks = [(line, _kind_hook(line, "allocate")) for line in order.lines]
    hooks = [(line, hook) for line, hook in hooks if hook is not None]
    if not hooks:
        return True
    try:
        with db.session.begin_nested():
            for line, allocate in hooks:
                if not allocate(line):
                    raise _GoodsGone
    except _GoodsGone:
        return False
    return True


#: the follow-up work of a payment whose goods were gone: refund it in full (see refund_sold_out)
SOLD_OUT_REFUND = "sold_out_refund"
#: Refund.reason of that refund, worded for the buyer when shown (see describe_note, emails.refund_notice)
SOLD_OUT_REASON = "sold_out"


def refund_sold_out(order_id: int, gateway, now: datetime) -> Refund | None:
    """Give back in full a payment that arrived after its reserved goods were released and sold (mark_paid
    took it as paid and flagged it GOODS_GONE). Once: a second run finds the order refunded and does nothing.
    :raise 502: the provider refused or could not be reached (nothing is recorded; the sweep tries again)"""
    order = lock_order(order_id)
    if order is None or order.status not in PAID_STATES or order.attention_note != HistoryNote.GOODS_GONE:
        return None
    lines = [line for line in order.lines if line.refunded_at is None]
    if not lines:
        return None
    line_amounts = _still_refundable(order, lines)
    refund = Refund(order_id=order.id, amount=sum(line_amounts), currency=order.currency, reason=SOLD_OUT_REASON,
                    actor_id=None)
    for line, line_amount in zip(lines, line_amounts):
        refund.lines.append(RefundLine(order_line_id=line.id, amount=line_amount))
        line.refunded_at = now
    db.session.add(refund)
    db.session.flush()
    if refund.amount > 0:
        refund.gateway_reference = gateway.refund(RefundRequest(
            order_id=order.id, refund_id=refund.id, payment_reference=order.payment_reference or "",
            amount=refund.amount, currency=order.currency, reason=SOLD_OUT_REASON,
        ))
    _apply_refund(order, refund, lines, now, None, HistoryNote.SOLD_OUT_REFUND)
    order.needs_attention = False
    db.session.flush()
    return refund


def _release(order: Order) -> None:
    for line in order.lines:
        release = _kind_hook(line, "release")
        if release is not None:
            release(line)


def mark_expired(order: Order, now: datetime) -> PaymentOutcome:
    """The (locked) order's payment window closed unpaid. Only a pending order expires, once."""
    if order.status != OrderStatus.PENDING_PAYMENT:
        return PaymentOutcome("ignored", order)
    _release(order)
    order.closed_at = now
    _move(order, OrderStatus.EXPIRED, None, HistoryNote.EXPIRED_UNPAID)
    return PaymentOutcome("expired", order)


def record_payment_failure(order: Order, message: str) -> PaymentOutcome:
    """A payment attempt failed; the order stays open so the fan can try again."""
    if order.status != OrderStatus.PENDING_PAYMENT:
        return PaymentOutcome("ignored", order)
    _record(order, order.status, None, HistoryNote.PAYMENT_FAILED, message=(message or "")[:200])
    return PaymentOutcome("payment_failed", order)


def cancel_order(user, order_id: int, now: datetime) -> Order:
    """The buyer gives up an unpaid order. :raise 404: not theirs :raise 409: no longer awaiting payment"""
    order = lock_order(order_id)
    if order is None or order.buyer_id != user.id:
        raise NotFound(_("There is no such order."))
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise Conflict(_("Only an order awaiting payment can be cancelled."))
    _release(order)
    order.closed_at = now
    _move(order, OrderStatus.CANCELLED, user, HistoryNote.CANCELLED_BY_BUYER)
    return order


def expire_overdue(now: datetime, limit: int = 500) -> list[int]:
    """Expire pending orders past their payment window; answers their ids. Run by the beat sweep."""
    ids = list(db.session.scalars(
        select(Order.id).where(Order.status == OrderStatus.PENDING_PAYMENT, Order.expires_at <= now)
        .order_by(Order.id).limit(limit)
    ))
    expired = []
    for order_id in ids:
        order = lock_order(order_id)
        if order is not None and mark_expired(order, now).outcome == "expired":
            expired.append(order_id)
    return expired


# ---------------------------------------------------------------- fulfilment

class LockedOrder:
    """An order locked for fulfilment or for its payment, read with Core (no ORM objects to load or keep in
    step): the columns fulfilment, the payment and the confirmation email read, its lines (`LockedLine`) and,
    for fulfilment, its buyer (email, locale, display_name). The confirmation and the ledger read it like an
    Order."""

    #: the columns _LOCK_FOR_FULFILMENT and _LOCK_FOR_PAYMENT read
    COLUMNS = ("id", "status", "buyer_id", "number", "currency", "subtotal", "discount", "coupon_code",
               "shipping_total", "shipping_address", "total", "locale")
    __slots__ = (*COLUMNS, "fulfilled_at", "lines", "buyer", "rules", "lines_granted", "email_recorded")

    def __init__(self, row, lines: list["LockedLine"], with_buyer: bool = True, rules: dict | None = None):
        for name in self.COLUMNS:
            setattr(self, name, getattr(row, name))
        self.fulfilled_at = None
        self.lines = lines
        for line in lines:
            line.order = self
        self.buyer = _Buyer(row.buyer_email, row.buyer_locale, row.buyer_display_name) if with_buyer else None
        #: the split rules of the lines' listings (royalties.splits.Rule by listing id) when read with the lock, else
        #: None: the ledger reads them
        self.rules = rules
        #: set by fulfil: the ids of the lines its move to fulfilled delivered through their kind's fulfil_lines, and
        #: whether it recorded the email asked for (None: not asked for, or not written with it)
        self.lines_granted: frozenset[int] = frozenset()
        self.email_recorded: bool | None = None

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)


class LockedLine:
    """One line of a LockedOrder: what fulfilment and the payment decide on, and what the kind hooks (fulfil,
    merch's allocate), the ledger and the email read."""

    __slots__ = ("id", "kind", "listing_id", "variant_id", "title", "quantity", "total", "shipping", "fulfilled_at",
                 "refunded_at", "currency", "order")

    def __init__(self, row, currency: str, prefix: str = ""):
        for name in self.__slots__[:-2]:
            setattr(self, name, getattr(row, prefix + name))
        self.currency = currency

    @property
    def order_id(self) -> int:
        return self.order.id

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)


@dataclass(frozen=True, slots=True)
class _Buyer:
    email: str
    locale: str | None
    display_name: str


#: the line columns a LockedLine reads, as the locking statements name them (line_<column>: orders has an id and a
#: total too)
_LOCKED_LINE_COLUMNS = tuple(_ORDER_LINES.c[name].label(f"line_{name}") for name in LockedLine.__slots__[:-2])


def _lock_with_lines(*columns, join_buyer: bool = False) -> DirectStatement:
    """The order's `columns` with one row per line (its columns as line_<name>), the order's row and its lines'
    rows locked: one statement instead of a lock and a read of the lines.

    The lines are locked with the order, not only joined to it: a statement that waited for a lock reads each row
    it locked as it is after the wait, but a row it only joined as it was when the statement began (a refund or
    a fulfilment committed meanwhile would not show). Every change to a line is made under its order's lock, so
    locking both waits for nothing more. The buyer is joined unlocked: an older buyer row changes nothing the
    task does."""
    joined = _ORDERS.join(_ORDER_LINES, _ORDER_LINES.c.order_id == _ORDERS.c.id)
    if join_buyer:
        joined = joined.join(_USERS, _USERS.c.id == _ORDERS.c.buyer_id)
    return DirectStatement(
        select(*columns, *_LOCKED_LINE_COLUMNS).select_from(joined)
        .where(_ORDERS.c.id == bindparam("order_id")).order_by(_ORDER_LINES.c.id)
        .with_for_update(of=(_ORDERS, _ORDER_LINES))
    )


#: built once (the fulfilment task runs after every paid order), from the tables' columns: an ORM-enabled select
#: costs more to run, for rows read as plain tuples anyway
_LOCKED_ORDER_COLUMNS = tuple(_ORDERS.c[name] for name in LockedOrder.COLUMNS)
_LOCK_FOR_FULFILMENT = _lock_with_lines(
    *_LOCKED_ORDER_COLUMNS, _USERS.c.email.label("buyer_email"), _USERS.c.locale.label("buyer_locale"),
    _USERS.c.display_name.label("buyer_display_name"), join_buyer=True)
#: the payment needs no buyer: the order's columns alone
_LOCK_FOR_PAYMENT = _lock_with_lines(*_LOCKED_ORDER_COLUMNS)
_CLAIM_LINE = DirectStatement(
    update(_ORDER_LINES).where(_ORDER_LINES.c.id == bindparam("line_id"), _ORDER_LINES.c.fulfilled_at.is_(None))
    .values(fulfilled_at=bindparam("now"))
)


def _locked_order(rows, with_buyer: bool, with_rules: bool = False) -> LockedOrder | None:
    """The LockedOrder the rows of a locking statement make (one per line), or None without rows (no such order:
    every order has a line). `with_rules`: each row has its listing's rule_rows (splits.rule_rows_as_json)."""
    if not rows or rows[0].id is None:
        return None
    currency = rows[0].currency
    rules = None
    if with_rules:
        from marketplace.royalties.splits import rules_from_rows

        by_listing = {row.line_listing_id: row.rule_rows for row in rows}
        rules = rules_from_rows([rule_row for rule_rows in by_listing.values() for rule_row in rule_rows or ()])
    return LockedOrder(rows[0], [LockedLine(row, currency, prefix="line_") for row in rows], with_buyer=with_buyer,
                       rules=rules)


def lock_for_fulfilment(order_id: int) -> LockedOrder | None:
    """The order with its row and its lines' rows locked until the transaction ends, as a LockedOrder with its
    buyer (one statement, no ORM)."""
    return _locked_order(_LOCK_FOR_FULFILMENT.run(db.session, {"order_id": order_id}).all(), with_buyer=True)


def lock_for_payment(order_id: int) -> LockedOrder | None:
    """lock_for_fulfilment without the buyer, for mark_paid."""
    return _locked_order(_LOCK_FOR_PAYMENT.run(db.session, {"order_id": order_id}).all(), with_buyer=False)


def _store_event_and_lock_for_payment() -> DirectStatement:
    from marketplace.royalties.splits import rule_rows_as_json

    stored = (postgresql_insert(_EVENTS).values({name: bindparam(name) for name in _STORED_EVENT_COLUMNS})
              .on_conflict_do_nothing(index_elements=["gateway", "event_id"]).returning(_EVENTS.c.id).cte("stored"))
    # the split rules the ledger posts the sale by come with the lines (each line's listing's, unlocked)
    locked = _lock_with_lines(*_LOCKED_ORDER_COLUMNS, rule_rows_as_json(_ORDER_LINES.c.listing_id)) \
        .statement.subquery().lateral("locked")
    return DirectStatement(
        select(stored.c.id.label("stored_id"), *locked.c)
        .select_from(stored.outerjoin(locked, true())).order_by(locked.c.line_id)
    )


_STORED_EVENT_COLUMNS = ("gateway", "event_id", "type", "outcome", "received_at")
#: PostgreSQL; see store_event_and_lock_for_payment
_STORE_EVENT_AND_LOCK_FOR_PAYMENT = _store_event_and_lock_for_payment()


def store_event_and_lock_for_payment(event: dict, order_id: int) -> tuple[int | None, LockedOrder | None]:
    """PostgreSQL: insert_once(PaymentEvent, ("gateway", "event_id"), **event) and then lock_for_payment(order_id),
    in one statement: the order is locked only when the event is new, as when the two run one after the other.
    Answers the stored event's id (None: seen before) and the locked order (None: no such order)."""
    rows = _STORE_EVENT_AND_LOCK_FOR_PAYMENT.run(db.session, {**event, "order_id": order_id}).all()
    if not rows:
        return None, None
    return rows[0].stored_id, _locked_order(rows, with_buyer=False, with_rules=True)


def fulfil_order(order_id: int, now: datetime) -> int:
    """Deliver every paid line not yet delivered through its kind; answers how many lines this call delivered.

    Each line is claimed with a guarded UPDATE (fulfilled_at IS NULL), so two runs of this at once deliver
    each line once. The order becomes fulfilled when every line that was not refunded is delivered."""
    return fulfil(lock_for_fulfilment(order_id), now)


def is_physical_line(line: OrderLine) -> bool:
    """A line of goods that ship (merch): it is fulfilled when it is marked shipped, not by the fulfilment task."""
    kind = kinds.get(line.kind)
    return kind is not None and kind.is_physical


def fulfil(order: LockedOrder | None, now: datetime, email_key: str | None = None) -> int:
    """fulfil_order for an order the caller has just locked with its lines (see lock_for_fulfilment). Physical
    lines are left awaiting shipment (marketplace.merch.fulfilment marks them shipped and fulfilled). The kind's
    fulfil hook gets the LockedLine (its id, kind, listing_id).

    The lines are locked, so no other run can deliver one before this transaction ends: every line read as
    undelivered is this run's to deliver. When they complete the order, they are marked delivered by the order's
    move to fulfilled (on PostgreSQL in its one statement, which also delivers the lines of kinds with a
    fulfil_lines statement and records the email `email_key`: see LockedOrder.lines_granted, .email_recorded);
    else each with its guarded UPDATE."""
    if order is None or order.status not in PAID_STATES:
        return 0
    claimed = [line for line in order.lines
               if line.fulfilled_at is None and line.refunded_at is None and not is_physical_line(line)]
    for line in claimed:
        line.fulfilled_at = now
    completed = complete_if_fulfilled(order, now, claiming=tuple(line.id for line in claimed),
                                      granting=_granted_together(claimed), email_key=email_key)
    if not completed:
        for line in claimed:
            _CLAIM_LINE.run(db.session, {"line_id": line.id, "now": now})
    for line in claimed:
        fulfil = _kind_hook(line, "fulfil")
        if fulfil is not None and line.id not in order.lines_granted:
            fulfil(line)
    if completed or claimed:
        _expire_loaded(order)
    return len(claimed)


def _granted_together(lines) -> tuple[kinds.FulfilLines, tuple[int, ...]] | None:
    """The kind statement (ProductKind.fulfil_lines) that can deliver the most of these lines in one go, with their
    ids; the others are delivered by their kind's fulfil hook. None when no line's kind has one."""
    by_statement: dict[kinds.FulfilLines, list[int]] = {}
    for line in lines:
        kind = kinds.get(line.kind)
        if kind is not None and kind.fulfil_lines is not None:
            by_statement.setdefault(kind.fulfil_lines, []).append(line.id)
    if not by_statement:
        return None
    statement, line_ids = max(by_statement.items(), key=lambda item: len(item[1]))
    return statement, tuple(line_ids)


def _expire_loaded(order: LockedOrder) -> None:
    """An Order or lines of it already loaded in this session (a caller's, not the task's own) are read again
    when next used: fulfilment changed their rows with Core."""
    identity_map = db.session.identity_map
    loaded = identity_map.get(identity_key(Order, order.id))
    if loaded is not None:
        db.session.expire(loaded, ["status", "fulfilled_at", "updated_at", "status_changes"])
    for line in order.lines:
        loaded_line = identity_map.get(identity_key(OrderLine, line.id))
        if loaded_line is not None:
            db.session.expire(loaded_line, ["fulfilled_at"])


def record_shipment(order: Order, actor, carrier: str, tracking_number: str, at: datetime | None = None) -> None:
    """A parcel of the (locked) order left (at `at`, default now): noted in its history, which the buyer reads."""
    _record(order, order.status, actor, HistoryNote.SHIPPED, at, carrier=carrier, tracking_number=tracking_number)


def complete_if_fulfilled(order: Order | LockedOrder, now: datetime, actor=None, claiming: tuple[int, ...] = (),
                          granting: tuple[kinds.FulfilLines, tuple[int, ...]] | None = None,
                          email_key: str | None = None) -> bool:
    """Move a paid order (locked by the caller) to fulfilled once every line not refunded is fulfilled (digital
    lines by the fulfilment task, merch when shipped); answers whether it moved. An Order changes through the
    session; a LockedOrder (the task's) with one UPDATE and one history row, which also write the lines
    `claiming` names (ids of its lines the caller marked fulfilled at `now` but did not write: see fulfil) and, on
    PostgreSQL, deliver the lines `granting` names and record the email `email_key` (noted on the LockedOrder)."""
    open_lines = [line for line in order.lines if line.refunded_at is None]
    if order.status != OrderStatus.PAID or not open_lines or not all(line.fulfilled_at for line in open_lines):
        return False
    if isinstance(order, Order):
        order.fulfilled_at = now
        _move(order, OrderStatus.FULFILLED, actor, HistoryNote.FULFILLED, now)
    else:
        written = _write_order(order, {"status": OrderStatus.FULFILLED, "fulfilled_at": now, "updated_at": utcnow()},
                               history=dict(from_status=order.status, to_status=OrderStatus.FULFILLED,
                                            actor_id=getattr(actor, "id", None), note=HistoryNote.FULFILLED,
                                            at=now),
                               claim=claiming, grant=granting, email_key=email_key)
        order.fulfilled_at = now
        if written.in_one_statement:
            order.lines_granted = frozenset(granting[1]) if granting else frozenset()
            order.email_recorded = written.email_recorded
    return True


# ---------------------------------------------------------------- refunds

def _may_refund(user, order: Order, lines: list[OrderLine]) -> bool:
    if user.is_operator:
        return True
    creator = user.creator_profile
    return creator is not None and all(line.creator_id == creator.id for line in lines)


def _refund_target(order: Order, line_ids) -> list[OrderLine]:
    if line_ids is None:
        return [line for line in order.lines if line.refunded_at is None]
    if not isinstance(line_ids, list) or not line_ids or any(isinstance(i, bool) or not isinstance(i, int) for i in line_ids):
        raise ValidationFailed.one("line_ids", _("Choose the lines to refund."))
    by_id = {line.id: line for line in order.lines}
    chosen = []
    for line_id in dict.fromkeys(line_ids):
        line = by_id.get(line_id)
        if line is None:
            raise ValidationFailed.one("line_ids", _("Line %(id)s is not part of this order.", id=line_id))
        if line.refunded_at is not None:
            raise Conflict(_("Line %(id)s has already been refunded.", id=line_id), field="line_ids")
        chosen.append(line)
    return chosen


def refund_order(user, order_id: int, line_ids, reason, gateway, now: datetime) -> Refund:
    """Give back whole lines of a paid order (all of the caller's when `line_ids` is None) with a reason.

    Operators refund any line; a streamer refunds the lines of their own listings. The provider is asked
    first (idempotently, keyed by the refund), then each line's kind revokes what it granted.
    :raise 403: not an operator or the lines' seller :raise 404: no such order (or not visible)
    :raise 409: the order took no money, or a line was already refunded :raise 422: no reason, unknown line
    :raise 502: the provider refused or could not be reached (nothing is recorded)
    """
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationFailed.one("reason", _("Say why the order is refunded."))
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed.one("reason", _("Keep the reason under %(max)d characters.", max=MAX_REASON_LENGTH))
    order = lock_order(order_id)
    if order is None or not can_view(user, order):
        raise NotFound(_("There is no such order."))
    creator = user.creator_profile
    if not user.is_operator and not any(creator and line.creator_id == creator.id for line in order.lines):
        raise PermissionDenied(_("Refunds are made by the seller or by Encore's support team."))
    if order.status not in PAID_STATES:
        raise Conflict(_("Only a paid order can be refunded."))
    if line_ids is None and not user.is_operator:
        line_ids = [line.id for line in order.lines if line.refunded_at is None and creator and line.creator_id == creator.id]
        if not line_ids:
            raise Conflict(_("Everything of yours in this order has already been refunded."))
    lines = _refund_target(order, line_ids)
    if not lines:
        raise Conflict(_("Everything in this order has already been refunded."))
    if not _may_refund(user, order, lines):
        raise PermissionDenied(_("You can only refund the lines of your own listings."))
    line_amounts = _still_refundable(order, lines)
    amount = sum(line_amounts)
    refund = Refund(order_id=order.id, amount=amount, currency=order.currency, reason=reason, actor_id=user.id)
    for line, line_amount in zip(lines, line_amounts):
        refund.lines.append(RefundLine(order_line_id=line.id, amount=line_amount))
        line.refunded_at = now
    db.session.add(refund)
    if amount > 0:
        db.session.flush()
        refund.gateway_reference = gateway.refund(RefundRequest(
            order_id=order.id, refund_id=refund.id, payment_reference=order.payment_reference or "",
            amount=amount, currency=order.currency, reason=reason,
        ))
    else:  # a line made free by a coupon: nothing to send back, but its goods are still taken back
        refund.amount = 0
    _apply_refund(order, refund, lines, now, user, HistoryNote.REFUND, reason=reason)
    db.session.flush()
    return refund


def _still_refundable(order: Order, lines: list[OrderLine]) -> list[int]:
    """What giving back each of `lines` sends the buyer: its total and its shipping, less what partial refunds
    made at the provider already gave back of it, and never more, all told, than the order still holds."""
    from marketplace.royalties import posting

    already = posting.refunded_by_line(order.id) if order.refunded_amount else {}
    amounts = [max(line.total + line.shipping - already.get(line.id, 0), 0) for line in lines]
    held = order.total - order.refunded_amount
    if sum(amounts) > held:  # a chargeback shrank what the ledger could attribute: the order's own sum decides
        amounts = posting.allocate_by_weights(held, amounts) if held > 0 else [0] * len(amounts)
    return amounts


def _apply_refund(order: Order, refund: Refund, lines: list[OrderLine], now: datetime, actor, note: str, **params) -> None:
    """Take back what the lines granted, post the reversal to the ledger, move the order's state."""
    from marketplace.royalties import posting

    amount = refund.amount
    for line in lines:
        revoke = _kind_hook(line, "revoke")
        if revoke is not None:
            revoke(line)
    db.session.flush()  # the ledger names the refund
    posting.post_refund(order, refund, lines, now)
    order.refunded_amount += amount
    everything = all(line.refunded_at is not None for line in order.lines)
    target = OrderStatus.REFUNDED if everything else OrderStatus.PARTIALLY_REFUNDED
    _move(order, target, actor, note, amount=amount, currency=order.currency, **params)


def record_external_refund(order: Order, refunded_total: int, gateway_reference: str | None, now: datetime) -> PaymentOutcome:
    """The provider reports `refunded_total` refunded on the (locked) order's payment. Whatever Encore has not
    recorded yet was refunded outside Encore (the provider's dashboard): it is recorded, and when the whole
    payment is back every remaining line is taken back; a partial one is flagged for an operator."""
    missing = refunded_total - order.refunded_amount
    if missing <= 0 or order.status not in PAID_STATES:
        return PaymentOutcome("ignored", order)
    missing = min(missing, order.total - order.refunded_amount)
    refund = Refund(order_id=order.id, amount=missing, currency=order.currency, reason="", actor_id=None,
                    gateway_reference=gateway_reference)
    db.session.add(refund)
    lines = []
    if order.refunded_amount + missing >= order.total:
        lines = [line for line in order.lines if line.refunded_at is None]
        for line, line_amount in zip(lines, _still_refundable(order, lines)):
            line.refunded_at = now
            refund.lines.append(RefundLine(order_line_id=line.id, amount=line_amount))
    else:
        order.needs_attention = True
        order.attention_note = HistoryNote.EXTERNAL_REFUND
    _apply_refund(order, refund, lines, now, None, HistoryNote.EXTERNAL_REFUND)
    db.session.flush()
    return PaymentOutcome("refunded", order, (f"refund:{refund.id}",))


def record_chargeback(order: Order, dispute_id: str, amount: int, currency: str | None, now: datetime) -> PaymentOutcome:
    """The buyer's bank disputed the (locked) order's payment and the provider took `amount` back. The
    ledger takes it back from everyone's share (once per dispute); an operator is asked to look at it."""
    from marketplace.royalties import posting

    if order.status not in (*PAID_STATES, OrderStatus.REFUNDED) or not dispute_id:
        return PaymentOutcome("ignored", order)
    if (currency or order.currency).upper() != order.currency:
        return PaymentOutcome("ignored", order)
    if posting.post_chargeback(order, dispute_id, max(int(amount or 0), 0), now) is None:
        return PaymentOutcome("ignored", order)
    order.needs_attention = True
    order.attention_note = HistoryNote.CHARGEBACK
    _record(order, order.status, None, HistoryNote.CHARGEBACK, amount=int(amount or 0), currency=order.currency)
    return PaymentOutcome("chargeback", order)


def record_gateway_fee(order: Order, fee: int, reference: str | None, now: datetime) -> PaymentOutcome:
    """The provider reports the fee it kept from the (locked, paid) order's payment: posted once."""
    from marketplace.royalties import posting

    if order.status not in (*PAID_STATES, OrderStatus.REFUNDED) or fee <= 0:
        return PaymentOutcome("ignored", order)
    posted = posting.post_gateway_fee(order, fee, reference, now)
    return PaymentOutcome("fee_recorded" if posted else "ignored", order)


# ---------------------------------------------------------------- reading

def can_view(user, order: Order) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.is_operator or order.buyer_id == user.id:
        return True
    creator = user.creator_profile
    return creator is not None and any(line.creator_id == creator.id for line in order.lines)


def visible_lines(user, order: Order) -> list[OrderLine]:
    """The lines this reader may see: all for the buyer and operators, their own for a seller."""
    if user.is_operator or order.buyer_id == user.id:
        return list(order.lines)
    creator = user.creator_profile
    return [line for line in order.lines if creator is not None and line.creator_id == creator.id]


def get_order(user, order_id: int) -> Order:
    """:raise 404: no such order, or one the user may not see (someone else's is indistinguishable)"""
    order = db.session.get(Order, order_id) if isinstance(order_id, int) else None
    if order is None or not can_view(user, order):
        raise NotFound(_("There is no such order."))
    return order


def get_order_by_number(user, number: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.number == number))
    if order is None or not can_view(user, order):
        raise NotFound(_("There is no such order."))
    return order


ORDER_LOADS = (selectinload(Order.lines), selectinload(Order.buyer))


def buyer_orders(user, limit: int = 50, offset: int = 0) -> list[Order]:
    return list(db.session.scalars(
        select(Order).where(Order.buyer_id == user.id).options(*ORDER_LOADS)
        .order_by(Order.id.desc()).limit(limit).offset(offset)
    ))


def seller_orders(user, limit: int = 50, offset: int = 0) -> list[Order]:
    """Orders with at least one line of the streamer's listings. :raise 403: not a streamer"""
    creator = user.creator_profile
    if creator is None:
        raise PermissionDenied(_("Only streamers have sales."))
    has_line = select(OrderLine.order_id).where(OrderLine.creator_id == creator.id)
    return list(db.session.scalars(
        select(Order).where(Order.id.in_(has_line)).options(*ORDER_LOADS)
        .order_by(Order.id.desc()).limit(limit).offset(offset)
    ))


def all_orders(user, status: str | None = None, attention: bool = False, limit: int = 50, offset: int = 0) -> list[Order]:
    """Every order, for operators. :raise 403: not an operator"""
    if not user.is_operator:
        raise PermissionDenied(_("Only operators can see every order."))
    query = select(Order).options(*ORDER_LOADS)
    if status:
        query = query.where(Order.status == status)
    if attention:
        query = query.where(Order.needs_attention.is_(True))
    return list(db.session.scalars(query.order_by(Order.id.desc()).limit(limit).offset(offset)))


@dataclass
class OrderView:
    """An order as one reader may see it: a seller gets their own lines and the totals of those only."""

    order: Order
    lines: list[OrderLine]
    subtotal: Money
    discount: Money
    #: the shipping of the lines shown (all of the order's for its buyer and operators)
    shipping: Money
    #: what the lines shown cost with their shipping
    total: Money
    refunded: Money
    is_buyer: bool
    is_operator: bool
    #: the lines this reader may still refund (none for a buyer who is not an operator or the seller)
    refundable_line_ids: list[int]

    @property
    def id(self) -> int:
        return self.order.id

    @property
    def number(self) -> str:
        return self.order.number

    @property
    def status(self) -> str:
        return self.order.status

    @property
    def whole_order(self) -> bool:
        return len(self.lines) == len(self.order.lines)


def order_view(user, order: Order) -> OrderView:
    lines = visible_lines(user, order)
    whole = len(lines) == len(order.lines)

    def total_of(attr: str) -> Money:
        return order.money(getattr(order, attr) if whole else sum(getattr(line, attr) for line in lines))

    shipping = total_of("shipping_total") if whole else order.money(sum(line.shipping for line in lines))
    total = order.total_money if whole else order.money(sum(line.total + line.shipping for line in lines))
    refunded = order.refunded_money if whole else order.money(
        sum(line.total + line.shipping for line in lines if line.refunded_at))
    refundable = []
    if order.status in PAID_STATES:
        creator = user.creator_profile
        refundable = [line.id for line in lines if line.refunded_at is None
                      and (user.is_operator or (creator is not None and line.creator_id == creator.id))]
    return OrderView(order, lines, total_of("subtotal"), total_of("discount"), shipping, total, refunded,
                     order.buyer_id == user.id, bool(user.is_operator), refundable)
