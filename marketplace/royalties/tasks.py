"""Celery tasks of the royalties: the payout job (beat, hourly), sending one payout, the retry sweep (beat,
every 5 minutes), and looking up a payment's fee at Stripe.

Every task takes ids and is safe to run twice or to be killed half-way: a payout is posted when it is created,
sent with an idempotency key made from its id, and its answer recorded only while it is still pending.
"""
from __future__ import annotations

import logging

from app.db import utcnow
from app.extensions import db
from app.tasks import celery_app
from marketplace.payments.gateway import GatewayUnavailable
from marketplace.royalties import payouts

log = logging.getLogger(__name__)


@celery_app.task(name="royalties.run_payouts", ignore_result=True)
def run_payouts() -> int:
    """Create a payout for every balance due, then queue each to be sent; answers how many were created."""
    created = payouts.create_due_payouts(utcnow())
    queue_sends(created)
    return len(created)


def queue_sends(payout_ids) -> int:
    """Queue sending each payout; answers how many were queued. A broker outage is logged, not raised: the
    payouts are already recorded, and the retry sweep sends what was not queued."""
    queued = 0
    for payout_id in payout_ids:
        try:
            send_payout.delay(payout_id)
            queued += 1
        except GatewayUnavailable:
            queued += 1  # eager mode ran it at once and the provider did not answer: the sweep retries
        except Exception:
            log.exception("could not queue payout %s", payout_id)
    return queued


@celery_app.task(
    name="royalties.send_payout", ignore_result=True, autoretry_for=(GatewayUnavailable,), retry_backoff=30,
    retry_backoff_max=1800, retry_jitter=True, max_retries=6,
)
def send_payout(payout_id: int) -> str:
    """Send one pending payout (a payout that is not pending is left alone); answers its status."""
    return payouts.send_payout(payout_id, utcnow())


@celery_app.task(name="royalties.retry_pending_payouts", ignore_result=True)
def retry_pending_payouts() -> dict:
    """Send again the payouts a provider outage, a lost message or a killed worker left pending."""
    return payouts.retry_pending_payouts(utcnow())


@celery_app.task(
    name="royalties.fetch_gateway_fee", ignore_result=True, autoretry_for=(GatewayUnavailable,), retry_backoff=30,
    max_retries=8,
)
def fetch_gateway_fee(order_id: int, balance_transaction_id: str) -> bool:
    """Look up the fee Stripe kept from the order's payment and post it once; answers whether it was posted."""
    from marketplace.orders import services as orders
    from marketplace.payments import get_gateway

    gateway = get_gateway()
    if gateway.name != "stripe":
        return False
    fee = gateway.balance_transaction_fee(balance_transaction_id)
    try:
        order = orders.lock_order(order_id)
        if order is None:
            db.session.rollback()
            return False
        outcome = orders.record_gateway_fee(order, fee, balance_transaction_id, utcnow())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return outcome.outcome == "fee_recorded"
