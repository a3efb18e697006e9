"""API schemas for the cart: the JSON shapes; the rules (ranges, what is on sale) stay in cart.services."""
from __future__ import annotations

from apiflask import Schema, fields
from marshmallow import pre_dump

from app.api.schemas import InputSchema, StrictInteger
from app.money import SUPPORTED_CURRENCIES


class LineIn(InputSchema):
    listing_id = StrictInteger(required=True, metadata={"example": 42})
    quantity = StrictInteger(load_default=1, metadata={"description": "1 to 99; digital items stay at 1.", "example": 1})
    variant_id = StrictInteger(
        load_default=None, allow_none=True, metadata={"description": "The merch variant (size, colour) to buy: required for a merch listing with variants, "
                                   "null otherwise. A sold-out variant is refused (409)."}
    )


class QuantityIn(InputSchema):
    quantity = StrictInteger(required=True, metadata={"description": "1 to 99; digital items stay at 1.", "example": 2})


class CurrencyIn(InputSchema):
    currency = fields.String(required=True, metadata={"enum": list(SUPPORTED_CURRENCIES), "example": "CNY"})


class CartMoney(Schema):
    currency = fields.String()
    amount = fields.Integer(metadata={"description": "Minor units of the currency."})


class CartListingRef(Schema):
    id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    kind = fields.String()


class CartLineOut(Schema):
    id = fields.Integer()
    listing = fields.Nested(CartListingRef)
    variant_id = fields.Integer(allow_none=True)
    quantity = fields.Integer()
    unit_price = fields.Nested(CartMoney, allow_none=True, metadata={"description": "The listing's current price (the variant's own, when it has one)."})
    line_total = fields.Nested(CartMoney, allow_none=True)
    available = fields.Boolean(metadata={"description": "False once the listing is archived or otherwise off sale."})
    problems = fields.List(fields.String(), metadata={"description": "Codes: unavailable, no_price."})


class CartOut(Schema):
    currency = fields.String()
    currencies = fields.List(fields.String(), metadata={"description": "Currencies every listing in the cart offers."})
    lines = fields.List(fields.Nested(CartLineOut))
    subtotal = fields.Nested(CartMoney)
    can_checkout = fields.Boolean()
    problems = fields.List(fields.String(), metadata={"description": "Why checkout is refused. Codes: empty, unavailable, no_price."})

    @pre_dump
    def _as_dict(self, summary, **kwargs):
        return {
            "currency": summary.currency,
            "currencies": summary.currencies,
            "lines": summary.lines,
            "subtotal": summary.subtotal,
            "can_checkout": summary.can_checkout,
            "problems": [str(code) for code in summary.problems],
        }
