"""API schemas for live rooms and streamers' public profiles; the rules stay in liverooms.services."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import OneOf
from marshmallow import pre_dump

from app.accounts.schemas import avatar_url
from app.api import external_url
from app.api.schemas import InputSchema
from app.liverooms.models import Platform
from app.liverooms.services import rooms_of

PLATFORMS = [platform.value for platform in Platform]


class LiveRoomPatch(InputSchema):
    platform = fields.String(validate=OneOf(PLATFORMS), metadata={"example": "douyin"})
    url = fields.String(metadata={"example": "https://live.douyin.com/123456"})
    title = fields.String(metadata={"example": "Night studio"})


class LiveRoomIn(LiveRoomPatch):
    platform = fields.String(required=True, validate=OneOf(PLATFORMS), metadata={"example": "douyin"})
    url = fields.String(required=True, metadata={"example": "https://live.douyin.com/123456"})
    title = fields.String(required=True, metadata={"example": "Night studio"})


class LiveRoomOut(Schema):
    id = fields.Integer()
    platform = fields.String(metadata={"enum": PLATFORMS})
    url = fields.String()
    title = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class LiveRoomList(Schema):
    items = fields.List(fields.Nested(LiveRoomOut))


class CreatorOut(Schema):
    handle = fields.String()
    display_name = fields.String()
    bio = fields.String()
    avatar_url = fields.String(allow_none=True)
    live_rooms = fields.List(fields.Nested(LiveRoomOut))
    url = fields.String(metadata={"description": "The storefront page."})

    @pre_dump
    def _from_profile(self, creator, **kwargs):
        return {
            "handle": creator.handle,
            "display_name": creator.display_name,
            "bio": creator.bio,
            "avatar_url": avatar_url(creator),
            "live_rooms": rooms_of(creator),
            "url": external_url("catalog.storefront", handle=creator.handle),
        }
