"""The webhook endpoint every payment event arrives at, and the local gateway's test-mode pay page."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request
from flask_babel import gettext as _

from app.extensions import csrf, db
from marketplace.orders.models import Order
from marketplace.payments import get_gateway, local_gateway, webhook_secret, webhooks
from marketplace.payments.gateway import BadSignature

bp = Blueprint("payments", __name__, template_folder="templates")

#: what the Decline button reports, as a card network would
DECLINED_MESSAGE = "Your card was declined (test mode)."


@bp.post("/webhooks/stripe")
@csrf.exempt
def stripe_webhook():
    """Stripe (and the local pay page) report payments here; 400 means the event was not accepted."""
    try:
        outcome = webhooks.receive(request.get_data(cache=False), request.headers.get("Stripe-Signature"))
    except BadSignature as exc:
        current_app.logger.warning("refused a webhook: %s", exc.message)
        return jsonify(error=exc.message), 400
    return jsonify(received=True, outcome=outcome)


def _local_order(token: str) -> tuple[Order, dict]:
    gateway = get_gateway()
    if gateway.name != "local":
        abort(404)
    data = gateway.read_token(token)
    order = db.session.get(Order, data["order"]) if data else None
    if order is None:
        abort(404)
    return order, data


def _report_local_fee(order_id: int) -> None:
    """With ENCORE_LOCAL_GATEWAY_FEE_BP set, the pretend provider also reports the fee it kept, as Stripe's
    charge.succeeded does, so the ledger's fee postings are exercised without Stripe."""
    fee_bp = current_app.config.get("ENCORE_LOCAL_GATEWAY_FEE_BP") or 0
    if fee_bp <= 0:
        return
    order = db.session.get(Order, order_id)  # read afresh: the payment was committed by the handler
    if order is None:
        return
    fee = local_gateway.local_fee(order.total, fee_bp)
    if fee <= 0:
        return
    payload, header = local_gateway.signed(local_gateway.charge_succeeded_event(order, fee), webhook_secret())
    webhooks.receive(payload, header)


@bp.get("/pay/local/<token>")
def local_pay(token: str):
    order, data = _local_order(token)
    return render_template("payments/local_pay.html", order=order, token=token, back_url=data["back"])


@bp.post("/pay/local/<token>")
def local_pay_submit(token: str):
    """Pay or Decline: the event goes through the webhook handler exactly as Stripe's would."""
    order, data = _local_order(token)
    if not order.is_pending:
        return redirect(data["back"])
    if request.form.get("action") == "pay":
        event = local_gateway.completed_event(order)
    else:
        event = local_gateway.failed_event(order, DECLINED_MESSAGE)
    payload, header = local_gateway.signed(event, webhook_secret())
    webhooks.receive(payload, header)
    if event["type"] == "checkout.session.completed":
        _report_local_fee(order.id)
        return redirect(data["ok"])
    flash(_("The payment was declined. Try again, or go back to your order."), "error")
    return redirect(request.path)
