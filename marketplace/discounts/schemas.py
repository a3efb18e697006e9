"""API schemas for coupons: the JSON shapes; the rules (ranges, ownership) stay in discounts.services."""
from __future__ import annotations

from datetime import timezone

from apiflask import Schema, fields
from marshmallow import pre_dump

from app.api.schemas import InputSchema, StrictInteger
from app.db import utcnow
from app.money import SUPPORTED_CURRENCIES
from marketplace.discounts import services

_CURRENCY = {"enum": list(SUPPORTED_CURRENCIES), "example": "CNY"}


def _time(**kwargs):
    return fields.AwareDateTime(default_timezone=timezone.utc, **kwargs)


class CouponIn(InputSchema):
    code = fields.String(required=True, metadata={"description": "3 to 32 of A-Z 0-9 - _; case-insensitive.", "example": "SPRING-15"})
    kind = fields.String(required=True, metadata={"enum": ["percent", "fixed"]})
    percent_bp = StrictInteger(load_default=None, allow_none=True, metadata={"description": "Percent coupons: 1 to 10000 basis points (1500 = 15 %)."})
    amount = StrictInteger(load_default=None, allow_none=True, metadata={"description": "Fixed coupons: minor units off."})
    currency = fields.String(load_default=None, allow_none=True, metadata={**_CURRENCY, "description": "Fixed coupons: the amount's currency."})
    valid_from = _time(load_default=None, allow_none=True)
    valid_until = _time(load_default=None, allow_none=True)
    max_uses_total = StrictInteger(load_default=None, allow_none=True)
    max_uses_per_buyer = StrictInteger(load_default=None, allow_none=True)
    min_order_amount = StrictInteger(load_default=None, allow_none=True, metadata={"description": "Minor units the coupon's eligible lines must reach."})
    min_order_currency = fields.String(load_default=None, allow_none=True, metadata=_CURRENCY)
    active = fields.Boolean(load_default=True)
    listing_ids = fields.List(StrictInteger(), load_default=list, metadata={"description": "Restrict to these listings of yours; empty = all."})


class CouponPatch(InputSchema):
    active = fields.Boolean()
    valid_until = _time(allow_none=True)
    max_uses_total = StrictInteger(allow_none=True)
    max_uses_per_buyer = StrictInteger(allow_none=True)
    min_order_amount = StrictInteger(allow_none=True)
    min_order_currency = fields.String(allow_none=True, metadata=_CURRENCY)


class PreviewIn(InputSchema):
    code = fields.String(required=True, metadata={"example": "SPRING-15"})
    currency = fields.String(required=True, metadata=_CURRENCY)


class CouponMoney(Schema):
    currency = fields.String()
    amount = fields.Integer(metadata={"description": "Minor units of the currency."})


class CouponOut(Schema):
    id = fields.Integer()
    code = fields.String()
    kind = fields.String()
    percent_bp = fields.Integer(allow_none=True)
    amount = fields.Nested(CouponMoney, allow_none=True, attribute="fixed_money")
    valid_from = fields.DateTime(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)
    max_uses_total = fields.Integer(allow_none=True)
    max_uses_per_buyer = fields.Integer(allow_none=True)
    min_order = fields.Nested(CouponMoney, allow_none=True)
    active = fields.Boolean()
    status = fields.Method("_status", metadata={"description": "active, inactive, scheduled or expired."})
    listing_ids = fields.List(fields.Integer())
    created_at = fields.DateTime()

    def _status(self, coupon):
        return services.status_of(coupon, utcnow())


class CouponList(Schema):
    items = fields.List(fields.Nested(CouponOut))


class PreviewLineOut(Schema):
    listing_id = fields.Integer()
    quantity = fields.Integer()
    subtotal = fields.Nested(CouponMoney)
    discount = fields.Nested(CouponMoney)
    total = fields.Nested(CouponMoney)


class PreviewOut(Schema):
    code = fields.String()
    currency = fields.String()
    lines = fields.List(fields.Nested(PreviewLineOut))
    subtotal = fields.Nested(CouponMoney)
    discount = fields.Nested(CouponMoney)
    total = fields.Nested(CouponMoney)

    @pre_dump
    def _as_dict(self, priced, **kwargs):
        return {
            "code": priced.coupon.code if priced.coupon else None,
            "currency": priced.currency,
            "lines": [
                {"listing_id": line.listing.id, "quantity": line.quantity, "subtotal": line.subtotal,
                 "discount": line.discount, "total": line.total}
                for line in priced.lines
            ],
            "subtotal": priced.subtotal, "discount": priced.discount, "total": priced.total,
        }
