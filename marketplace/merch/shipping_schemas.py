"""API schemas for shipping profiles: the JSON shapes; the rules stay in marketplace.merch.shipping."""
from __future__ import annotations

from apiflask import Schema, fields

from app.api.schemas import InputSchema, StrictInteger
from app.money import SUPPORTED_CURRENCIES


class RateIn(InputSchema):
    countries = fields.List(fields.String(), required=True,
                            metadata={"description": "ISO 3166-1 alpha-2 codes; each at most once per currency in a profile.",
                                      "example": ["CN"]})
    currency = fields.String(required=True, metadata={"enum": list(SUPPORTED_CURRENCIES), "example": "CNY"})
    amount = StrictInteger(required=True, metadata={"description": "Minor units, at least 0.", "example": 1000})
    free_above = StrictInteger(
        load_default=None, allow_none=True,
        metadata={"description": "Free when the seller's merch in the order comes to at least this (minor units, after "
                                 "the discount); null: never free.", "example": 20000},
    )


class ShippingProfileIn(InputSchema):
    name = fields.String(required=True, metadata={"description": "1 to 80 characters.", "example": "Mainland China"})
    rates = fields.List(fields.Nested(RateIn), required=True, metadata={"description": "At least one rate."})


class RateOut(Schema):
    id = fields.Integer()
    countries = fields.List(fields.String())
    currency = fields.String()
    amount = fields.Integer()
    free_above = fields.Integer(allow_none=True)


class ShippingProfileOut(Schema):
    id = fields.Integer()
    name = fields.String()
    rates = fields.List(fields.Nested(RateOut))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ShippingProfileListOut(Schema):
    items = fields.List(fields.Nested(ShippingProfileOut))
