"""Shapes of the split API: a listing's whole split (current version, the one waiting for answers, the platform's
fee), a proposed split, the shares waiting for the caller, and an operator's platform fee."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Length, OneOf, Range

from marketplace.royalties.models import BASIS_POINTS, FeeBearer, Fulfiller, SplitRole

ROLES = [role.value for role in SplitRole]
BEARERS = [bearer.value for bearer in FeeBearer]
FULFILLERS = [fulfiller.value for fulfiller in Fulfiller]
FULFILLED_BY_DOC = "Who ships the listing's merch: the streamer (`creator`) or the co-brand (`co_brand`)."


class SplitPartyIn(Schema):
    user_id = fields.Integer(strict=True, allow_none=True, metadata={"description": "A user's id (or give brand_id)."})
    brand_id = fields.Integer(strict=True, allow_none=True, metadata={"description": "A brand's id (or give user_id)."})
    role = fields.String(required=True, validate=OneOf(ROLES))
    bp = fields.Integer(strict=True, required=True, validate=Range(0, BASIS_POINTS),
                        metadata={"description": "The party's share in basis points (100 bp = 1%)."})


class SplitIn(Schema):
    parties = fields.List(fields.Nested(SplitPartyIn), required=True, validate=Length(min=1),
                          metadata={"description": "With the platform fee the shares add up to exactly 10000 bp."})
    gateway_fee_bearer = fields.String(validate=OneOf(BEARERS), load_default=None, metadata={
        "description": "Who bears the payment provider's fee: the platform (default) or everyone by share."})
    fulfilled_by = fields.String(validate=OneOf(FULFILLERS), load_default=None, metadata={
        "description": "Who ships the listing's merch: `creator` (default) or `co_brand` (only with a co_brand "
                       "party in the split)."})


class SplitPartyOut(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "The share's id (null in the default split)."})
    user_id = fields.Integer(allow_none=True)
    brand_id = fields.Integer(allow_none=True)
    name = fields.String()
    role = fields.String()
    bp = fields.Integer()
    accepted = fields.Boolean()
    accepted_at = fields.DateTime(allow_none=True)


class SplitPlatformOut(Schema):
    role = fields.String(metadata={"description": "Always `platform`."})
    bp = fields.Integer()


class SplitVersionOut(Schema):
    """One version of a split (used for the version waiting for answers)."""

    version = fields.Integer(allow_none=True)
    status = fields.String()
    platform_fee_bp = fields.Integer()
    gateway_fee_bearer = fields.String()
    fulfilled_by = fields.String(metadata={"description": FULFILLED_BY_DOC})
    created_at = fields.DateTime(allow_none=True)
    parties = fields.List(fields.Nested(SplitPartyOut))
    platform = fields.Nested(SplitPlatformOut)


class SplitOut(Schema):
    listing_id = fields.Integer()
    version = fields.Integer(allow_none=True, metadata={"description": "Null while no split was ever activated."})
    status = fields.String()
    platform_fee_bp = fields.Integer()
    gateway_fee_bearer = fields.String()
    fulfilled_by = fields.String(metadata={"description": FULFILLED_BY_DOC})
    parties = fields.List(fields.Nested(SplitPartyOut))
    platform = fields.Nested(SplitPlatformOut)
    pending = fields.Nested(SplitVersionOut, allow_none=True, metadata={
        "description": "A newer version waiting for parties to accept, or null."})
    default = fields.Boolean(metadata={"description": "True when no split was ever set: the streamer takes all "
                                                      "but the platform fee."})


class OfferListingRef(Schema):
    id = fields.Integer()
    slug = fields.String()
    title = fields.String()


class OfferOut(Schema):
    """A share waiting for the caller's (or their brand's) answer, with the whole proposed split."""

    id = fields.Integer(metadata={"description": "The share's id: accept or decline it under /splits/offers/<id>."})
    user_id = fields.Integer(allow_none=True)
    brand_id = fields.Integer(allow_none=True)
    name = fields.String()
    role = fields.String()
    bp = fields.Integer()
    accepted = fields.Boolean()
    accepted_at = fields.DateTime(allow_none=True)
    listing = fields.Nested(OfferListingRef)
    proposed_by = fields.String(allow_none=True)
    split = fields.Nested(SplitVersionOut)


class OffersOut(Schema):
    items = fields.List(fields.Nested(OfferOut))


class OfferAnswerIn(Schema):
    reason = fields.String(load_default=None, allow_none=True, validate=Length(max=500),
                           metadata={"description": "Why you decline (shown to the streamer)."})


class ShareOut(Schema):
    """A share after its party answered."""

    id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    brand_id = fields.Integer(allow_none=True)
    name = fields.String()
    role = fields.String()
    bp = fields.Integer()
    accepted = fields.Boolean()
    accepted_at = fields.DateTime(allow_none=True)
    split_status = fields.String(metadata={"description": "The version's status after the answer."})


class PlatformFeeIn(Schema):
    bp = fields.Integer(strict=True, required=True, validate=Range(0, BASIS_POINTS))
