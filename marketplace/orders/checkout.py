"""Checkout: the cart becomes an order and the configured gateway starts collecting its payment.

Both happen in one transaction: when the gateway fails, the order is never created and the cart is kept.
The provider's session is created idempotently per order, so a retried commit cannot charge twice.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urljoin

from flask import current_app, request, url_for
from flask_babel import gettext as _
from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value

from app.db import DirectStatement, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.security import safe_local_path
from marketplace.orders import services
from marketplace.orders.models import Order
from marketplace.payments import get_gateway


#: built once: the payment session is stored with one UPDATE, without the unit of work
_STORE_PAYMENT_SESSION = DirectStatement(
    update(Order.__table__).where(Order.__table__.c.id == bindparam("order_id"))
    .values(payment_session_id=bindparam("payment_session_id"), payment_url=bindparam("payment_url"),
            updated_at=bindparam("updated_at"))
)


def check_return_path(return_url) -> str | None:
    """A return address must be a path on this site; anything else is refused (422), never followed."""
    if return_url in (None, ""):
        return None
    path = safe_local_path(return_url)
    if path is None:
        raise ValidationFailed.one("return_url", _("The return address must be a path on this site, like /orders."))
    return path


def checkout(buyer, currency, coupon_code, return_path: str | None = None, locale: str | None = None,
             shipping_address=None) -> Order:
    """Place the buyer's order from their cart and start its payment; the caller commits. An order with merch
    needs `shipping_address` (see marketplace.merch.shipping.clean_address); without merch it is not stored.

    :raise 409/422: see services.place_order :raise 502: the gateway could not start the payment
    """
    gateway = get_gateway()
    window = timedelta(minutes=current_app.config["ENCORE_PAYMENT_WINDOW_MINUTES"])
    order = services.place_order(buyer, currency, coupon_code, utcnow(), gateway.name, window, locale,
                                 shipping_address=shipping_address)
    order_url = url_for("orders.detail", number=order.number, _external=True)
    success_url = urljoin(request.host_url, return_path) if return_path else order_url + "?paid=1"
    session = gateway.start_payment(services.payment_request(order, success_url, order_url))
    changed = {"payment_session_id": session.reference, "payment_url": session.url, "updated_at": utcnow()}
    _STORE_PAYMENT_SESSION.run(db.session, {"order_id": order.id, **changed})
    for name, value in changed.items():  # the order stays as loaded: nothing for a later flush to write again
        set_committed_value(order, name, value)
    return order
