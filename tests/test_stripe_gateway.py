"""The Stripe gateway driven through the real `stripe` library against a local Stripe-shaped server, and
webhook signatures checked with the library's own HMAC."""
from __future__ import annotations

import json
import logging
import pathlib
import re
import time

import pytest
import stripe
from flask_babel import force_locale

from marketplace.payments.gateway import (
    SIGNATURE_TOLERANCE_SECONDS,
    BadSignature,
    CheckoutLine,
    GatewayUnavailable,
    PaymentGateway,
    PaymentRequest,
    RefundRequest,
)
from marketplace.payments.stripe_gateway import StripeGateway, sign_payload, verify_event
from tests.stripe_support import fake_stripe  # noqa: F401

SECRET_KEY = "sk_test_encore"
WEBHOOK_SECRET = "whsec_test_encore"
CHECKOUT = "/v1/checkout/sessions"
REFUNDS = "/v1/refunds"


def gateway_for(fake, **options) -> StripeGateway:
    options.setdefault("timeout", 2)
    return StripeGateway(options.pop("secret_key", SECRET_KEY), api_base=fake.url, **options)


def payment_request(order_id: int = 41, **changes) -> PaymentRequest:
    values = dict(
        order_id=order_id,
        order_number=f"EN-2024-{order_id:05d}",
        currency="USD",
        total=2 * 1250 + 499,
        lines=[CheckoutLine("Neon Night sticker pack", 1250, 2), CheckoutLine("Studio tote", 499, 1)],
        customer_email="fan@example.com",
        success_url="https://encore.test/orders/41/thanks",
        cancel_url="https://encore.test/cart",
        locale="zh_CN",
    )
    values.update(changes)
    return PaymentRequest(**values)


def paid_intent(fake, gateway: StripeGateway, order_id: int = 41) -> str:
    session = gateway.start_payment(payment_request(order_id))
    return fake.complete_session(session.reference)


# starting a payment


def test_start_payment_sends_the_order_to_checkout(fake_stripe):
    gateway: PaymentGateway = gateway_for(fake_stripe)
    assert gateway.name == "stripe"

    session = gateway.start_payment(payment_request())

    [request] = fake_stripe.requests
    assert (request.method, request.path) == ("POST", CHECKOUT)
    assert request.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert request.idempotency_key == "encore-order-41-EN-2024-00041-checkout"
    params = request.params
    assert params["mode"] == "payment"
    assert params["line_items"] == [
        {"price_data": {"currency": "usd", "unit_amount": "1250", "product_data": {"name": "Neon Night sticker pack"}},
         "quantity": "2"},
        {"price_data": {"currency": "usd", "unit_amount": "499", "product_data": {"name": "Studio tote"}},
         "quantity": "1"},
    ]
    assert params["client_reference_id"] == "41"
    assert params["metadata"] == {"order_id": "41", "order_number": "EN-2024-00041"}
    assert params["payment_intent_data"] == {"metadata": {"order_id": "41", "order_number": "EN-2024-00041"}}
    assert params["customer_email"] == "fan@example.com"
    assert params["success_url"] == "https://encore.test/orders/41/thanks"
    assert params["cancel_url"] == "https://encore.test/cart"
    assert params["locale"] == "zh"

    stored = fake_stripe.sessions[session.reference]
    assert session.reference.startswith("cs_test_")
    assert session.url == f"https://checkout.stripe.com/c/pay/{session.reference}"
    assert session.expires_at == stored["expires_at"] > time.time()
    assert stored["amount_total"] == payment_request().total
    assert stored["currency"] == "usd"


@pytest.mark.parametrize("locale, checkout_locale", [("en", "en"), ("zh_CN", "zh"), (None, "auto"), ("fr", "auto")])
def test_checkout_speaks_the_buyers_language(fake_stripe, locale, checkout_locale):
    gateway_for(fake_stripe).start_payment(payment_request(locale=locale))
    assert fake_stripe.requests[0].params["locale"] == checkout_locale


