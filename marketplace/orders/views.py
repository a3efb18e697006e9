"""Order pages: checkout from the cart, a fan's orders, a streamer's sales, the operators' list, refunds.

Views parse the form, call marketplace.orders.services, commit once and render or redirect. A refused
refund shows the order again with the reason (422/409); a provider outage records nothing and says so.
"""
from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, flash, redirect, render_template, request, url_for
from app.i18n import current_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.db import utcnow
from app.errors import Conflict, ServiceError, ValidationFailed
from app.extensions import db
from app.i18n import format_money
from app.money import Money
from marketplace import kinds
from marketplace.merch import shipping
from marketplace.orders import checkout as checkout_service
from marketplace.orders import services
from marketplace.orders.models import PAID_STATES, OrderStatus
from marketplace.payments import get_gateway
from marketplace.payments.gateway import GatewayUnavailable

bp = Blueprint("orders", __name__, template_folder="templates")

PAGE_SIZE = 50

#: how each status looks as a badge (macros.badge kinds)
STATUS_BADGES = {
    OrderStatus.PENDING_PAYMENT: "submitted",
    OrderStatus.PAID: "approved",
    OrderStatus.FULFILLED: "success",
    OrderStatus.PARTIALLY_REFUNDED: "submitted",
    OrderStatus.REFUNDED: "neutral",
    OrderStatus.CANCELLED: "archived",
    OrderStatus.EXPIRED: "archived",
}


@bp.app_context_processor
def _order_helpers() -> dict:
    return {"order_status_label": services.status_label,
            "order_status_badge": lambda status: STATUS_BADGES.get(status, "neutral"),
            "describe_order_note": services.describe_note}


def _messages(exc: ServiceError) -> list[str]:
    if isinstance(exc, ValidationFailed):
        return [message for messages in exc.errors.values() for message in messages] or [exc.message]
    return [exc.message]


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10_000 else 1


# ---------------------------------------------------------------- checkout

#: the cart page's address inputs are named address-<field>
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")


def _posted_address() -> dict | None:
    address = {name: request.form.get(f"address-{name}", "").strip() for name in ADDRESS_FIELDS}
    return address if any(address.values()) else None


@bp.post("/checkout")
@login_required
def checkout():
    """From the cart page: currency, coupon and (with merch) the shipping address; on success the fan goes to the
    payment page. A refused address comes back as the cart page with the fields marked (422)."""
    address = _posted_address()
    try:
        order = checkout_service.checkout(current_user, request.form.get("currency"), request.form.get("coupon") or None,
                                          None, current_locale(), shipping_address=address)
    except ValidationFailed as exc:
        db.session.rollback()
        if any(name.startswith("shipping_address") for name in exc.errors):
            from marketplace.cart import views as cart_views

            return cart_views.refused_address(address or {}, exc.errors)
        flash(" ".join(_messages(exc)), "error")
        return redirect(url_for("cart.show"))
    except Conflict as exc:
        db.session.rollback()
        flash(" ".join(_messages(exc)), "error")
        return redirect(url_for("cart.show"))
    except GatewayUnavailable:
        db.session.rollback()  # the order was never created and the cart is kept
        flash(_("The payment provider could not be reached; your cart is unchanged. Try again in a moment."), "error")
        return redirect(url_for("cart.show"))
    db.session.commit()
    return redirect(order.payment_url)


# ---------------------------------------------------------------- a fan's orders

@bp.get("/orders")
@login_required
def mine():
    page = _page_number()
    orders = services.buyer_orders(current_user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("orders/list.html", orders=orders, page=page, has_more=len(orders) == PAGE_SIZE)


def _render_detail(order, errors: dict | None = None, form_error: str | None = None, status: int = 200):
    view = services.order_view(current_user, order)
    paid_return = request.args.get("paid") == "1" and view.is_buyer
    return render_template(
        "orders/detail.html", view=view, order=order, errors=errors or {}, form_error=form_error,
        shipping=view.shipping, total=view.total, country_name=shipping.country_name,
        form=request.form, paid_return=paid_return, attention_text=attention_text,
        # digital lines are delivered within seconds of payment; merch waits for its parcel, not for this page
        delivering=paid_return and order.status == OrderStatus.PAID and any(
            line.fulfilled_at is None and line.refunded_at is None and not getattr(kinds.get(line.kind), "is_physical", False)
            for line in order.lines),
        awaiting_webhook=paid_return and order.status == OrderStatus.PENDING_PAYMENT,
        downloadable_kinds={kind.code for kind in kinds.all_kinds() if not kind.is_physical},
    ), status


@bp.get("/orders/<number>")
@login_required
def detail(number: str):
    return _render_detail(services.get_order_by_number(current_user, number))


@bp.post("/orders/<number>/cancel")
@login_required
def cancel(number: str):
    order = services.get_order_by_number(current_user, number)
    try:
        services.cancel_order(current_user, order.id, utcnow())
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("orders.detail", number=number))
    db.session.commit()
    flash(_("Your order was cancelled."), "success")
    return redirect(url_for("orders.detail", number=number))


