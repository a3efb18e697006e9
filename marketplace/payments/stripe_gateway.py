"""The Stripe gateway: Checkout Sessions and refunds through the official library, and webhook signatures.

This is the only module that imports `stripe`: the rest of Encore speaks `PaymentGateway`, so the local
gateway and Stripe stay interchangeable. `sign_payload` builds Stripe's `Stripe-Signature` header; the local
gateway signs its events with it, so both gateways' events pass the same `verify_event`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import stripe
from flask_babel import gettext as _

from marketplace.payments.gateway import (
    SIGNATURE_TOLERANCE_SECONDS,
    BadSignature,
    GatewayUnavailable,
    PaymentRequest,
    PaymentSession,
    PayoutRefused,
    RefundRequest,
    payout_idempotency_key,
)

log = logging.getLogger(__name__)

#: Stripe refuses metadata values longer than this
METADATA_VALUE_LIMIT = 500
#: Checkout's locale for each of Encore's; anything else lets Checkout follow the buyer's browser
CHECKOUT_LOCALES = {"zh_CN": "zh", "zh": "zh", "en": "en"}


def checkout_idempotency_key(order_id: int, order_number: str) -> str:
    # derived from the order, so a double click or a retried request finds the session already made; the
    # random number as well as the id, because SQLite hands a rolled-back order's id to the next order
    return f"encore-order-{order_id}-{order_number}-checkout"


def refund_idempotency_key(refund_id: int) -> str:
    return f"encore-refund-{refund_id}"


def _metadata_value(value: object) -> str:
    return str(value)[:METADATA_VALUE_LIMIT]


def _describe(error: stripe.StripeError) -> str:
    """The parts of a Stripe error worth a log line: kind, status, code, request id and Stripe's message."""
    return (
        f"{type(error).__name__} status={error.http_status} code={error.code} "
        f"request_id={error.request_id} message={error.user_message or str(error)!r}"
    )


class StripeGateway:
    """`PaymentGateway` on Stripe Checkout; `api_base` points it at another address (a local fake in tests)."""

    name = "stripe"

    def __init__(
        self,
        secret_key: str,
        api_base: str | None = None,
        timeout: float = 20,
        max_network_retries: int = 2,
    ):
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else {},
            http_client=stripe.RequestsClient(timeout=timeout),
            max_network_retries=max_network_retries,
        )

    def start_payment(self, request: PaymentRequest) -> PaymentSession:
        metadata = {"order_id": str(request.order_id), "order_number": request.order_number}
        params: dict = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": line.unit_amount,
                        "product_data": {"name": line.name},
                    },
                    "quantity": line.quantity,
                }
                for line in request.lines
            ],
            "client_reference_id": str(request.order_id),
            "metadata": metadata,
            # the PaymentIntent's events carry the order too, not only the session's
            "payment_intent_data": {"metadata": dict(metadata)},
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "locale": CHECKOUT_LOCALES.get(request.locale or "", "auto"),
        }
        if request.customer_email:
            params["customer_email"] = request.customer_email
        if request.expires_at:
            params["expires_at"] = request.expires_at
        try:
            session = self.client.v1.checkout.sessions.create(
                params, {"idempotency_key": checkout_idempotency_key(request.order_id, request.order_number)}
            )
        except stripe.StripeError as error:
            log.warning("Stripe checkout for order %s failed: %s", request.order_id, _describe(error))
            raise GatewayUnavailable(
                _("The payment provider could not be reached; nothing was charged. Try again in a moment.")
            ) from error
        return PaymentSession(reference=session.id, url=session.url, expires_at=getattr(session, "expires_at", None))

    def refund(self, request: RefundRequest) -> str:
        metadata = {key: _metadata_value(value) for key, value in request.metadata.items()}
        metadata.update(order_id=str(request.order_id), refund_id=str(request.refund_id))
        if request.reason:
            # Stripe's own `reason` is a closed list; Encore's words travel in the metadata
            metadata["reason"] = _metadata_value(request.reason)
        params = {
            "payment_intent": request.payment_reference,
            "amount": request.amount,
            "reason": "requested_by_customer",
            "metadata": metadata,
        }
        try:
            refund = self.client.v1.refunds.create(
                params, {"idempotency_key": refund_idempotency_key(request.refund_id)}
            )
        except stripe.StripeError as error:
            log.warning(
                "Stripe refund %s for order %s failed: %s", request.refund_id, request.order_id, _describe(error)
            )
            raise GatewayUnavailable(
                _("The payment provider did not accept the refund; no money was sent back. Try again in a moment.")
            ) from error
        return refund.id

    # ------------------------------------------------------------ Connect: payouts to streamers and brands

    def transfer(self, payout_id: int, amount: int, currency: str, destination: str, metadata: dict) -> str:
        """Send `amount` to the connected account `destination`; answers the transfer id (tr_...). Every
        attempt for one payout carries the same idempotency key, so a retry after a timeout moves money once.
        :raise PayoutRefused: Stripe refused for good (4xx) :raise GatewayUnavailable: no answer, 429 or 5xx"""
        params = {
            "amount": amount,
            "currency": currency.lower(),
            "destination": destination,
            "metadata": {key: _metadata_value(value) for key, value in {**metadata, "payout_id": payout_id}.items()},
            "transfer_group": f"payout-{payout_id}",
        }
        try:
            transfer = self.client.v1.transfers.create(params, {"idempotency_key": payout_idempotency_key(payout_id)})
        except stripe.StripeError as error:
            log.warning("Stripe transfer for payout %s failed: %s", payout_id, _describe(error))
            if _is_permanent(error):
                raise PayoutRefused(error.user_message or str(error) or _("The payment provider refused the payout.")) from error
            raise GatewayUnavailable(
                _("The payment provider could not be reached; the payout will be tried again.")
            ) from error
        return transfer.id

    def connected_account(self, account_id: str) -> dict:
        """The connected account as Stripe knows it (id, charges/payouts enabled, country).
        :raise PayoutRefused: Stripe does not know it :raise GatewayUnavailable: no answer"""
        try:
            account = self.client.v1.accounts.retrieve(account_id)
        except stripe.StripeError as error:
            log.warning("Stripe account lookup %s failed: %s", account_id, _describe(error))
            if _is_permanent(error):
                raise PayoutRefused(_("Stripe does not know this account.")) from error
            raise GatewayUnavailable(_("Stripe could not be reached to check the account. Try again in a moment.")) from error
        return {
            "id": account.id,
            "payouts_enabled": bool(getattr(account, "payouts_enabled", False)),
            "country": getattr(account, "country", None),
        }

    def balance_transaction_fee(self, balance_transaction_id: str) -> int:
        """The fee (minor units) Stripe kept from the payment this balance transaction records.
        :raise GatewayUnavailable: no answer, or Stripe refused"""
        try:
            transaction = self.client.v1.balance_transactions.retrieve(balance_transaction_id)
        except stripe.StripeError as error:
            log.warning("Stripe balance transaction %s lookup failed: %s", balance_transaction_id, _describe(error))
            raise GatewayUnavailable(_("The payment provider could not be reached.")) from error
        return int(getattr(transaction, "fee", 0) or 0)


