"""API schemas for listings: they fix the JSON shapes and types (and document them); the rules stay in
catalog.services, which names the offending field in a ValidationFailed."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Range
from flask_babel import gettext as _
from marshmallow import EXCLUDE, ValidationError, pre_dump

from app.api import absolute_url, external_url
from app.api.schemas import InputSchema, StrictInteger
from app.money import SUPPORTED_CURRENCIES
from app.storage import get_storage
from marketplace import kinds
from marketplace.catalog.models import ListingStatus

MAX_PER_PAGE = 50


def _known_kind(value: str) -> None:
    if kinds.get(value) is None:
        raise ValidationError(_("Choose one of: %(kinds)s.", kinds=", ".join(kinds.codes())))


class PriceIn(InputSchema):
    currency = fields.String(required=True, metadata={"enum": list(SUPPORTED_CURRENCIES), "example": "CNY"})
    amount = StrictInteger(
        required=True, metadata={"description": "Minor units of the currency (1200 CNY = 12.00 yuan).", "example": 1200}
    )


class ListingPatch(InputSchema):
    kind = fields.String(metadata={"description": "A product kind code; cannot change once created.", "example": "sticker_pack"})
    title = fields.String(metadata={"example": "Night owl stickers"})
    slug = fields.String(allow_none=True, metadata={"description": "URL name; made from the title when left out."})
    description = fields.String(allow_none=True)
    tags = fields.List(fields.String(), metadata={"example": ["cute", "cats"]})
    prices = fields.List(fields.Nested(PriceIn), metadata={"description": "At most one price per currency."})
    partners = fields.List(fields.String(), metadata={"description": "Slugs of co-branding brands."})
    shipping_profile_id = StrictInteger(
        allow_none=True,
        metadata={"description": "Merch only: one of your shipping profiles (see /shipping-profiles); null clears it. "
                                 "Merch without one cannot be bought.", "example": 1},
    )


class ListingIn(ListingPatch):
    kind = fields.String(required=True, metadata={"example": "sticker_pack"})
    title = fields.String(required=True, metadata={"example": "Night owl stickers"})
    prices = fields.List(fields.Nested(PriceIn), required=True, metadata={"description": "At most one price per currency."})


class ListingQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.String(validate=_known_kind, metadata={"description": "Only listings of this product kind."})
    creator = fields.String(metadata={"description": "Only listings of the streamer with this handle."})
    page = fields.Integer(load_default=1, validate=Range(min=1))
    per_page = fields.Integer(load_default=12, validate=Range(min=1, max=MAX_PER_PAGE))


class RejectIn(InputSchema):
    reason = fields.String(required=True, metadata={"description": "Shown to the creator."})


class CoverIn(Schema):
    cover = fields.File(required=True, metadata={"description": "A PNG, JPEG, WebP or GIF image."})


class PriceOut(Schema):
    currency = fields.String()
    amount = fields.Integer()


class CreatorRef(Schema):
    handle = fields.String()
    display_name = fields.String()
    url = fields.String()


class PartnerRef(Schema):
    slug = fields.String()
    name = fields.String()


class ListingOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    slug = fields.String()
    description = fields.String()
    status = fields.String(metadata={"enum": [status.value for status in ListingStatus]})
    tags = fields.List(fields.String())
    prices = fields.List(fields.Nested(PriceOut))
    creator = fields.Nested(CreatorRef)
    cover_url = fields.String(allow_none=True)
    thumbnail_url = fields.String(allow_none=True)
    partners = fields.List(fields.Nested(PartnerRef))
    rejection_reason = fields.String(allow_none=True)
    shipping_profile_id = fields.Integer(allow_none=True, metadata={"description": "Merch: the shipping profile it ships by."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    url = fields.String(metadata={"description": "The listing's public page."})

    @pre_dump
    def _from_listing(self, listing, **kwargs):
        storage = get_storage()
        creator = listing.creator
        return {
            "id": listing.id,
            "kind": listing.kind,
            "title": listing.title,
            "slug": listing.slug,
            "description": listing.description,
            "status": listing.status,
            "tags": listing.tag_names,
            "prices": listing.prices,
            "creator": {
                "handle": creator.handle,
                "display_name": creator.display_name,
                "url": external_url("catalog.storefront", handle=creator.handle),
            },
            "cover_url": absolute_url(storage.url(listing.cover_key)) if listing.cover_key else None,
            "thumbnail_url": absolute_url(storage.url(listing.cover_thumb_key)) if listing.cover_thumb_key else None,
            "partners": listing.partner_brands,
            "rejection_reason": listing.rejection_reason,
            "shipping_profile_id": listing.shipping_profile_id,
            "created_at": listing.created_at,
            "updated_at": listing.updated_at,
            "published_at": listing.published_at,
            "url": external_url("catalog.listing", slug=listing.slug),
        }


class ListingList(Schema):
    items = fields.List(fields.Nested(ListingOut))


class ListingPage(ListingList):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()
