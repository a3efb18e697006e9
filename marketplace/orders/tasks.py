"""Celery tasks of the money path: fulfilment and emails after a payment's commit, and the beat sweep.

Every task takes ids and is safe to run twice: fulfilment claims each line with a guarded update, and an
email is recorded under a unique key in the transaction that sends it.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask.testing import EnvironBuilder
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.db import utcnow
from app.extensions import db
from app.mail import send_email
from app.tasks import celery_app
from marketplace import kinds
from marketplace.orders import emails, services
from marketplace.orders.models import PAID_STATES, Order, OrderEmail, OrderLine, OrderStatus, Refund

log = logging.getLogger(__name__)

#: a paid order whose lines are still undelivered this long after payment is queued again by the sweep
FULFIL_RETRY_AFTER = timedelta(minutes=2)


@celery_app.task(name="orders.fulfil_order", ignore_result=True)
def fulfil_order(order_id: int, then_email: str | None = None) -> int:
    """Deliver the order's lines and (one message instead of two) send the email `then_email` names.

    The confirmation is recorded and sent inside the delivery's transaction, before its commit: one transaction
    instead of two, and still at least once (a crash after sending and before the commit delivers and sends
    again on the sweep's retry). The order's row stays locked while the mail goes out. When it cannot go out
    (mail server down, outbox folder not writable), the lines are delivered without it and the error raised:
    delivery never waits for mail, and the sweep sends the confirmation later."""
    try:
        return _deliver(order_id, then_email)
    except OSError:  # smtplib's errors are OSErrors too
        _deliver(order_id, None)
        raise


def _deliver(order_id: int, then_email: str | None) -> int:
    confirmation = then_email if then_email == "confirmation" else None
    try:
        order = services.lock_for_fulfilment(order_id)
        # the confirmation is recorded by the order's move to fulfilled when it completes the order (PostgreSQL)
        delivered = services.fulfil(order, utcnow(), email_key=confirmation)
        if order is not None and confirmation:
            # written from the rows just locked and read: after the commit they would be read again
            if order.email_recorded is None:
                _record_and_send(order_id, confirmation, *_message(order, None))
            elif order.email_recorded:
                send_email(*_message(order, None))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if then_email and then_email != "confirmation":
        send_order_email(order_id, then_email)
    return delivered


@celery_app.task(name="orders.send_order_email", ignore_result=True)
def send_order_email(order_id: int, key: str) -> bool:
    """Send the email `key` names ("confirmation" or "refund:<id>") once; answers whether this run sent it."""
    order = db.session.scalars(
        select(Order).where(Order.id == order_id).options(joinedload(Order.lines), joinedload(Order.buyer))
    ).unique().one_or_none()
    if order is None:
        return False
    refund = None
    if key.startswith("refund:"):
        refund = db.session.get(Refund, int(key.split(":", 1)[1]))
        if refund is None or refund.order_id != order.id:
            return False
    return _send_once(order.id, key, *_message(order, refund))


@celery_app.task(name="orders.send_shipped_email", ignore_result=True)
def send_shipped_email(order_id: int, line_ids: list[int]) -> bool:
    """Tell the buyer that these lines (one parcel) were shipped, with the carrier and tracking number; sent
    once per parcel (keyed by its first line). Answers whether this run sent it."""
    order = db.session.scalars(
        select(Order).where(Order.id == order_id).options(joinedload(Order.lines), joinedload(Order.buyer))
    ).unique().one_or_none()
    wanted = {int(i) for i in line_ids or []}
    lines = [line for line in order.lines if line.id in wanted and line.shipped_at is not None] if order else []
    if not lines:
        return False
    with _public_request_context():
        subject, body = emails.shipped_notice(order, lines)
    return _send_once(order.id, f"shipped:{min(line.id for line in lines)}", order.buyer.email, subject, body)


def _public_request_context():
    """A request context on ENCORE_PUBLIC_URL, so the emails' links (url_for, _external) point at the site.
    Its environ is built once per app (test_request_context builds it again on every call)."""
    app = current_app._get_current_object()
    environ = app.extensions.get("encore.public_environ")
    if environ is None:
        environ = app.extensions["encore.public_environ"] = EnvironBuilder(
            app, base_url=app.config["ENCORE_PUBLIC_URL"]).get_environ()
    return app.request_context(dict(environ))


def _message(order: Order | services.LockedOrder, refund: Refund | None) -> tuple[str, str, str]:
    """(recipient, subject, body) of the order's confirmation, or of the refund's notice."""
    with _public_request_context():
        subject, body = emails.refund_notice(order, refund) if refund else emails.confirmation(order)
    return order.buyer.email, subject, body


def _send_once(order_id: int, key: str, recipient: str, subject: str, body: str) -> bool:
    """Record the email under its unique key and send it, in one transaction; answers False (sending nothing)
    when it was sent before or a concurrent run holds the key."""
    try:
        sent = _record_and_send(order_id, key, recipient, subject, body)
    except Exception:
        db.session.rollback()  # not recorded: the sweep sends it again
        raise
    if sent:
        db.session.commit()
    else:
        db.session.rollback()
    return sent


def _record_and_send(order_id: int, key: str, recipient: str, subject: str, body: str) -> bool:
    """Record the email under its unique key and send it, in the caller's transaction (which commits, or rolls
    back when this raises); answers False, sending nothing, when it was sent before or a concurrent run holds the
    key (it waits for that run's transaction, as a plain INSERT would)."""
    if services.insert_once(OrderEmail, ("order_id", "key"), order_id=order_id, key=key) is None:
        return False
    send_email(recipient, subject, body)
    return True


@celery_app.task(name="orders.refund_sold_out", ignore_result=True)
def refund_sold_out(order_id: int) -> bool:
    """Refund in full a payment whose goods sold out before it arrived, then tell the fan why (once)."""
    from marketplace.payments import get_gateway

    try:
        refund = services.refund_sold_out(order_id, get_gateway(), utcnow())
        refund_id = refund.id if refund is not None else None
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if refund_id is not None:
        send_order_email(order_id, f"refund:{refund_id}")
    return refund_id is not None


@celery_app.task(name="orders.sweep", ignore_result=True)
def sweep() -> dict:
    """Expire overdue unpaid orders (and release any merch reservation left held past its time), queue
    fulfilment again where a queued one was lost, and the refund of a payment whose goods sold out."""
    from marketplace.merch.services import release_overdue_reservations

    now = utcnow()
    expired = services.expire_overdue(now)
    db.session.commit()
    released = release_overdue_reservations(now)
    db.session.commit()
    sold_out = list(db.session.scalars(
        select(Order.id).where(
            Order.status == OrderStatus.PAID, Order.attention_note == services.HistoryNote.GOODS_GONE,
            Order.paid_at <= now - FULFIL_RETRY_AFTER,
        ).limit(500)
    ))
    stuck = list(db.session.scalars(
        select(Order.id).join(OrderLine).where(
            Order.status == OrderStatus.PAID, Order.paid_at <= now - FULFIL_RETRY_AFTER,
            OrderLine.fulfilled_at.is_(None), OrderLine.refunded_at.is_(None), Order.id.not_in(sold_out or [0]),
            # physical lines are fulfilled when shipped, not by the task: waiting for the parcel is not stuck
            OrderLine.kind.not_in([kind.code for kind in kinds.all_kinds() if kind.is_physical] or [""]),
        ).distinct().limit(500)
    ))
    unconfirmed = list(db.session.scalars(
        select(Order.id).where(
            Order.status.in_(PAID_STATES), Order.paid_at <= now - FULFIL_RETRY_AFTER, Order.id.not_in((stuck + sold_out) or [0]),
            ~select(OrderEmail.id).where(OrderEmail.order_id == Order.id, OrderEmail.key == "confirmation").exists(),
        ).limit(500)
    ))
    db.session.commit()
    for order_id in stuck:
        queue_followups(order_id, ("fulfil", "confirmation"))  # an email already sent is not sent again
    for order_id in unconfirmed:  # the mail server was down when they were paid
        queue_followups(order_id, ("confirmation",))
    for order_id in sold_out:  # the provider could not be reached when the refund first ran
        queue_followups(order_id, (services.SOLD_OUT_REFUND,))
    result = {"expired": len(expired), "requeued": len(stuck), "emails": len(unconfirmed)}
    # reported only when they happened (they rarely do)
    result.update({name: value for name, value in (("released", released), ("sold_out_refunds", len(sold_out))) if value})
    return result


def queue_followups(order_id: int, work) -> None:
    """Queue the work an order change calls for, after its commit: "fulfil", "confirmation", "refund:<id>",
    "fee:<balance transaction id>", "sold_out_refund".
    A broker outage is logged, not raised: the change already happened, and the sweep retries fulfilment."""
    work = list(work)
    messages = []
    if "fulfil" in work:
        # one message per paid order: the confirmation rides with the fulfilment (the sweep re-sends both)
        email = "confirmation" if "confirmation" in work else None
        messages.append((fulfil_order, (order_id, email)))
        work = [item for item in work if item not in ("fulfil", email)]
    for item in work:
        if item == services.SOLD_OUT_REFUND:
            messages.append((refund_sold_out, (order_id,)))
        elif item.startswith("fee:"):
            from marketplace.royalties.tasks import fetch_gateway_fee

            messages.append((fetch_gateway_fee, (order_id, item.split(":", 1)[1])))
        else:
            messages.append((send_order_email, (order_id, item)))
    for task, args in messages:
        try:
            task.delay(*args)
        except Exception:
            log.exception("could not queue %s%s", task.name, args)
