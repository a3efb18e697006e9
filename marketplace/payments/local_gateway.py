"""The local test-mode gateway: a pay page on Encore itself with Pay and Decline buttons.

Nothing is charged. What it does send is real: Stripe-shaped events, signed with the webhook secret in
Stripe's signature scheme and handed to the same handler as `POST /webhooks/stripe`, so a local payment
exercises every rule a Stripe payment does. It refuses to run in production (see check_payment_config).
"""
from __future__ import annotations

import json
import secrets
import time

from flask import Flask, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from marketplace.payments.gateway import PaymentRequest, PaymentSession, RefundRequest

#: a pay link outlives the order's payment window; the order's own state decides what the page offers
PAY_LINK_MAX_AGE = 7 * 24 * 3600


class LocalGateway:
    name = "local"

    def __init__(self, app: Flask):
        self.serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="encore.local-pay")

    def start_payment(self, request: PaymentRequest) -> PaymentSession:
        token = self.serializer.dumps({"order": request.order_id, "ok": request.success_url, "back": request.cancel_url})
        return PaymentSession(
            reference=f"cs_local_{request.order_number}",
            url=url_for("payments.local_pay", token=token, _external=True),
        )

    def refund(self, request: RefundRequest) -> str:
        return f"re_local_{request.refund_id}"

    def read_token(self, token: str) -> dict | None:
        """The pay link's order id and return addresses, or None for a forged or expired link."""
        try:
            data = self.serializer.loads(token, max_age=PAY_LINK_MAX_AGE)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and isinstance(data.get("order"), int) else None


# ---------------------------------------------------------------- events, shaped as Stripe sends them

def _event(event_type: str, obj: dict) -> dict:
    return {
        "id": f"evt_local_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }


def _metadata(order) -> dict:
    return {"order_id": str(order.id), "order_number": order.number}


def payment_intent_id(order) -> str:
    return f"pi_local_{order.number}"


def completed_event(order, amount: int | None = None) -> dict:
    return _event("checkout.session.completed", {
        "id": order.payment_session_id or f"cs_local_{order.number}",
        "object": "checkout.session",
        "client_reference_id": str(order.id),
        "metadata": _metadata(order),
        "payment_intent": payment_intent_id(order),
        "amount_total": order.total if amount is None else amount,
        "currency": order.currency.lower(),
        "payment_status": "paid",
        "status": "complete",
    })


def local_fee(total: int, fee_bp: int) -> int:
    """The pretend processing fee: `fee_bp` basis points of the payment, rounded half up."""
    return (total * fee_bp + 5_000) // 10_000


def charge_succeeded_event(order, fee: int) -> dict:
    """The charge behind a paid order, with its balance transaction expanded as Stripe can send it: what the
    provider kept (`fee`) is posted to the ledger by the same webhook handler."""
    return _event("charge.succeeded", {
        "id": f"ch_local_{order.number}",
        "object": "charge",
        "amount": order.total,
        "amount_captured": order.total,
        "currency": order.currency.lower(),
        "payment_intent": order.payment_reference or payment_intent_id(order),
        "metadata": _metadata(order),
        "paid": True,
        "status": "succeeded",
        "balance_transaction": {
            "id": f"txn_local_{order.number}",
            "object": "balance_transaction",
            "amount": order.total,
            "fee": fee,
            "net": order.total - fee,
            "currency": order.currency.lower(),
        },
    })


def expired_event(order) -> dict:
    return _event("checkout.session.expired", {
        "id": order.payment_session_id or f"cs_local_{order.number}",
        "object": "checkout.session",
        "client_reference_id": str(order.id),
        "metadata": _metadata(order),
        "payment_status": "unpaid",
        "status": "expired",
    })


def failed_event(order, message: str) -> dict:
    return _event("payment_intent.payment_failed", {
        "id": payment_intent_id(order),
        "object": "payment_intent",
        "amount": order.total,
        "currency": order.currency.lower(),
        "metadata": _metadata(order),
        "last_payment_error": {"code": "card_declined", "message": message},
        "status": "requires_payment_method",
    })


def refunded_event(order, amount_refunded: int) -> dict:
    return _event("charge.refunded", {
        "id": f"ch_local_{order.number}",
        "object": "charge",
        "amount": order.total,
        "amount_refunded": amount_refunded,
        "currency": order.currency.lower(),
        "payment_intent": order.payment_reference or payment_intent_id(order),
        "metadata": _metadata(order),
        "refunded": amount_refunded >= order.total,
    })


def signed(event: dict, secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
    """The event as a webhook body and its Stripe-Signature header."""
    from marketplace.payments.stripe_gateway import sign_payload

    payload = json.dumps(event, separators=(",", ":")).encode()
    return payload, sign_payload(payload, secret, timestamp)