def test_a_buyer_without_email_lets_checkout_ask_for_it(fake_stripe):
    gateway_for(fake_stripe).start_payment(payment_request(customer_email=None))
    assert "customer_email" not in fake_stripe.requests[0].params


def test_starting_the_same_order_twice_gives_one_session(fake_stripe):
    gateway = gateway_for(fake_stripe)
    first = gateway.start_payment(payment_request(41))
    again = gateway.start_payment(payment_request(41))
    other = gateway.start_payment(payment_request(42))

    assert again == first
    assert other.reference != first.reference
    assert len(fake_stripe.sessions) == 2
    assert [r.idempotency_key for r in fake_stripe.requests] == [
        "encore-order-41-EN-2024-00041-checkout", "encore-order-41-EN-2024-00041-checkout", "encore-order-42-EN-2024-00042-checkout"]


def test_a_retried_server_error_still_creates_one_session(fake_stripe):
    fake_stripe.fail_next(500)
    session = gateway_for(fake_stripe, max_network_retries=2).start_payment(payment_request())

    assert list(fake_stripe.sessions) == [session.reference]
    attempts = fake_stripe.requests_to(CHECKOUT)
    assert len(attempts) == 2
    assert {r.idempotency_key for r in attempts} == {"encore-order-41-EN-2024-00041-checkout"}


def test_a_timed_out_request_is_retried_with_the_same_key(fake_stripe):
    # the first attempt reaches Stripe but answers too late; the retry must not make a second session
    fake_stripe.hang_next(1.5)
    session = gateway_for(fake_stripe, timeout=0.5, max_network_retries=1).start_payment(payment_request())

    assert list(fake_stripe.sessions) == [session.reference]
    assert {r.idempotency_key for r in fake_stripe.requests} == {"encore-order-41-EN-2024-00041-checkout"}
    assert len(fake_stripe.requests) == 2


def test_stripe_failing_every_time_is_a_gateway_error(fake_stripe, caplog):
    fake_stripe.fail_next(500, count=3)
    with force_locale("en"), caplog.at_level(logging.WARNING, "marketplace.payments.stripe_gateway"):
        with pytest.raises(GatewayUnavailable) as refused:
            gateway_for(fake_stripe, max_network_retries=2).start_payment(payment_request())

    assert refused.value.status_code == 502
    assert "nothing was charged" in refused.value.message
    assert len(fake_stripe.requests) == 3
    assert fake_stripe.sessions == {}
    assert "order 41" in caplog.text and "status=500" in caplog.text


def test_a_card_error_is_not_retried(fake_stripe):
    fake_stripe.fail_next(402)
    with pytest.raises(GatewayUnavailable):
        gateway_for(fake_stripe, max_network_retries=2).start_payment(payment_request())
    assert len(fake_stripe.requests) == 1
    assert fake_stripe.sessions == {}


def test_a_provider_slower_than_the_timeout_is_a_gateway_error(fake_stripe):
    fake_stripe.hang_next(3)
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable):
        gateway_for(fake_stripe, timeout=0.5, max_network_retries=0).start_payment(payment_request())
    assert time.monotonic() - started < 2.5


def test_an_unreachable_provider_is_a_gateway_error(fake_stripe):
    gateway = StripeGateway(SECRET_KEY, api_base="http://127.0.0.1:9", timeout=1, max_network_retries=0)
    with pytest.raises(GatewayUnavailable):
        gateway.start_payment(payment_request())


def test_a_wrong_api_key_is_a_gateway_error(fake_stripe):
    with pytest.raises(GatewayUnavailable):
        gateway_for(fake_stripe, secret_key="sk_live_not_ours").start_payment(payment_request())
    assert fake_stripe.requests[0].headers["authorization"] == "Bearer sk_live_not_ours"
    assert fake_stripe.sessions == {}


def test_the_gateway_message_follows_the_locale(fake_stripe):
    fake_stripe.fail_next(402)
    with force_locale("en"), pytest.raises(GatewayUnavailable) as refused:
        gateway_for(fake_stripe).start_payment(payment_request())
    assert refused.value.message == (
        "The payment provider could not be reached; nothing was charged. Try again in a moment.")


