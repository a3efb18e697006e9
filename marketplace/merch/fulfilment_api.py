"""Fulfilment API: the merch the caller must ship, and marking lines shipped with a carrier and tracking number.
Handlers parse, call marketplace.merch.fulfilment, commit, then queue the buyer's email."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import jsonify

from app.api import auth, current_api_user
from app.db import utcnow
from app.extensions import csrf, db
from marketplace.merch import fulfilment
from marketplace.merch.fulfilment_schemas import FulfilmentQueueOut, ShipmentIn, ShipmentOut

bp = APIBlueprint(
    "merch_fulfilment_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Fulfilment", "description": "Merch to ship: the queue of paid lines, and shipments."},
)
csrf.exempt(bp)


def queue_payload(group: fulfilment.QueueOrder) -> dict:
    order = group.order
    return {"order_id": order.id, "number": order.number, "buyer_name": order.buyer.display_name,
            "paid_at": order.paid_at, "shipping_address": order.shipping_address,
            "lines": [{"id": item.line.id, "listing_id": item.line.listing_id, "title": item.line.title,
                       "variant_id": item.line.variant_id, "variant": item.variant_label,
                       "quantity": item.line.quantity} for item in group.items]}


@bp.get("/fulfilment")
@bp.auth_required(auth)
@bp.output(FulfilmentQueueOut)
@bp.doc(summary="Merch waiting for you to ship it")
def queue():
    """Paid merch lines not yet shipped that you ship: your listings' (unless their split has the co-brand
    ship), or those of listings co-branded with your brand whose split has the co-brand ship. Operators see
    all. Grouped by order, oldest payment first, with the shipping address."""
    return {"items": [queue_payload(group) for group in fulfilment.queue_by_order(current_api_user())]}


@bp.post("/fulfilment/shipments")
@bp.auth_required(auth)
@bp.input(ShipmentIn, arg_name="body")
@bp.output(ShipmentOut, status_code=201)
@bp.doc(summary="Mark lines shipped", responses=[404, 409, 422])
def ship(body):
    """Lines of one order shipped in one parcel. They are fulfilled (the order too once every line not refunded
    is) and the buyer is emailed the carrier and tracking number."""
    shipment = fulfilment.mark_shipped(current_api_user(), body["line_ids"], body["carrier"],
                                       body["tracking_number"], utcnow())
    payload = ShipmentOut().dump(shipment)
    db.session.commit()
    fulfilment.queue_shipped_email(shipment)
    response = jsonify(payload)
    response.status_code = 201
    return response
