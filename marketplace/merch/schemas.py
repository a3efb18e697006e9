"""API schemas for merch variants: the JSON shapes; the rules (ranges, option names, ownership) stay in
merch.services, which names the offending field in a ValidationFailed."""
from __future__ import annotations

from apiflask import Schema, fields
from marshmallow import pre_dump

from app.api.schemas import InputSchema, StrictInteger
from marketplace.catalog.schemas import PriceIn, PriceOut
from marketplace.merch import services
from marketplace.merch.models import MAX_STOCK

_OPTIONS = {"description": "Option name to value, e.g. {\"size\": \"L\", \"colour\": \"black\"}: 1 to 40 characters "
                           "each; every variant of a listing uses the same option names.",
            "example": {"size": "L", "colour": "black"}}
_STOCK = {"description": f"Units that can still be sold, 0 to {MAX_STOCK}; null = unlimited (print on demand). "
                         "Checkout takes units out, an unpaid order that expires puts them back.", "example": 10}
_PRICES = {"description": "The variant's own price per currency, instead of the listing's; empty = the listing's."}


class VariantPatch(InputSchema):
    sku = fields.String(metadata={"description": "1 to 64 characters, unique in the listing.", "example": "HOODIE-L-BLK"})
    options = fields.Dict(keys=fields.String(), values=fields.String(), metadata=_OPTIONS)
    stock = StrictInteger(allow_none=True, metadata=_STOCK)
    weight_grams = StrictInteger(allow_none=True, metadata={"description": "Shipping weight; null = unknown.", "example": 450})
    position = StrictInteger(metadata={"description": "Where the variant is listed among its listing's (0 first)."})
    prices = fields.List(fields.Nested(PriceIn), metadata=_PRICES)
    is_active = fields.Boolean(metadata={"description": "False retires the variant: orders keep it, fans can no longer buy it."})


class VariantIn(VariantPatch):
    sku = fields.String(required=True, metadata={"description": "1 to 64 characters, unique in the listing.", "example": "HOODIE-L-BLK"})
    options = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict, metadata=_OPTIONS)
    stock = StrictInteger(load_default=None, allow_none=True, metadata=_STOCK)


class VariantOut(Schema):
    id = fields.Integer()
    listing_id = fields.Integer()
    sku = fields.String()
    options = fields.Dict(keys=fields.String(), values=fields.String())
    stock = fields.Integer(allow_none=True, metadata={"description": "Units that can still be sold; null = unlimited."})
    available = fields.Boolean(metadata={"description": "Active and in stock (or unlimited): fans can buy it."})
    weight_grams = fields.Integer(allow_none=True)
    position = fields.Integer()
    is_active = fields.Boolean()
    prices = fields.List(fields.Nested(PriceOut), metadata={"description": "The variant's own prices (overrides)."})
    effective_prices = fields.List(fields.Nested(PriceOut), metadata={
        "description": "What a fan pays per currency: the override, else the listing's price."})

    @pre_dump
    def _as_dict(self, variant, **kwargs):
        from marketplace.catalog.models import Listing
        from app.extensions import db

        listing = db.session.get(Listing, variant.listing_id)
        currencies = sorted({price.currency for price in listing.prices} | {price.currency for price in variant.prices})
        effective = [services.price_in(variant, listing, code) for code in currencies]
        return {
            "id": variant.id, "listing_id": variant.listing_id, "sku": variant.sku, "options": variant.options or {},
            "stock": variant.stock, "available": services.is_available(variant), "weight_grams": variant.weight_grams,
            "position": variant.position, "is_active": variant.is_active, "prices": variant.prices,
            "effective_prices": [price for price in effective if price is not None],
        }


class VariantList(Schema):
    items = fields.List(fields.Nested(VariantOut))