# ---------------------------------------------------------------- refunds

def _chosen_line_ids() -> list[int] | None:
    """The ticked lines, or None for "refund everything I may refund" (the whole-order button)."""
    if request.form.get("scope") == "all":
        return None
    chosen = []
    for raw in request.form.getlist("line_ids"):
        if not raw.strip().isdigit():
            raise ValidationFailed.one("line_ids", _("Choose the lines to refund."))
        chosen.append(int(raw))
    if not chosen:
        # an empty selection must not fall through to "everything": the service reads None that way
        raise ValidationFailed.one("line_ids", _("Choose the lines to refund."))
    return chosen


@bp.post("/orders/<number>/refunds")
@login_required
def refund(number: str):
    """Refund the ticked lines (or the whole order) with a reason; operators and the lines' sellers only."""
    order = services.get_order_by_number(current_user, number)
    order_id = order.id
    try:
        refund_row = services.refund_order(current_user, order_id, _chosen_line_ids(), request.form.get("reason"),
                                           get_gateway(), utcnow())
    except ValidationFailed as exc:
        db.session.rollback()
        return _render_detail(services.get_order_by_number(current_user, number), errors=exc.errors, status=422)
    except Conflict as exc:
        db.session.rollback()
        return _render_detail(services.get_order_by_number(current_user, number), form_error=exc.message, status=409)
    except GatewayUnavailable:
        db.session.rollback()
        flash(_("The payment provider could not be reached, so nothing was refunded. Try again in a moment."), "error")
        return redirect(url_for("orders.detail", number=number))
    # ids are read before the commit expires the objects
    refund_id, amount = refund_row.id, refund_row.amount_money
    db.session.commit()
    from marketplace.orders import tasks

    tasks.queue_followups(order_id, (f"refund:{refund_id}",))
    flash(_("Refunded %(amount)s. The buyer will get an email.", amount=format_money(amount)), "success")
    return redirect(url_for("orders.detail", number=number))


# ---------------------------------------------------------------- a streamer's sales

def _sales_chart(views) -> dict[str, list[tuple[str, int, str]]]:
    """Paid sales (minus refunded lines) per listing title, one chart per currency."""
    per_currency: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for view in views:
        if view.order.status not in PAID_STATES:
            continue
        for line in view.lines:
            if line.refunded_at is None:
                per_currency[view.order.currency][line.title] += line.total
    charts = {}
    for currency, totals in sorted(per_currency.items()):
        rows = sorted(totals.items(), key=lambda item: -item[1])[:8]
        charts[currency] = [(title, amount, format_money(Money(amount, currency))) for title, amount in rows]
    return charts


@bp.get("/dashboard/orders")
@login_required
def sales():
    page = _page_number()
    orders = services.seller_orders(current_user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    views = [services.order_view(current_user, order) for order in orders]
    return render_template("orders/sales.html", views=views, charts=_sales_chart(views), page=page,
                           has_more=len(orders) == PAGE_SIZE)


# ---------------------------------------------------------------- operators

def attention_text(order) -> str:
    """The reason an order needs an operator, worded from the history entry that raised it."""
    code = order.attention_note
    if not code:
        return ""
    for change in reversed(order.status_changes):
        if change.note == code:
            return services.describe_note(change)
    from marketplace.orders.models import OrderStatusChange

    return services.describe_note(OrderStatusChange(note=code, to_status=order.status))


@bp.get("/operator/orders")
@login_required
def operator_list():
    status = request.args.get("status", "")
    if status and status not in set(OrderStatus):
        status = ""
    attention = request.args.get("attention") == "1"
    page = _page_number()
    orders = services.all_orders(current_user, status or None, attention, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("orders/operator.html", orders=orders, status=status, attention=attention,
                           statuses=list(OrderStatus), attention_text=attention_text, page=page,
                           has_more=len(orders) == PAGE_SIZE)
