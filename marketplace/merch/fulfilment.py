"""Merch fulfilment: the paid merch lines someone must ship, and marking them shipped with a carrier and tracking
number.

Digital lines are delivered by the fulfilment task after payment (marketplace.orders.services.fulfil); merch
lines wait there until whoever ships them marks them shipped. Who ships a line is set by the listing's active
royalty split (`fulfilled_by`): the listing's streamer ("creator", also when there is no split) or the brand
named in it as co-brand ("co_brand"). Operators may ship anything. Marking lines shipped also fulfils them, and
the order becomes fulfilled once every line not refunded is.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from app.accounts.models import BrandMembership, User
from app.errors import Conflict, Errors, NotFound, ValidationFailed
from app.extensions import db
from marketplace import kinds
from marketplace.catalog import services as catalog
from marketplace.merch.models import Variant
from marketplace.orders import services as orders
from marketplace.orders.models import PAID_STATES, Order, OrderLine
from marketplace.royalties.models import Fulfiller, RoyaltySplit, SplitParty, SplitRole, SplitStatus

log = logging.getLogger(__name__)

MAX_CARRIER = 60
MAX_TRACKING = 80
#: the most lines the queue shows at once (oldest payments first)
QUEUE_LIMIT = 500
#: the most lines one shipment marks
MAX_LINES = 100


def physical_kinds() -> list[str]:
    return [kind.code for kind in kinds.all_kinds() if kind.is_physical]


def _ships_clause(user: User):
    """SQL: the order line is one `user` ships (None: every line, for operators)."""
    if catalog.is_operator(user):
        return None
    co_brand_ships = select(RoyaltySplit.id).where(
        RoyaltySplit.listing_id == OrderLine.listing_id, RoyaltySplit.status == SplitStatus.ACTIVE,
        RoyaltySplit.fulfilled_by == Fulfiller.CO_BRAND,
    ).exists()
    creator = user.creator_profile
    clause = OrderLine.creator_id == creator.id if creator is not None else None
    if clause is not None:
        clause = clause & ~co_brand_ships
    brand_ids = select(BrandMembership.brand_id).where(BrandMembership.user_id == user.id)
    brand_ships = select(RoyaltySplit.id).join(SplitParty, SplitParty.split_id == RoyaltySplit.id).where(
        RoyaltySplit.listing_id == OrderLine.listing_id, RoyaltySplit.status == SplitStatus.ACTIVE,
        RoyaltySplit.fulfilled_by == Fulfiller.CO_BRAND, SplitParty.role == SplitRole.CO_BRAND,
        SplitParty.brand_id.in_(brand_ids),
    ).exists()
    return brand_ships if clause is None else (clause | brand_ships)


def _shippable(user: User):
    """Paid, unrefunded merch lines the user ships (shipped or not); not those of an order whose goods were gone
    when its payment arrived (it is being refunded)."""
    query = select(OrderLine).join(Order, Order.id == OrderLine.order_id).where(
        Order.status.in_(PAID_STATES), OrderLine.refunded_at.is_(None), OrderLine.kind.in_(physical_kinds()),
        or_(Order.needs_attention.is_(False), Order.attention_note.is_(None),
            Order.attention_note != orders.HistoryNote.GOODS_GONE))
    clause = _ships_clause(user)
    return query if clause is None else query.where(clause)


@dataclass
class QueueItem:
    line: OrderLine
    variant: Variant | None = None

    @property
    def variant_label(self) -> str | None:
        """The variant's options and SKU ("size: L · HOOD-L"); the line's title already names the options."""
        if self.variant is None:
            return None
        options = ", ".join(f"{name}: {value}" for name, value in (self.variant.options or {}).items())
        return f"{options} · {self.variant.sku}" if options else self.variant.sku


@dataclass
class QueueOrder:
    """One order's lines waiting for the user to ship them."""

    order: Order
    items: list[QueueItem] = field(default_factory=list)

    @property
    def address(self) -> dict | None:
        return self.order.shipping_address


def queue_for(user: User) -> list[OrderLine]:
    """Paid, unrefunded, unshipped merch lines the user must ship, oldest payment first."""
    return list(db.session.scalars(
        _shippable(user).where(OrderLine.shipped_at.is_(None))
        .options(joinedload(OrderLine.order).joinedload(Order.buyer))
        .order_by(Order.paid_at, Order.id, OrderLine.id).limit(QUEUE_LIMIT)
    ))