# refunds


def test_refund_sends_the_payment_the_amount_and_encores_reason(fake_stripe):
    gateway = gateway_for(fake_stripe)
    intent = paid_intent(fake_stripe, gateway)
    long_reason = "Sticker files were corrupted. " * 30

    refund_id = gateway.refund(RefundRequest(
        order_id=41, refund_id=7, payment_reference=intent, amount=1250, currency="USD", reason=long_reason,
        metadata={"requested_by": 3}))

    request = fake_stripe.requests_to(REFUNDS)[0]
    assert request.idempotency_key == "encore-refund-7"
    assert request.params == {
        "payment_intent": intent,
        "amount": "1250",
        "reason": "requested_by_customer",
        "metadata": {"order_id": "41", "refund_id": "7", "requested_by": "3", "reason": long_reason[:500]},
    }
    refund = fake_stripe.refunds[refund_id]
    assert refund_id.startswith("re_test_")
    assert (refund["amount"], refund["currency"], refund["status"]) == (1250, "usd", "succeeded")


def test_the_same_refund_sent_twice_refunds_once(fake_stripe):
    gateway = gateway_for(fake_stripe)
    intent = paid_intent(fake_stripe, gateway)
    request = RefundRequest(order_id=41, refund_id=8, payment_reference=intent, amount=1000, currency="USD")

    assert gateway.refund(request) == gateway.refund(request)
    assert len(fake_stripe.refunds) == 1
    assert fake_stripe.payment_intents[intent]["amount_refunded"] == 1000


@pytest.mark.parametrize("problem", ["unknown payment", "more than was paid", "provider down"])
def test_a_refused_refund_is_a_gateway_error(fake_stripe, problem):
    gateway = gateway_for(fake_stripe, max_network_retries=0)
    intent = paid_intent(fake_stripe, gateway)
    request = RefundRequest(order_id=41, refund_id=9, payment_reference=intent, amount=100, currency="USD")
    if problem == "unknown payment":
        request = RefundRequest(order_id=41, refund_id=9, payment_reference="pi_missing", amount=100, currency="USD")
    elif problem == "more than was paid":
        request = RefundRequest(order_id=41, refund_id=9, payment_reference=intent, amount=10_000, currency="USD")
    else:
        fake_stripe.fail_next(500)

    with force_locale("en"), pytest.raises(GatewayUnavailable) as refused:
        gateway.refund(request)
    assert "no money was sent back" in refused.value.message
    assert fake_stripe.refunds == {}


# webhook signatures


def event_payload(event_id: str = "evt_test_1", kind: str = "checkout.session.completed") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": kind,
                       "data": {"object": {"id": "cs_test_1", "metadata": {"order_id": "41"}}}}).encode()


def test_a_signed_event_verifies():
    payload = event_payload()
    event = verify_event(payload, sign_payload(payload, WEBHOOK_SECRET), WEBHOOK_SECRET)
    assert event == json.loads(payload)


def test_sign_payload_is_stripes_scheme():
    payload = event_payload()
    header = sign_payload(payload, WEBHOOK_SECRET, timestamp=1_700_000_000)

    assert re.fullmatch(r"t=1700000000,v1=[0-9a-f]{64}", header)
    library_signature = stripe.WebhookSignature._compute_signature(f"1700000000.{payload.decode()}", WEBHOOK_SECRET)
    assert header == f"t=1700000000,v1={library_signature}"
    assert header == stripe.WebhookSignature.generate_signature_header(payload.decode(), WEBHOOK_SECRET, 1_700_000_000)
    # and the library's full check (HMAC and its own clock) accepts a fresh one
    fresh = sign_payload(payload, WEBHOOK_SECRET)
    assert stripe.Webhook.construct_event(payload, fresh, WEBHOOK_SECRET)["id"] == "evt_test_1"


