"""API schemas for orders: the JSON shapes; the rules stay in orders.services."""
from __future__ import annotations

from apiflask import Schema, fields

from app.api.schemas import InputSchema, StrictInteger
from app.money import SUPPORTED_CURRENCIES
from marketplace.cart.schemas import CartMoney


class ShippingAddressIn(InputSchema):
    name = fields.String(allow_none=True, metadata={"description": "Required. Who receives the parcel.", "example": "Li Wei"})
    line1 = fields.String(allow_none=True, metadata={"description": "Required.", "example": "88 Century Avenue"})
    line2 = fields.String(allow_none=True, metadata={"example": "Room 1201"})
    city = fields.String(allow_none=True, metadata={"description": "Required.", "example": "Shanghai"})
    region = fields.String(allow_none=True, metadata={"example": "Shanghai"})
    postal_code = fields.String(allow_none=True, metadata={"description": "Required; at most 20 characters.", "example": "200120"})
    country = fields.String(allow_none=True, metadata={"description": "Required. ISO 3166-1 alpha-2 code.", "example": "CN"})
    phone = fields.String(allow_none=True, metadata={"example": "+86 138 0000 0000"})


class ShippingAddressOut(Schema):
    name = fields.String()
    line1 = fields.String()
    line2 = fields.String()
    city = fields.String()
    region = fields.String()
    postal_code = fields.String()
    country = fields.String(metadata={"description": "ISO 3166-1 alpha-2 code."})
    phone = fields.String()


class OrderIn(InputSchema):
    currency = fields.String(required=True, metadata={"enum": list(SUPPORTED_CURRENCIES), "example": "CNY"})
    coupon = fields.String(load_default=None, allow_none=True, metadata={"example": "LIVE20"})
    return_url = fields.String(
        load_default=None, allow_none=True,
        metadata={"description": "A path on this site the buyer returns to after paying, e.g. /orders.", "example": "/orders"},
    )
    shipping_address = fields.Nested(
        ShippingAddressIn, load_default=None, allow_none=True,
        metadata={"description": "Where the merch in the cart is shipped: required when the cart has merch (422 naming each "
                                 "missing field, like shipping_address.city); ignored without merch. Each seller charges "
                                 "shipping by their listings' shipping profiles for this country."},
    )


class RefundIn(InputSchema):
    line_ids = fields.List(
        StrictInteger(), load_default=None, allow_none=True,
        metadata={"description": "The order lines to refund; omitted = every line you may refund."},
    )
    reason = fields.String(required=True, metadata={"example": "The buyer bought it twice."})


class OrdersQuery(Schema):
    scope = fields.String(
        load_default="buying",
        metadata={"enum": ["buying", "selling", "all"],
                  "description": "buying: your orders; selling: orders of your listings (your lines only); all: operators."},
    )


class OrderLineOut(Schema):
    id = fields.Integer()
    listing_id = fields.Integer(allow_none=True)
    kind = fields.String()
    title = fields.String()
    variant_id = fields.Integer(allow_none=True)
    quantity = fields.Integer()
    unit_price = fields.Nested(CartMoney, attribute="unit_price_money")
    subtotal = fields.Nested(CartMoney, attribute="subtotal_money")
    discount = fields.Nested(CartMoney, attribute="discount_money")
    total = fields.Nested(CartMoney, attribute="total_money")
    shipping = fields.Method(
        "_shipping", metadata={"description": "This line's part of its seller's shipping (not part of `total`).",
                               "type": "object", "properties": {"currency": {"type": "string"}, "amount": {"type": "integer"}}},
    )
    fulfilled_at = fields.DateTime(allow_none=True)
    refunded_at = fields.DateTime(allow_none=True)
    shipped_at = fields.DateTime(allow_none=True, metadata={"description": "When the merch line was shipped."})
    carrier = fields.String(allow_none=True, metadata={"description": "The carrier a shipped merch line travels with."})
    tracking_number = fields.String(allow_none=True)

    def _shipping(self, line) -> dict:
        return {"currency": line.order.currency, "amount": line.shipping}


class StatusChangeOut(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    note = fields.String(allow_none=True, metadata={"description": "A code: checkout, payment_failed, refund, ..."})
    text = fields.String(metadata={"description": "The note worded in the caller's language."})
    created_at = fields.DateTime()


class RefundOut(Schema):
    id = fields.Integer()
    amount = fields.Nested(CartMoney, attribute="amount_money")
    reason = fields.String()
    line_ids = fields.List(fields.Integer())
    created_at = fields.DateTime()


class OrderOut(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"example": "EN-261124-7K3Q9P"})
    status = fields.String(metadata={"enum": ["pending_payment", "paid", "fulfilled", "partially_refunded", "refunded",
                                              "cancelled", "expired"]})
    currency = fields.String()
    subtotal = fields.Nested(CartMoney)
    discount = fields.Nested(CartMoney)
    shipping = fields.Nested(CartMoney, metadata={"description": "Shipping of the order's merch (a seller: their part)."})
    total = fields.Nested(CartMoney, metadata={"description": "subtotal - discount + shipping."})
    shipping_address = fields.Nested(ShippingAddressOut, allow_none=True,
                                     metadata={"description": "Where the merch ships; null without merch."})
    refunded = fields.Nested(CartMoney)
    coupon = fields.String(allow_none=True)
    payment_url = fields.String(allow_none=True, metadata={"description": "Where the buyer pays; only while awaiting payment."})
    expires_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    lines = fields.List(fields.Nested(OrderLineOut), metadata={"description": "A seller sees the lines of their own listings only."})
    history = fields.List(fields.Nested(StatusChangeOut))
    refunds = fields.List(fields.Nested(RefundOut))
    needs_attention = fields.Boolean(metadata={"description": "Operators only: something to check."})


class OrderListOut(Schema):
    items = fields.List(fields.Nested(OrderOut))
