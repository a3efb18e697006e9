"""Shapes of the fulfilment API: the caller's queue of merch to ship, and a shipment."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Length

from marketplace.merch.fulfilment import MAX_CARRIER, MAX_LINES, MAX_TRACKING


class FulfilmentLineOut(Schema):
    id = fields.Integer(metadata={"description": "The order line's id: name it in a shipment's line_ids."})
    listing_id = fields.Integer(allow_none=True)
    title = fields.String()
    variant_id = fields.Integer(allow_none=True)
    variant = fields.String(allow_none=True, metadata={"description": "The variant's options and SKU."})
    quantity = fields.Integer()


class FulfilmentAddressOut(Schema):
    name = fields.String(allow_none=True)
    line1 = fields.String(allow_none=True)
    line2 = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    country = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)


class FulfilmentOrderOut(Schema):
    """An order with the lines the caller still has to ship."""

    order_id = fields.Integer()
    number = fields.String()
    buyer_name = fields.String()
    paid_at = fields.DateTime(allow_none=True)
    shipping_address = fields.Nested(FulfilmentAddressOut, allow_none=True)
    lines = fields.List(fields.Nested(FulfilmentLineOut))


class FulfilmentQueueOut(Schema):
    items = fields.List(fields.Nested(FulfilmentOrderOut))


class ShipmentIn(Schema):
    line_ids = fields.List(fields.Integer(strict=True), required=True, validate=Length(min=1, max=MAX_LINES),
                           metadata={"description": "Lines of one order shipped in one parcel."})
    carrier = fields.String(required=True, validate=Length(min=1, max=MAX_CARRIER))
    tracking_number = fields.String(required=True, validate=Length(min=1, max=MAX_TRACKING))


class ShipmentOut(Schema):
    order_id = fields.Integer()
    order_number = fields.String()
    order_status = fields.String(metadata={"description": "`fulfilled` once every line not refunded is."})
    line_ids = fields.List(fields.Integer())
    carrier = fields.String()
    tracking_number = fields.String()
    shipped_at = fields.DateTime()
