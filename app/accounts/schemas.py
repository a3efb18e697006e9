"""API schemas for tokens, brands and the caller's account; the rules stay in accounts.services."""
from __future__ import annotations

from apiflask import Schema, fields
from marshmallow import pre_dump

from app.api import absolute_url
from app.api.schemas import InputSchema
from app.storage import get_storage


class TokenRequest(InputSchema):
    email = fields.String(required=True, metadata={"example": "mia@example.com"})
    password = fields.String(required=True, load_only=True)
    name = fields.String(metadata={"description": "A label to tell your tokens apart.", "example": "OBS overlay"})


class TokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The first characters of the secret."})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)


class TokenCreated(Schema):
    token = fields.String(metadata={"description": "The secret; shown this once and never stored."})
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()


class TokenList(Schema):
    items = fields.List(fields.Nested(TokenOut))


class BrandRef(Schema):
    slug = fields.String()
    name = fields.String()
    verified = fields.Boolean(metadata={"description": "An operator has checked the brand's identity."})


class BrandOut(BrandRef):
    """A brand answered on its own (verify, unverify).

    Its own class, because BrandRef is first met nested (in /me and the list, whose shorter paths
    apiflask documents first) and would otherwise be registered a second time as "BrandRef1".
    """


class BrandList(Schema):
    items = fields.List(fields.Nested(BrandRef))


class OwnCreatorProfile(Schema):
    handle = fields.String()
    display_name = fields.String()
    bio = fields.String()
    avatar_url = fields.String(allow_none=True)


class MeOut(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    locale = fields.String(allow_none=True)
    roles = fields.List(fields.String(), metadata={"description": "fan, streamer, brand, operator"})
    creator = fields.Nested(OwnCreatorProfile, allow_none=True)
    brands = fields.List(fields.Nested(BrandRef))

    @pre_dump
    def _from_user(self, user, **kwargs):
        profile = user.creator_profile
        return {
            "id": user.id,
            "email": user.email,
            "display_name": user.display_name,
            "locale": user.locale,
            "roles": [str(role) for role in user.roles],
            "creator": None if profile is None else {
                "handle": profile.handle,
                "display_name": profile.display_name,
                "bio": profile.bio,
                "avatar_url": avatar_url(profile),
            },
            "brands": [membership.brand for membership in user.memberships],
        }


def avatar_url(profile) -> str | None:
    return absolute_url(get_storage().url(profile.avatar_key)) if profile.avatar_key else None
