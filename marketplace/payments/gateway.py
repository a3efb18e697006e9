"""The payment gateway interface: how checkout starts a payment, how a refund is sent, how events are read.

Two implementations: `local` (a test-mode pay page on Encore itself, the default) and `stripe`
(Checkout Sessions through the official library). Both deliver their events as Stripe-shaped JSON signed
with the webhook secret in Stripe's `Stripe-Signature` scheme, and both go through one handler
(`marketplace.payments.webhooks.receive`), so the rules that make payments count once are exercised the
same way whichever gateway took the money.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from app.errors import ServiceError

#: Stripe refuses signatures older than this by default; Encore also refuses ones this far in the future
SIGNATURE_TOLERANCE_SECONDS = 300


class GatewayUnavailable(ServiceError):
    """The payment provider could not be reached or refused the request (502): nothing was recorded."""

    status_code = 502


class BadSignature(ServiceError):
    """A webhook whose body, signature or timestamp does not check out (400): nothing changes."""

    status_code = 400


@dataclass(frozen=True)
class CheckoutLine:
    name: str
    #: what the buyer pays per unit after the discount, in minor units (the discount is spread over units
    #: so the line items add up to the order's total exactly; see orders.services.gateway_lines)
    unit_amount: int
    quantity: int


@dataclass(frozen=True)
class PaymentRequest:
    """Everything a gateway needs to start collecting an order's payment."""

    order_id: int
    order_number: str
    currency: str  #: ISO code, upper case
    total: int  #: minor units; equals the sum of the lines
    lines: list[CheckoutLine]
    customer_email: str | None
    #: absolute URLs on this site the provider sends the buyer back to
    success_url: str
    cancel_url: str
    locale: str | None = None  #: "zh_CN" or "en"
    #: unix time the provider should stop taking the payment (Stripe accepts 30 minutes to 24 hours ahead)
    expires_at: int | None = None


@dataclass(frozen=True)
class PaymentSession:
    """A started payment: where to send the buyer and the provider's id for it."""

    reference: str  #: the provider's session id (Stripe: cs_...)
    url: str
    expires_at: int | None = None  #: unix time, when the provider says


@dataclass(frozen=True)
class RefundRequest:
    order_id: int
    refund_id: int
    #: the provider's payment id recorded when the order was paid (Stripe: a PaymentIntent id)
    payment_reference: str
    amount: int  #: minor units
    currency: str
    reason: str = ""
    metadata: dict = field(default_factory=dict)


@runtime_checkable
class PaymentGateway(Protocol):
    name: str

    def start_payment(self, request: PaymentRequest) -> PaymentSession:
        """Create the provider's payment for an order. Idempotent per order: starting it twice gives one
        payment. :raise GatewayUnavailable: the provider failed"""

    def refund(self, request: RefundRequest) -> str:
        """Send money back; answers the provider's refund id. Idempotent per refund id.
        :raise GatewayUnavailable: the provider failed or refused"""


class PayoutRefused(ServiceError):
    """The provider refused a payout for good (a 4xx: an invalid or closed destination account, insufficient
    platform funds): retrying the same request would be refused again, so the payout is failed and reversed."""

    status_code = 409


def payout_idempotency_key(payout_id: int) -> str:
    """The key every attempt to send one payout carries, so the provider moves its money once."""
    return f"encore-payout-{payout_id}"
