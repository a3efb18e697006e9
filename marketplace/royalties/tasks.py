"""Celery tasks of the royalties: payouts (being built)."""
from __future__ import annotations

from app.tasks import celery_app


@celery_app.task(name="royalties.fetch_gateway_fee", ignore_result=True)
def fetch_gateway_fee(order_id: int, balance_transaction_id: str) -> bool:
    """(being built) Look up the provider's fee for the order's payment and post it."""
    return False
