"""The one handler for payment events, from Stripe's webhook and from the local pay page alike.

An event is verified (signature and age), stored under a unique (gateway, event id), and applied to its
order in the same transaction. A replay, a duplicate delivered concurrently or an event that no longer
applies changes nothing: the unique constraint stops the first kind, the order row lock and the order's
state the others. Fulfilment and emails are queued only after the commit.
"""
from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import bindparam, select

from app.db import DirectStatement, utcnow
from app.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.models import Order, PaymentEvent
from marketplace.payments import webhook_secret
from marketplace.payments.gateway import BadSignature

log = logging.getLogger(__name__)


def receive(payload: bytes, signature_header: str | None) -> str:
    """Verify, store and apply one event, then start its follow-up work; answers the stored outcome
    ("duplicate" for an event seen before). :raise BadSignature: nothing was stored"""
    from marketplace.payments.stripe_gateway import verify_event

    event = verify_event(payload, signature_header, webhook_secret())
    gateway = current_app.config["ENCORE_PAYMENT_GATEWAY"]
    try:
        result = apply_event(event, gateway)
        # read before the commit: touching the order afterwards would open a new transaction (and on
        # SQLite take the write lock) while the follow-up tasks start
        order_id, work, outcome = (result.order.id if result.order else None), result.queue, result.outcome
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if order_id is not None and work:
        from marketplace.orders import tasks

        tasks.queue_followups(order_id, work)
    return outcome


def _metadata_order_id(obj: dict) -> int | None:
    metadata = obj.get("metadata") or {}
    for raw in (metadata.get("order_id"), obj.get("client_reference_id")):
        try:
            return int(raw)
        except (TypeError, ValueError):
            continue
    return None


def _order_for(obj: dict, lock=orders.lock_order) -> Order | orders.LockedOrder | None:
    order_id = _metadata_order_id(obj)
    if order_id is None and obj.get("payment_intent"):
        order_id = db.session.scalar(select(Order.id).where(Order.payment_reference == obj["payment_intent"]))
    return lock(order_id) if order_id is not None else None


#: the events that pay an order: mark_paid takes the order as a LockedOrder (no ORM objects to load for the
#: most frequent event); the others change an Order through the session
PAYMENT_SUCCEEDED = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


#: built once (a cached statement is not compiled again); the SET clause is order_id and outcome
_RECORD_OUTCOME = DirectStatement(PaymentEvent.__table__.update().where(PaymentEvent.__table__.c.id == bindparam("stored_id")))


def apply_event(event: dict, gateway: str) -> orders.PaymentOutcome:
    """Store the event and apply it to its order inside the caller's transaction."""
    event_id = str(event.get("id") or "")
    event_type = str(event.get("type") or "")
    if not event_id or not event_type:
        raise BadSignature("the event has no id or type")
    stored = dict(gateway=gateway, event_id=event_id[:255], type=event_type[:80], outcome="received")
    obj = (event.get("data") or {}).get("object") or {}
    paying_order_id = _metadata_order_id(obj) if event_type in PAYMENT_SUCCEEDED and isinstance(obj, dict) else None
    if paying_order_id is not None and db.session.get_bind().dialect.name == "postgresql":
        # the most frequent event: stored and its order locked in one statement
        stored_id, order = orders.store_event_and_lock_for_payment({**stored, "received_at": utcnow()}, paying_order_id)
        if stored_id is None:
            return orders.PaymentOutcome("duplicate")
    else:
        stored_id = orders.insert_once(PaymentEvent, ("gateway", "event_id"), **stored)
        if stored_id is None:
            return orders.PaymentOutcome("duplicate")
        if not isinstance(obj, dict):
            order = None
        else:
            order = _order_for(obj, orders.lock_for_payment if event_type in PAYMENT_SUCCEEDED else orders.lock_order)
    now = utcnow()
    if order is None:
        result = orders.PaymentOutcome("unknown_order" if event_type in HANDLED else "ignored")
    elif event_type in PAYMENT_SUCCEEDED:
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            result = orders.PaymentOutcome("awaiting_payment", order)
        else:
            result = orders.mark_paid(order, obj.get("payment_intent"), obj.get("amount_total"), obj.get("currency"), now,
                                      event_id=stored_id)
    elif event_type == "checkout.session.expired":
        result = orders.mark_expired(order, now)
    elif event_type == "payment_intent.payment_failed":
        error = obj.get("last_payment_error") or {}
        result = orders.record_payment_failure(order, str(error.get("message") or error.get("code") or ""))
    elif event_type == "checkout.session.async_payment_failed":
        result = orders.record_payment_failure(order, "the delayed payment did not go through")
    elif event_type == "charge.dispute.created":
        result = orders.record_chargeback(order, str(obj.get("id") or ""), _int(obj.get("amount")), obj.get("currency"), now)
    elif event_type in ("charge.succeeded", "charge.updated"):
        result = _gateway_fee(order, obj.get("balance_transaction"), now)
    elif event_type == "charge.refunded":
        refunds = ((obj.get("refunds") or {}).get("data") or [{}])
        result = orders.record_external_refund(order, int(obj.get("amount_refunded") or 0), refunds[0].get("id"), now)
    else:
        result = orders.PaymentOutcome("ignored", order)
    if not result.event_recorded:
        _RECORD_OUTCOME.run(db.session, {
            "stored_id": stored_id, "order_id": order.id if order is not None else None, "outcome": result.outcome,
        })
    if result.outcome in ("unknown_order", "late_payment", "goods_gone", "amount_mismatch"):
        log.warning("payment event %s (%s): %s", event_id, event_type, result.outcome)
    return result


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _gateway_fee(order: Order, balance_transaction, now) -> orders.PaymentOutcome:
    """A charge's balance transaction says what the provider kept. An expanded one is posted at once; an id
    alone is looked up after the commit (royalties.tasks.fetch_gateway_fee)."""
    if isinstance(balance_transaction, dict):
        return orders.record_gateway_fee(order, _int(balance_transaction.get("fee")), balance_transaction.get("id"), now)
    if isinstance(balance_transaction, str) and balance_transaction:
        return orders.PaymentOutcome("fee_pending", order, (f"fee:{balance_transaction}",))
    return orders.PaymentOutcome("ignored", order)


HANDLED = (
    "checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed",
    "checkout.session.expired", "payment_intent.payment_failed", "charge.refunded", "charge.dispute.created",
    "charge.succeeded", "charge.updated",
)