def queue_by_order(user: User) -> list[QueueOrder]:
    """queue_for grouped by order, each line with its variant."""
    lines = queue_for(user)
    variant_ids = {line.variant_id for line in lines if line.variant_id is not None}
    variants = {v.id: v for v in db.session.scalars(select(Variant).where(Variant.id.in_(variant_ids)))} if variant_ids else {}
    groups: dict[int, QueueOrder] = {}
    for line in lines:
        group = groups.setdefault(line.order_id, QueueOrder(line.order))
        group.items.append(QueueItem(line, variants.get(line.variant_id)))
    return list(groups.values())


@dataclass(frozen=True)
class Shipment:
    order_id: int
    order_number: str
    order_status: str
    line_ids: tuple[int, ...]
    carrier: str
    tracking_number: str
    shipped_at: datetime

    @property
    def email_key(self) -> str:
        return f"shipped:{min(self.line_ids)}"


def _clean(line_ids, carrier, tracking_number) -> tuple[list[int], str, str]:
    errors = Errors()
    if (not isinstance(line_ids, list) or not line_ids or len(line_ids) > MAX_LINES
            or any(isinstance(i, bool) or not isinstance(i, int) for i in line_ids)):
        errors.add("line_ids", _("Choose the lines you shipped."))
    carrier = carrier.strip() if isinstance(carrier, str) else ""
    tracking_number = tracking_number.strip() if isinstance(tracking_number, str) else ""
    if not 1 <= len(carrier) <= MAX_CARRIER:
        errors.add("carrier", _("Enter the carrier (at most %(max)d characters).", max=MAX_CARRIER))
    if not 1 <= len(tracking_number) <= MAX_TRACKING:
        errors.add("tracking_number", _("Enter the tracking number (at most %(max)d characters).", max=MAX_TRACKING))
    errors.raise_if_any()
    return list(dict.fromkeys(line_ids)), carrier, tracking_number


def mark_shipped(user: User, line_ids, carrier, tracking_number, now: datetime) -> Shipment:
    """Mark lines of one order shipped together (one parcel) with its carrier and tracking number; they are
    fulfilled, and the order too once every line not refunded is. The caller commits, then sends the buyer the
    email (queue_shipped_email).

    :raise 404: a line that is not one the user ships (someone else's, not merch, not paid)
    :raise 409: a line already shipped or refunded :raise 422: no lines, lines of several orders, a carrier of
        1-60 or a tracking number of 1-80 characters missing
    """
    line_ids, carrier, tracking_number = _clean(line_ids, carrier, tracking_number)
    found = list(db.session.execute(
        select(OrderLine.id, OrderLine.order_id).where(OrderLine.id.in_(line_ids))
        .where(OrderLine.id.in_(_shippable(user).with_only_columns(OrderLine.id)))
    ))
    if len(found) != len(line_ids):
        missing = sorted(set(line_ids) - {row.id for row in found})
        raise NotFound(_("Line %(id)s is not waiting for you to ship it.", id=missing[0]))
    order_ids = {row.order_id for row in found}
    if len(order_ids) != 1:
        raise ValidationFailed.one("line_ids", _("Mark the lines of one order at a time."))
    order = orders.lock_order(order_ids.pop(), with_buyer=True)
    by_id = {line.id: line for line in order.lines}
    chosen = [by_id[line_id] for line_id in line_ids]
    for line in chosen:  # read again under the lock: a concurrent shipment or refund may have come first
        if line.shipped_at is not None:
            raise Conflict(_("Line %(id)s was already shipped.", id=line.id), field="line_ids")
        if line.refunded_at is not None or order.status not in PAID_STATES:
            raise Conflict(_("Line %(id)s was refunded.", id=line.id), field="line_ids")
    for line in chosen:
        line.shipped_at = now
        line.carrier = carrier
        line.tracking_number = tracking_number
        line.shipped_by_id = user.id
        if line.fulfilled_at is None:
            line.fulfilled_at = now
    orders.record_shipment(order, user, carrier, tracking_number, now)
    orders.complete_if_fulfilled(order, now, user)
    db.session.flush()
    return Shipment(order.id, order.number, order.status, tuple(line.id for line in chosen), carrier,
                    tracking_number, now)


def queue_shipped_email(shipment: Shipment) -> None:
    """After the commit: tell the buyer (a Celery task, sent once per shipment). A broker outage is logged."""
    from marketplace.orders.tasks import send_shipped_email

    try:
        send_shipped_email.delay(shipment.order_id, list(shipment.line_ids))
    except Exception:
        log.exception("could not queue the shipped email of order %s", shipment.order_id)

