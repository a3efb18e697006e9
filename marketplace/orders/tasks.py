"""Celery tasks of the money path: fulfilment and emails after a payment's commit, and the beat sweep.

Every task takes ids and is safe to run twice: fulfilment claims each line with a guarded update, and an
email is recorded under a unique key in the transaction that sends it.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.db import utcnow
from app.extensions import db
from app.mail import send_email
from app.tasks import celery_app
from marketplace.orders import emails, services
from marketplace.orders.models import PAID_STATES, Order, OrderEmail, OrderLine, OrderStatus, Refund

log = logging.getLogger(__name__)

#: a paid order whose lines are still undelivered this long after payment is queued again by the sweep
FULFIL_RETRY_AFTER = timedelta(minutes=2)


@celery_app.task(name="orders.fulfil_order", ignore_result=True)
def fulfil_order(order_id: int, then_email: str | None = None) -> int:
    """Deliver the order's lines, then (one message instead of two) send the email `then_email` names."""
    message = None
    try:
        order = services.lock_order(order_id, with_buyer=then_email == "confirmation")
        delivered = services.fulfil(order, utcnow())
        if order is not None and then_email == "confirmation":
            # written from the rows just locked and read: after the commit they would be read again
            message = _message(order, None)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if message is not None:
        _send_once(order_id, then_email, *message)
    elif then_email:
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


def _message(order: Order, refund: Refund | None) -> tuple[str, str, str]:
    """(recipient, subject, body) of the order's confirmation, or of the refund's notice."""
    with current_app.test_request_context(base_url=current_app.config["ENCORE_PUBLIC_URL"]):
        subject, body = emails.refund_notice(order, refund) if refund else emails.confirmation(order)
    return order.buyer.email, subject, body


def _send_once(order_id: int, key: str, recipient: str, subject: str, body: str) -> bool:
    """Record the email under its unique key and send it, in one transaction; answers False (sending nothing)
    when it was sent before or a concurrent run holds the key."""
    if services.insert_once(OrderEmail, ("order_id", "key"), order_id=order_id, key=key) is None:
        db.session.rollback()
        return False
    try:
        send_email(recipient, subject, body)
    except Exception:
        db.session.rollback()  # not recorded: the sweep sends it again
        raise
    db.session.commit()
    return True


@celery_app.task(name="orders.sweep", ignore_result=True)
def sweep() -> dict:
    """Expire overdue unpaid orders and queue fulfilment again where a queued one was lost."""
    now = utcnow()
    expired = services.expire_overdue(now)
    db.session.commit()
    stuck = list(db.session.scalars(
        select(Order.id).join(OrderLine).where(
            Order.status == OrderStatus.PAID, Order.paid_at <= now - FULFIL_RETRY_AFTER,
            OrderLine.fulfilled_at.is_(None), OrderLine.refunded_at.is_(None),
        ).distinct().limit(500)
    ))
    unconfirmed = list(db.session.scalars(
        select(Order.id).where(
            Order.status.in_(PAID_STATES), Order.paid_at <= now - FULFIL_RETRY_AFTER, Order.id.not_in(stuck or [0]),
            ~select(OrderEmail.id).where(OrderEmail.order_id == Order.id, OrderEmail.key == "confirmation").exists(),
        ).limit(500)
    ))
    db.session.commit()
    for order_id in stuck:
        queue_followups(order_id, ("fulfil", "confirmation"))  # an email already sent is not sent again
    for order_id in unconfirmed:  # the mail server was down when they were paid
        queue_followups(order_id, ("confirmation",))
    return {"expired": len(expired), "requeued": len(stuck), "emails": len(unconfirmed)}


def queue_followups(order_id: int, work) -> None:
    """Queue the work an order change calls for, after its commit: "fulfil", "confirmation", "refund:<id>",
    "fee:<balance transaction id>".
    A broker outage is logged, not raised: the change already happened, and the sweep retries fulfilment."""
    work = list(work)
    messages = []
    if "fulfil" in work:
        # one message per paid order: the confirmation rides with the fulfilment (the sweep re-sends both)
        email = "confirmation" if "confirmation" in work else None
        messages.append((fulfil_order, (order_id, email)))
        work = [item for item in work if item not in ("fulfil", email)]
    for item in work:
        if item.startswith("fee:"):
            from marketplace.royalties.tasks import fetch_gateway_fee

            messages.append((fetch_gateway_fee, (order_id, item.split(":", 1)[1])))
        else:
            messages.append((send_order_email, (order_id, item)))
    for task, args in messages:
        try:
            task.delay(*args)
        except Exception:
            log.exception("could not queue %s%s", task.name, args)
