"""API schemas for sticker packs: they fix the JSON shapes and types (and document them); the rules stay in
stickers.services, which names the offending field in a ValidationFailed.

The outputs dump stickers.services.pack_report's dict; the exports object has one member per entry of
stickers.platforms.PLATFORMS, so a new platform shows up here without a change.
"""
from __future__ import annotations

from apiflask import Schema, fields
from marshmallow import INCLUDE, post_dump

from app.api.schemas import InputSchema, StrictInteger
from stickers.models import ExportStatus, ProcessingState, StickerStatus
from stickers.platforms import PLATFORMS
from stickers.services import MAX_KEYWORD_LENGTH, MAX_KEYWORDS


class StrictBoolean(fields.Boolean):
    """A JSON true or false and nothing else: "yes", 1 and "true" are refused, not coerced."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


# ---------------------------------------------------------------- inputs

class StickerUploadIn(Schema):
    """multipart/form-data: one or more files under `files` (or `file`)."""

    files = fields.List(
        fields.File(),
        metadata={
            "description": "PNG, WebP, GIF/APNG/animated WebP images, or zips of them; repeat the field for "
            "several files."
        },
    )
    file = fields.List(fields.File(), metadata={"description": "The same as `files`, for clients that send one file."})


class StickerImageIn(Schema):
    file = fields.File(required=True, metadata={"description": "The sticker's new art: a PNG, WebP, GIF or APNG image."})


class StickerPackPatch(InputSchema):
    animated = StrictBoolean(
        metadata={"description": "Static or animated stickers; can only change while the pack has no stickers."}
    )
    main_sticker_id = StrictInteger(
        metadata={"description": "The sticker whose art becomes the pack's main and tab/tray image."}
    )
    order = fields.List(
        StrictInteger(),
        metadata={"description": "Every sticker id of the pack once, in the new order.", "example": [3, 1, 2]},
    )


class StickerPatch(InputSchema):
    emoji = fields.String(allow_none=True, metadata={"description": "One emoji; null or \"\" clears it.", "example": "😺"})
    keywords = fields.List(
        fields.String(),
        metadata={
            "description": f"Search words, at most {MAX_KEYWORDS} of at most {MAX_KEYWORD_LENGTH} characters; "
            "the list replaces the old one.",
            "example": ["cat", "happy"],
        },
    )
    position = StrictInteger(metadata={"description": "Move the sticker to this 1-based place.", "example": 1})


# ---------------------------------------------------------------- outputs

class StickerProblemOut(Schema):
    """Why a sticker or an export failed: a stable code, the message in the caller's language, and the
    code's parameters as further members (e.g. `platform`, `position`, `limit`)."""

    class Meta:
        unknown = INCLUDE  # documents additionalProperties: the parameters differ per code

    code = fields.String(metadata={"example": "count_not_allowed"})
    message = fields.String(metadata={"example": "LINE needs 8, 16, 24, 32 or 40 stickers; this pack has 5."})

    @post_dump(pass_original=True)
    def _keep_params(self, data, original, **kwargs):
        return {**original, **data}


class StickerOut(Schema):
    id = fields.Integer()
    position = fields.Integer(metadata={"description": "1-based order in the pack; export file names follow it."})
    status = fields.String(metadata={"enum": [status.value for status in StickerStatus]})
    errors = fields.List(fields.Nested(StickerProblemOut), metadata={"description": "What stopped the sticker, then what "
                         "keeps it out of particular platforms."})
    name = fields.String(metadata={"description": "The uploaded file's name; zip members read \"pack.zip/03.png\"."})
    emoji = fields.String(allow_none=True)
    keywords = fields.List(fields.String())
    width = fields.Integer(metadata={"description": "The uploaded art's width in pixels."})
    height = fields.Integer()
    frames = fields.Integer(metadata={"description": "1 for a still image."})


class SingleStickerOut(StickerOut):
    """One sticker, as the pack's report lists it (the answer of the routes that change one sticker; a class
    of its own because the OpenAPI document registers the report's nested StickerOut first)."""


class StickerProcessingOut(Schema):
    state = fields.String(metadata={"enum": [state.value for state in ProcessingState]})
    done = fields.Integer(metadata={"description": "Stickers processed (ready or failed)."})
    total = fields.Integer()


class StickerExportOut(Schema):
    name = fields.String(metadata={"description": "The platform's name.", "example": "LINE"})
    status = fields.String(metadata={"enum": [status.value for status in ExportStatus]})
    errors = fields.List(fields.Nested(StickerProblemOut), metadata={"description": "Why the export failed: which "
                         "sticker and which rule."})
    size = fields.Integer(allow_none=True, metadata={"description": "The zip's size in bytes once ready."})
    parts = fields.Integer(metadata={"description": "How many platform packs the zip holds (WhatsApp splits "
                           "packs of more than 30 stickers)."})


#: one member per platform of the rules table
ExportsOut = Schema.from_dict(
    {code: fields.Nested(StickerExportOut, metadata={"description": rule.name}) for code, rule in PLATFORMS.items()},
    name="StickerExportsOut",
)


class StickerPackOut(Schema):
    listing_id = fields.Integer()
    animated = fields.Boolean()
    main_sticker_id = fields.Integer(allow_none=True, metadata={"description": "The first sticker unless one was chosen."})
    stickers = fields.List(fields.Nested(StickerOut))
    processing = fields.Nested(StickerProcessingOut)
    exports = fields.Nested(ExportsOut)


class RefusedFileOut(Schema):
    file = fields.String(metadata={"description": "The file's name; zip members read \"pack.zip/03.png\".",
                                   "example": "evil.png"})
    code = fields.String(metadata={"example": "type_mismatch"})
    message = fields.String()


class StickerUploadOut(Schema):
    added = fields.List(fields.Nested(StickerOut))
    refused = fields.List(fields.Nested(RefusedFileOut), metadata={"description": "Files that were not added, "
                          "each with the reason; the others were added."})
    pack = fields.Nested(StickerPackOut)
