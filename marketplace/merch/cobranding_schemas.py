"""Shapes of the co-branding API: an invitation sent, a brand's invitations, an answer."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Length, OneOf, Range

from marketplace.royalties.models import BASIS_POINTS
from marketplace.royalties.split_schemas import FULFILLERS, SplitVersionOut


class CobrandingIn(Schema):
    brand_id = fields.Integer(strict=True, required=True)
    brand_bp = fields.Integer(strict=True, required=True, validate=Range(1, BASIS_POINTS), metadata={
        "description": "The brand's share in basis points; the streamer keeps the rest less the platform fee."})
    fulfilled_by = fields.String(validate=OneOf(FULFILLERS), load_default=None, metadata={
        "description": "Who ships the listing's merch: `creator` (default) or `co_brand`."})


class CobrandingListingRef(Schema):
    id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    streamer = fields.String()


class CobrandingInvitationOut(Schema):
    """A co-brand share offered to the brand, with the whole proposed split."""

    id = fields.Integer(metadata={"description": "The share's id: answer it under /cobranding-invitations/<id>."})
    brand_id = fields.Integer()
    name = fields.String()
    role = fields.String()
    bp = fields.Integer()
    accepted = fields.Boolean()
    accepted_at = fields.DateTime(allow_none=True)
    state = fields.String(metadata={"description": "pending, accepted, declined or replaced."})
    comment = fields.String(allow_none=True, metadata={"description": "The reason given with a decline."})
    listing = fields.Nested(CobrandingListingRef)
    split = fields.Nested(SplitVersionOut)


class CobrandingInvitationsOut(Schema):
    items = fields.List(fields.Nested(CobrandingInvitationOut))


class CobrandingAnswerIn(Schema):
    comment = fields.String(load_default=None, allow_none=True, validate=Length(max=500),
                            metadata={"description": "A comment for the streamer (kept with a decline)."})


class CobrandingAnswerOut(Schema):
    id = fields.Integer()
    brand_id = fields.Integer()
    name = fields.String()
    role = fields.String()
    bp = fields.Integer()
    accepted = fields.Boolean()
    accepted_at = fields.DateTime(allow_none=True)
    split_status = fields.String(metadata={"description": "The split version's status after the answer."})
