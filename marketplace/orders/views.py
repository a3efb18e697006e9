"""Order pages: checkout from the cart, a fan's orders, a streamer's sales, the operators' list, refunds."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.db import utcnow
from app.errors import ValidationFailed, Conflict
from app.extensions import db
from marketplace.orders import checkout as checkout_service
from marketplace.orders import services

bp = Blueprint("orders", __name__, template_folder="templates")


@bp.post("/checkout")
@login_required
def checkout():
    """From the cart page: currency and coupon; on success the fan goes to the payment page."""
    try:
        order = checkout_service.checkout(current_user, request.form.get("currency"), request.form.get("coupon") or None,
                                          None, str(get_locale() or ""))
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        messages = exc.errors.values() if isinstance(exc, ValidationFailed) else [[exc.message]]
        flash(" ".join(m for msgs in messages for m in msgs) or exc.message, "error")
        return redirect(url_for("cart.show"))
    db.session.commit()
    return redirect(order.payment_url)


@bp.get("/orders")
@login_required
def mine():
    return render_template("orders/list.html", orders=services.buyer_orders(current_user), status_label=services.status_label)


@bp.get("/orders/<number>")
@login_required
def detail(number: str):
    order = services.get_order_by_number(current_user, number)
    view = services.order_view(current_user, order)
    return render_template("orders/detail.html", view=view, order=order, status_label=services.status_label,
                           describe_note=services.describe_note)


@bp.post("/orders/<number>/cancel")
@login_required
def cancel(number: str):
    order = services.get_order_by_number(current_user, number)
    services.cancel_order(current_user, order.id, utcnow())
    db.session.commit()
    flash(_("Your order was cancelled."), "success")
    return redirect(url_for("orders.detail", number=number))