def _is_permanent(error: stripe.StripeError) -> bool:
    """A 4xx other than 429 (rate limit) and 409 (the same key still in flight): asking again changes nothing."""
    status = error.http_status
    return status is not None and 400 <= status < 500 and status not in (409, 429)


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for `payload`: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload">`."""
    if timestamp is None:
        timestamp = int(time.time())
    signed = f"{timestamp}.".encode() + payload
    signature = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def _header_timestamp(signature_header: str) -> int:
    items = (item.partition("=") for item in signature_header.split(","))
    stamps = [value for key, _sep, value in items if key.strip() == "t"]
    if len(stamps) != 1:
        raise BadSignature("Stripe-Signature header needs exactly one t= timestamp.")
    try:
        return int(stamps[0])
    except ValueError:
        raise BadSignature("Stripe-Signature timestamp is not a whole number.") from None


def verify_event(payload: bytes, signature_header: str | None, secret: str, now: float | None = None) -> dict:
    """Check a webhook's signature and age, and answer its event as a dict.

    The HMAC is checked by Stripe's library. The age is checked here both ways (the library only refuses old
    timestamps, and only against the real clock): a signature from the future is as suspect as a stale one.
    :raise BadSignature: missing or malformed header, wrong secret, changed body, too old or too new, not an event
    """
    if not signature_header:
        raise BadSignature("Missing Stripe-Signature header.")
    if not secret:
        raise BadSignature("No webhook secret is configured.")
    timestamp = _header_timestamp(signature_header)
    try:
        stripe.WebhookSignature.verify_header(payload, signature_header, secret, tolerance=None)
    except stripe.SignatureVerificationError as error:
        raise BadSignature(f"Signature does not match: {error.user_message or error}") from None
    except UnicodeDecodeError:
        raise BadSignature("Body is not UTF-8.") from None
    current = time.time() if now is None else now
    if timestamp < current - SIGNATURE_TOLERANCE_SECONDS:
        raise BadSignature(f"Signature timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} s old.")
    if timestamp > current + SIGNATURE_TOLERANCE_SECONDS:
        raise BadSignature(f"Signature timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} s in the future.")
    try:
        event = json.loads(payload)
    except ValueError:
        raise BadSignature("Body is not JSON.") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise BadSignature("Body is not an event object (needs string id and type).")
    return event
