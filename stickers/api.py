"""The sticker pack API: upload art, manage stickers, read the processing report.

Every change commits once and then, if the art changed, queues the processing task (stickers.tasks); the
answer describes the pack as committed, so right after an upload its processing state reads "queued".
"""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app
from flask_babel import gettext as _
from marshmallow import RAISE

from app.api import auth, current_api_user, optional_api_user
from app.api.errors import problem
from app.errors import NotFound, ValidationFailed
from app.extensions import csrf, db
from app.storage import get_storage
from stickers import services
from stickers.models import StickerPack
from stickers.schemas import (
    SingleStickerOut, StickerImageIn, StickerPackOut, StickerPackPatch, StickerPatch, StickerUploadIn, StickerUploadOut,
)
from stickers.tasks import queue_processing

bp = APIBlueprint(
    "stickers_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Sticker packs", "description": "Sticker art, its processing and the platform exports."},
)
csrf.exempt(bp)  # the API authenticates with bearer tokens, never with the session cookie

PACK = "/sticker-packs/<int:listing_id>"
STICKER = PACK + "/stickers/<int:sticker_id>"


def _commit(pack: StickerPack, revision_before: int) -> None:
    """Commit the change; queue a processing run when the art (or what the exports carry) changed."""
    listing_id, changed = pack.listing_id, pack.revision != revision_before
    db.session.commit()
    if changed:
        queue_processing(listing_id)


def _sticker_out(report: dict, sticker_id: int) -> dict:
    return next(s for s in report["stickers"] if s["id"] == sticker_id)


@bp.patch(STICKER)
@bp.auth_required(auth)
@bp.input(StickerPatch, arg_name="body")
@bp.output(SingleStickerOut)
@bp.doc(responses=[403, 404, 409, 422])
def update_sticker(listing_id: int, sticker_id: int, body):
    """Change a sticker

    Its emoji, keywords and place in the pack (only the members given). The pack's owner only, while the
    listing is a draft, rejected or approved (an approved pack goes back to draft); otherwise 409.
    """
    user = current_api_user()
    pack = services.own_pack(user, listing_id)
    revision = pack.revision
    errors: dict[str, list[str]] = {}
    try:
        services.update_sticker(user, pack, sticker_id, {k: body[k] for k in ("emoji", "keywords") if k in body})
    except ValidationFailed as failed:
        errors.update(failed.errors)
    if "position" in body:
        try:
            services.move_sticker(user, pack, sticker_id, body["position"])
        except ValidationFailed as failed:
            errors.update(failed.errors)
    if errors:
        raise ValidationFailed(errors)
    report = services.pack_report(pack)
    _commit(pack, revision)
    return _sticker_out(report, sticker_id)


@bp.put(STICKER + "/image")
@bp.auth_required(auth)
# multipart bodies refuse unknown fields too (webargs ignores them by default), so a misnamed file field is named
@bp.input(StickerImageIn, location="files", arg_name="upload", unknown=RAISE)
@bp.output(SingleStickerOut)
@bp.doc(responses=[403, 404, 409, 413, 422])
def replace_sticker(listing_id: int, sticker_id: int, upload):
    """Replace a sticker's art

    Multipart upload in the field `file`. The sticker keeps its place, emoji and keywords and is processed
    again in the background; refused art changes nothing and is a 422 naming the file and the reason.
    """
    user = current_api_user()
    pack = services.own_pack(user, listing_id)
    revision = pack.revision
    image = upload["file"]
    services.replace_sticker(user, pack, sticker_id, image.filename or "", image.read(), get_storage())
    report = services.pack_report(pack)
    _commit(pack, revision)
    return _sticker_out(report, sticker_id)


@bp.delete(STICKER)
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(responses=[403, 404, 409])
def delete_sticker(listing_id: int, sticker_id: int):
    """Delete a sticker

    The stickers after it move up one place; the exports are built again in the background.
    """
    user = current_api_user()
    pack = services.own_pack(user, listing_id)
    revision = pack.revision
    services.delete_sticker(user, pack, sticker_id, get_storage())
    _commit(pack, revision)
    return ""


@bp.get(PACK)
@bp.auth_required(auth, optional=True)
@bp.output(StickerPackOut)
@bp.doc(responses=[404])
def get_pack(listing_id: int):
    """A sticker pack's processing report

    Each sticker's status and problems, the processing progress (`state` is empty, queued, processing or
    done) and each platform export's status with the reasons it failed: which platform, which sticker, why.
    Published packs are public; others only for their creator and operators. Poll it after a change.
    """
    return services.pack_report(services.visible_pack(optional_api_user(), listing_id))


@bp.patch(PACK)
@bp.auth_required(auth)
@bp.input(StickerPackPatch, arg_name="body")
@bp.output(StickerPackOut)
@bp.doc(responses=[403, 404, 409, 422])
def update_pack(listing_id: int, body):
    """Change a sticker pack

    Static or animated (only while the pack is empty), the main sticker, and the stickers' order (every
    sticker id once); only the members given. The pack's owner only, while the listing is a draft, rejected
    or approved (an approved pack goes back to draft); otherwise 409.
    """
    user = current_api_user()
    pack = services.own_pack(user, listing_id)
    revision = pack.revision
    errors: dict[str, list[str]] = {}
    if "animated" in body:
        services.set_animated(user, pack, body["animated"])
    if "order" in body:
        try:
            services.reorder_stickers(user, pack, body["order"])
        except ValidationFailed as failed:
            errors.update(failed.errors)
    if "main_sticker_id" in body:
        try:
            services.set_main_sticker(user, pack, body["main_sticker_id"])
        except NotFound as missing:  # a body member, not the address: name the field
            errors["main_sticker_id"] = [missing.message]
    if errors:
        raise ValidationFailed(errors)
    report = services.pack_report(pack)
    _commit(pack, revision)
    return report


@bp.post(PACK + "/stickers")
@bp.auth_required(auth)
@bp.input(StickerUploadIn, location="files", arg_name="upload", unknown=RAISE)
@bp.output(StickerUploadOut, status_code=201)
@bp.doc(responses=[403, 404, 409, 413, 422])
def upload_stickers(listing_id: int, upload):
    """Upload stickers

    Multipart upload of one or more files in the field `files` (or `file`): PNG, WebP, GIF/APNG/animated
    WebP images with a transparent background, or zips of them. Each file is checked on its own: the good
    ones are added at the end of the pack and processed in the background (poll the pack's report), the
    others are listed under `refused` with the reason. When no file could be added the answer is a 422
    problem naming every file under `errors.files`, with the same `refused` list, and the pack is unchanged.
    """
    user = current_api_user()
    pack = services.own_pack(user, listing_id)
    revision = pack.revision
    uploads = upload.get("files", []) + upload.get("file", [])
    result = services.add_stickers(user, pack, [(f.filename or "", f.read()) for f in uploads], get_storage())
    refused = result.refused_messages()
    if not result.added:
        db.session.rollback()
        return _nothing_added(refused)
    report = services.pack_report(pack)
    added = [_sticker_out(report, sticker.id) for sticker in result.added]
    _commit(pack, revision)
    return {"added": added, "refused": refused, "pack": report}


def _nothing_added(refused: list[dict]):
    """422 problem+json naming each file and its reason, with the refusals as a `refused` member too."""
    reasons = [f"{r['file']}: {r['message']}" for r in refused]
    response = problem(
        422, "Unprocessable Content", _("No file was added. %(reasons)s", reasons=" ".join(reasons)), {"files": reasons}
    )
    response.set_data(current_app.json.dumps({**response.get_json(), "refused": refused}))
    return response