def test_a_header_signed_for_several_secrets_verifies_with_any_of_them():
    # Stripe sends one v1 per active secret while a secret is being rolled
    payload = event_payload()
    now = 1_700_000_000
    old = sign_payload(payload, "whsec_old", now).split(",")[1]
    header = f"{sign_payload(payload, WEBHOOK_SECRET, now)},{old}"
    assert verify_event(payload, header, "whsec_old", now=now)["id"] == "evt_test_1"
    assert verify_event(payload, header, WEBHOOK_SECRET, now=now)["id"] == "evt_test_1"


@pytest.mark.parametrize("offset", [-(SIGNATURE_TOLERANCE_SECONDS - 1), SIGNATURE_TOLERANCE_SECONDS - 1, 0])
def test_signatures_within_the_tolerance_verify(offset):
    now = 1_700_000_000
    payload = event_payload()
    assert verify_event(payload, sign_payload(payload, WEBHOOK_SECRET, now + offset), WEBHOOK_SECRET, now=now)


def test_the_library_clock_is_not_what_decides():
    # a signature from 2023 is fine when `now` says it is 2023: every time check uses the injected clock
    payload = event_payload()
    assert verify_event(payload, sign_payload(payload, WEBHOOK_SECRET, 1_700_000_000), WEBHOOK_SECRET,
                        now=1_700_000_100)["id"] == "evt_test_1"


NOW = 1_700_000_000


def _refusals():
    payload = event_payload()
    signed = sign_payload(payload, WEBHOOK_SECRET, NOW)
    signature = signed.split("v1=")[1]

    def resigned(body):
        return body, sign_payload(body, WEBHOOK_SECRET, NOW)

    return {
        "tampered body": (payload.replace(b"41", b"42"), signed),
        "wrong secret": (payload, sign_payload(payload, "whsec_someone_else", NOW)),
        "missing header": (payload, None),
        "empty header": (payload, ""),
        "garbage header": (payload, "garbage"),
        "no timestamp": (payload, f"v1={signature}"),
        "timestamp not a number": (payload, f"t=soon,v1={signature}"),
        "two timestamps": (payload, f"t={NOW},t={NOW + 1},v1={signature}"),
        "no v1 signature": (payload, f"t={NOW},v0={signature}"),
        "signature of another time": (payload, f"t={NOW + 1},v1={signature}"),
        "stale": (payload, sign_payload(payload, WEBHOOK_SECRET, NOW - SIGNATURE_TOLERANCE_SECONDS - 1)),
        "from the future": (payload, sign_payload(payload, WEBHOOK_SECRET, NOW + SIGNATURE_TOLERANCE_SECONDS + 1)),
        "not json": resigned(b"this is not json"),
        "not utf-8": resigned(b"\xff\xfe{}"),
        "a list": resigned(b'[{"id": "evt_1", "type": "x"}]'),
        "no type": resigned(b'{"id": "evt_1", "object": "event"}'),
        "no id": resigned(b'{"type": "checkout.session.completed"}'),
    }


@pytest.mark.parametrize("case", list(_refusals()))
def test_events_that_do_not_check_out_are_refused(case):
    payload, header = _refusals()[case]
    with pytest.raises(BadSignature) as refused:
        verify_event(payload, header, WEBHOOK_SECRET, now=NOW)
    assert refused.value.status_code == 400
    assert refused.value.message


def test_a_webhook_without_a_configured_secret_is_refused():
    payload = event_payload()
    with pytest.raises(BadSignature):
        verify_event(payload, sign_payload(payload, ""), "")


def test_only_the_stripe_gateway_imports_stripe():
    root = pathlib.Path(__file__).resolve().parent.parent
    importers = {
        path.relative_to(root).as_posix()
        for folder in ("app", "marketplace", "stickers", "courses", "licensing")
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*.py")
        if re.search(r"^\s*(import stripe|from stripe\b)", path.read_text(encoding="utf-8"), re.M)
    }
    assert importers <= {"marketplace/payments/stripe_gateway.py"}
