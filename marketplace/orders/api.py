"""Orders API: checkout from the caller's cart, orders as buyer, seller or operator, refunds."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import jsonify
from app.i18n import current_locale

from app.api import auth, current_api_user
from app.db import utcnow
from app.extensions import csrf, db
from marketplace.orders import checkout, services
from marketplace.orders.schemas import OrderIn, OrderListOut, OrderOut, OrdersQuery, RefundIn
from marketplace.payments import get_gateway

bp = APIBlueprint(
    "orders_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Orders", "description": "Checkout from your cart, your orders and sales, refunds."},
)
csrf.exempt(bp)

#: built once: a schema instance (and the nested ones it builds on first use) is reusable across requests
ORDER_OUT = OrderOut()


def dump(user, order) -> dict:
    view = services.order_view(user, order)
    return {
        "id": order.id,
        "number": order.number,
        "status": order.status,
        "currency": order.currency,
        "subtotal": view.subtotal,
        "discount": view.discount,
        "shipping": view.shipping,
        "total": view.total,
        "shipping_address": order.shipping_address,
        "refunded": view.refunded,
        "coupon": order.coupon_code,
        "payment_url": order.payment_url if order.is_pending and view.is_buyer else None,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
        "created_at": order.created_at,
        "lines": view.lines,
        "history": [
            {"from_status": change.from_status, "to_status": change.to_status, "note": change.note,
             "text": services.describe_note(change), "created_at": change.created_at}
            for change in order.status_changes
        ],
        "refunds": [
            {"id": refund.id, "amount_money": refund.amount_money, "reason": refund.reason,
             "line_ids": [line.order_line_id for line in refund.lines], "created_at": refund.created_at}
            for refund in order.refunds
            if view.whole_order or {line.order_line_id for line in refund.lines} <= {line.id for line in view.lines}
        ],
        "needs_attention": order.needs_attention if view.is_operator else False,
    }


@bp.post("/orders")
@bp.auth_required(auth)
@bp.input(OrderIn, arg_name="body")
@bp.output(OrderOut, status_code=201)
@bp.doc(summary="Check out your cart", responses=[401, 409, 422, 502])
def create_order(body):
    """Creates an order awaiting payment from your cart (which is emptied) and starts its payment: send the
    buyer to `payment_url`. 409: the cart is empty or was just checked out, or the coupon is used up. A cart with
    merch needs `shipping_address`; 422 when a listing does not ship to its country in the order's currency."""
    user = current_api_user()
    return_path = checkout.check_return_path(body["return_url"])
    order = checkout.checkout(user, body["currency"], body["coupon"], return_path, current_locale(),
                              shipping_address=body["shipping_address"])
    # serialised before the commit, which would otherwise expire the order and reload it row by row
    response = jsonify(ORDER_OUT.dump(dump(user, order)))
    db.session.commit()
    response.status_code = 201
    return response


@bp.get("/orders")
@bp.auth_required(auth)
@bp.input(OrdersQuery, location="query", arg_name="query")
@bp.output(OrderListOut)
@bp.doc(summary="Your orders, your sales, or every order", responses=[401, 403])
def list_orders(query):
    user = current_api_user()
    if query["scope"] == "selling":
        orders = services.seller_orders(user)
    elif query["scope"] == "all":
        orders = services.all_orders(user)
    else:
        orders = services.buyer_orders(user)
    return {"items": [dump(user, order) for order in orders]}


@bp.get("/orders/<int:order_id>")
@bp.auth_required(auth)
@bp.output(OrderOut)
@bp.doc(summary="One order", responses=[401, 404])
def get_order(order_id: int):
    """The buyer, the sellers of its lines (their lines only) and operators may see an order."""
    user = current_api_user()
    return dump(user, services.get_order(user, order_id))


@bp.post("/orders/<int:order_id>/cancel")
@bp.auth_required(auth)
@bp.output(OrderOut)
@bp.doc(summary="Cancel an order awaiting payment", responses=[401, 404, 409])
def cancel_order(order_id: int):
    user = current_api_user()
    order = services.cancel_order(user, order_id, utcnow())
    db.session.commit()
    return dump(user, order)


@bp.post("/orders/<int:order_id>/refunds")
@bp.auth_required(auth)
@bp.input(RefundIn, arg_name="body")
@bp.output(OrderOut, status_code=201)
@bp.doc(summary="Refund an order or some of its lines", responses=[401, 403, 404, 409, 422, 502])
def refund_order(order_id: int, body):
    """Operators refund any line; streamers the lines of their own listings. Each refunded line's access is
    revoked; the order becomes `refunded`, or `partially_refunded` while lines remain."""
    user = current_api_user()
    refund = services.refund_order(user, order_id, body["line_ids"], body["reason"], get_gateway(), utcnow())
    refund_id = refund.id
    db.session.commit()
    from marketplace.orders import tasks

    tasks.queue_followups(order_id, (f"refund:{refund_id}",))
    return dump(user, services.get_order(user, order_id))
