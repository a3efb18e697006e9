"""Sticker pack pages: the streamer's sticker editor, the art files, and the public pack section of a listing page.

Views parse the request, call stickers.services, commit once and redirect (or answer JSON to the edit page's
scripts); processing is queued after the commit whenever the art changed. Sticker files live under the
private storage prefix, so they are served here after the access check, never by /media.
"""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import Conflict, NotFound, PermissionDenied, ServiceError, ValidationFailed
from app.extensions import db
from app.i18n import format_file_size
from app.storage import get_storage
from marketplace import downloads
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing, ListingStatus
from stickers import imaging, services
from stickers.models import ProcessingState, StickerPack
from stickers.platforms import PLATFORMS
from stickers.tasks import queue_processing

bp = Blueprint(
    "stickers",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/stickers",
)

#: the art files a sticker has, by the name used in its URL
VARIANTS = {"preview": "preview_key", "thumb": "thumb_key", "full": "master_key"}
PACK_IMAGES = {"main": "main_image_key", "tab": "tab_image_key"}
CONTENT_TYPES = {"png": "image/png", "webp": "image/webp", "gif": "image/gif"}
#: the longest side of the thumbnails and previews stickers.imaging renders (for the img width/height)
IMAGE_SIDES = {"thumb": imaging.THUMB_SIDE, "preview": imaging.PREVIEW_SIDE}
#: a processing state the edit page keeps polling in
BUSY_STATES = {ProcessingState.QUEUED, ProcessingState.PROCESSING}
#: the statuses whose "Submit for review" button the edit page shows (as the catalog dashboard does)
SUBMITTABLE = {ListingStatus.DRAFT, ListingStatus.REJECTED}


# ---------------------------------------------------------------- helpers

def wants_json() -> bool:
    """The edit page's scripts ask for JSON; a plain form post (or a browser) gets HTML."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"




def image_url(pack: StickerPack, sticker, variant: str) -> str | None:
    """The URL of one art file of a sticker, or None while it is not built; the version parameter follows the art."""
    if not getattr(sticker, VARIANTS[variant]):
        return None
    return url_for(
        "stickers.sticker_image", listing_id=pack.listing_id, sticker_id=sticker.id, variant=variant,
        v=sticker.source_digest[:12],
    )


def image_size(sticker, variant: str) -> tuple[int, int]:
    """The pixel size of a sticker's thumbnail or preview: the art scaled to fit the side, never enlarged."""
    side = IMAGE_SIDES[variant]
    scale = min(1.0, side / max(sticker.width, sticker.height, 1))
    return max(1, round(sticker.width * scale)), max(1, round(sticker.height * scale))


def sticker_status_label(status: str, state: str) -> str:
    if status == "ready":
        return _("Ready")
    if status == "failed":
        return _("Failed")
    return _("Processing") if state == ProcessingState.PROCESSING else _("Waiting")


def export_status_label(status: str) -> str:
    return {"ready": _("Ready"), "failed": _("Cannot export")}.get(status, _("Waiting"))


def state_label(state: str) -> str:
    return {
        ProcessingState.EMPTY: _("No stickers yet"),
        ProcessingState.QUEUED: _("Waiting to be processed"),
        ProcessingState.PROCESSING: _("Processing"),
        ProcessingState.DONE: _("Processing done"),
    }.get(state, state)


@bp.context_processor
def _helpers():
    return {
        "sticker_image_url": image_url,
        "sticker_image_size": image_size,
        "sticker_status_label": sticker_status_label,
        "export_status_label": export_status_label,
        "state_label": state_label,
        "file_size": format_file_size,
        "listing_status_label": catalog.status_label,
    }


def _is_editable(pack: StickerPack) -> bool:
    return pack.listing.status in services.EDITABLE_STATUSES


def _page_context(pack: StickerPack, errors: dict | None = None, values: dict | None = None) -> dict:
    report = services.pack_report(pack)
    listing = pack.listing
    return {
        "pack": pack,
        "listing": listing,
        "report": report,
        "errors_by_sticker": {s["id"]: s["errors"] for s in report["stickers"]},
        "editable": _is_editable(pack),
        "busy": pack.processing_state in BUSY_STATES,
        "main_id": report["main_sticker_id"],
        "form_errors": errors or {},
        "form_values": values or {},
        "submittable": listing.status in SUBMITTABLE,
        "submit_problems": services.submit_problems(listing) if listing.status in SUBMITTABLE else [],
    }


def _edit_page(pack: StickerPack, errors: dict | None = None, values: dict | None = None, status: int = 200):
    context = _page_context(pack, errors, values)
    context.update(
        max_upload=format_file_size(request.max_content_length) if request.max_content_length else None,
        max_stickers=services.MAX_STICKERS,
        platforms=[rule.name for rule in PLATFORMS.values()],
    )
    return render_template("stickers/edit.html", **context), status


def _back(listing_id: int, anchor: str | None = None):
    return redirect(url_for("stickers.edit_pack", listing_id=listing_id, _anchor=anchor), code=303)


def _messages(exc: ValidationFailed) -> list[str]:
    return [message for messages in exc.errors.values() for message in messages] or [exc.message]


def _finish(pack: StickerPack, revision: int, message: str, anchor: str | None = None, status: int = 200):
    """Commit once, queue processing if the art changed, then answer (JSON to scripts, else redirect + flash)."""
    listing_id = pack.listing_id
    changed = pack.revision != revision
    db.session.commit()
    if changed:
        queue_processing(listing_id)
    if wants_json():
        pack = db.session.get(StickerPack, listing_id)
        return jsonify({"message": message, "report": services.pack_report(pack)}), status
    flash(message, "success")
    return _back(listing_id, anchor)


def _refuse(pack: StickerPack, exc: ServiceError, anchor: str | None = None):
    """A refused change: nothing is kept; scripts get JSON with the status, pages a flash and the edit page."""
    listing_id = pack.listing_id
    db.session.rollback()
    if wants_json():
        body = {"error": exc.message}
        if isinstance(exc, ValidationFailed):
            body["errors"] = exc.errors
        return jsonify(body), exc.status_code
    flash(exc.message if not isinstance(exc, ValidationFailed) else " ".join(_messages(exc)), "error")
    return _back(listing_id, anchor)


def _sticker_anchor(sticker_id: int) -> str:
    return f"sticker-{sticker_id}"


def _owned(listing_id: int) -> StickerPack:
    return services.own_pack(current_user, listing_id)


# ---------------------------------------------------------------- errors

@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError):
    db.session.rollback()
    if wants_json():
        return jsonify({"error": error.message}), error.status_code
    return render_template("errors.html", status=error.status_code, title=error.message), error.status_code


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge):
    limit = format_file_size(request.max_content_length) if request.max_content_length else None
    message = (
        _("The upload is larger than %(limit)s. Send fewer files at a time, or a smaller zip.", limit=limit)
        if limit else _("The upload is larger than we accept.")
    )
    if wants_json():
        return jsonify({"error": message, "added": [], "refused": []}), 413
    listing_id = (request.view_args or {}).get("listing_id")
    return render_template("stickers/too_large.html", message=message, listing_id=listing_id), 413


# ---------------------------------------------------------------- the edit page

@bp.get("/dashboard/sticker-packs/<int:listing_id>")
@login_required
def edit_pack(listing_id: int):
    pack = _owned(listing_id)
    response = _edit_page(pack)
    db.session.commit()  # own_pack creates the pack row of a new listing
    return response


@bp.get("/dashboard/sticker-packs/<int:listing_id>/status")
@login_required
def pack_status(listing_id: int):
    pack = _owned(listing_id)
    if request.args.get("format") == "json" or wants_json():
        response = jsonify(services.pack_report(pack))
    else:
        response = render_template("stickers/_status.html", **_page_context(pack))
    db.session.commit()
    return response, 200, {"Cache-Control": "no-store"}


@bp.post("/dashboard/sticker-packs/<int:listing_id>/stickers")
@login_required
def upload(listing_id: int):
    pack = _owned(listing_id)
    revision = pack.revision
    files = [(f.filename or "", f.read()) for f in request.files.getlist("files") if f and (f.filename or f.content_length)]
    try:
        result = services.add_stickers(current_user, pack, files, get_storage())
    except ValidationFailed as exc:
        db.session.rollback()
        if wants_json():
            return jsonify({"added": [], "refused": [], "error": " ".join(_messages(exc)), "errors": exc.errors}), 422
        return _edit_page(_owned(listing_id), errors={"upload": _messages(exc)}, status=422)
    except Conflict as exc:
        return _refuse(pack, exc)
    added = [{"id": s.id, "position": s.position, "name": s.original_name} for s in result.added]
    refused = result.refused_messages()
    changed = pack.revision != revision
    db.session.commit()
    if changed:  # after the commit, touching nothing: the task writes from its own session
        queue_processing(listing_id)
    if wants_json():
        pack = db.session.get(StickerPack, listing_id)
        body = {"added": added, "refused": refused, "report": services.pack_report(pack)}
        return jsonify(body), 201 if added else 422
    if added:
        flash(ngettext("%(num)d sticker added.", "%(num)d stickers added.", len(added)), "success")
    for item in refused:
        flash(_("%(file)s was refused: %(reason)s", file=item["file"], reason=item["message"]), "error")
    return _back(listing_id, "sticker-grid" if added else "upload")


def _find_sticker(pack: StickerPack, sticker_id: int):
    sticker = next((s for s in pack.stickers if s.id == sticker_id), None)
    if sticker is None:
        raise NotFound(_("No such sticker in this pack."))
    return sticker


def _invalid_sticker_input(listing_id: int, exc: ValidationFailed, errors: dict, values: dict | None = None):
    """A refused change to one sticker: nothing is kept; JSON for scripts, else the page with the errors on that sticker."""
    db.session.rollback()
    if wants_json():
        return jsonify({"error": " ".join(_messages(exc)), "errors": exc.errors}), 422
    return _edit_page(_owned(listing_id), errors=errors, values=values, status=422)


@bp.post("/dashboard/sticker-packs/<int:listing_id>/stickers/<int:sticker_id>/replace")
@login_required
def replace(listing_id: int, sticker_id: int):
    pack = _owned(listing_id)
    sticker = _find_sticker(pack, sticker_id)
    revision, position = pack.revision, sticker.position
    upload_file = request.files.get("file")
    try:
        if upload_file is None or not upload_file.filename:
            raise ValidationFailed.one("file", _("Choose the new image file."))
        services.replace_sticker(current_user, pack, sticker_id, upload_file.filename, upload_file.read(), get_storage())
    except ValidationFailed as exc:
        return _invalid_sticker_input(listing_id, exc, {sticker_id: {"file": _messages(exc)}})
    except Conflict as exc:
        return _refuse(pack, exc, _sticker_anchor(sticker_id))
    return _finish(pack, revision, _("Sticker %(position)s was replaced.", position=position), _sticker_anchor(sticker_id))


@bp.post("/dashboard/sticker-packs/<int:listing_id>/stickers/<int:sticker_id>/delete")
@login_required
def delete(listing_id: int, sticker_id: int):
    pack = _owned(listing_id)
    sticker = _find_sticker(pack, sticker_id)
    revision, position = pack.revision, sticker.position
    try:
        services.delete_sticker(current_user, pack, sticker_id, get_storage())
    except Conflict as exc:
        return _refuse(pack, exc, _sticker_anchor(sticker_id))
    return _finish(pack, revision, _("Sticker %(position)s was deleted.", position=position), "sticker-grid")


def _target_position(sticker) -> int:
    direction = request.form.get("direction")
    if direction == "up":
        return sticker.position - 1
    if direction == "down":
        return sticker.position + 1
    try:
        return int(request.form.get("position", "").strip())
    except ValueError:
        raise ValidationFailed.one("position", _("Give the new position as a number.")) from None


@bp.post("/dashboard/sticker-packs/<int:listing_id>/stickers/<int:sticker_id>/move")
@login_required
def move(listing_id: int, sticker_id: int):
    pack = _owned(listing_id)
    sticker = _find_sticker(pack, sticker_id)
    revision = pack.revision
    try:
        position = _target_position(sticker)
        services.move_sticker(current_user, pack, sticker_id, position)
    except ValidationFailed as exc:
        return _invalid_sticker_input(listing_id, exc, {sticker_id: {"position": _messages(exc)}})
    except Conflict as exc:
        return _refuse(pack, exc, _sticker_anchor(sticker_id))
    return _finish(pack, revision, _("The sticker moved to position %(position)s.", position=position), _sticker_anchor(sticker_id))


@bp.post("/dashboard/sticker-packs/<int:listing_id>/stickers/<int:sticker_id>/details")
@login_required
def details(listing_id: int, sticker_id: int):
    pack = _owned(listing_id)
    sticker = _find_sticker(pack, sticker_id)
    revision, position = pack.revision, sticker.position
    data = {key: request.form.get(key, "") for key in ("emoji", "keywords") if key in request.form}
    try:
        services.update_sticker(current_user, pack, sticker_id, data)
    except ValidationFailed as exc:
        return _invalid_sticker_input(listing_id, exc, {sticker_id: exc.errors}, values={sticker_id: data})
    except Conflict as exc:
        return _refuse(pack, exc, _sticker_anchor(sticker_id))
    return _finish(pack, revision, _("Sticker %(position)s was saved.", position=position), _sticker_anchor(sticker_id))


@bp.post("/dashboard/sticker-packs/<int:listing_id>/stickers/<int:sticker_id>/main")
@login_required
def make_main(listing_id: int, sticker_id: int):
    pack = _owned(listing_id)
    sticker = _find_sticker(pack, sticker_id)
    revision, position = pack.revision, sticker.position
    try:
        services.set_main_sticker(current_user, pack, sticker_id)
    except Conflict as exc:
        return _refuse(pack, exc, _sticker_anchor(sticker_id))
    message = _("Sticker %(position)s is now the pack's main image.", position=position)
    return _finish(pack, revision, message, _sticker_anchor(sticker_id))


@bp.post("/dashboard/sticker-packs/<int:listing_id>/animated")
@login_required
def animated(listing_id: int):
    pack = _owned(listing_id)
    revision = pack.revision
    choice = request.form.get("animated")
    if choice not in ("0", "1"):
        return _refuse(pack, ValidationFailed.one("animated", _("Choose static or animated.")), "pack-type")
    try:
        services.set_animated(current_user, pack, choice == "1")
    except Conflict as exc:
        return _refuse(pack, exc, "pack-type")
    message = _("The pack is now animated.") if choice == "1" else _("The pack is now static.")
    return _finish(pack, revision, message, "pack-type")


@bp.post("/dashboard/sticker-packs/<int:listing_id>/order")
@login_required
def order(listing_id: int):
    """The drag-and-drop reorder: a JSON list of every sticker id (or {"order": [...]}) in the new order."""
    pack = _owned(listing_id)
    revision = pack.revision
    body = request.get_json(silent=True)
    ids = body.get("order") if isinstance(body, dict) else body
    try:
        if request.form.get("order") and ids is None:
            ids = request.form["order"].split(",")
        if not isinstance(ids, list):
            raise ValidationFailed.one("order", _("Give every sticker of the pack exactly once."))
        try:
            ids = [int(i) for i in ids]
        except (TypeError, ValueError):
            raise ValidationFailed.one("order", _("Give every sticker of the pack exactly once.")) from None
        services.reorder_stickers(current_user, pack, ids)
    except (ValidationFailed, Conflict) as exc:
        return _refuse(pack, exc, "sticker-grid")
    return _finish(pack, revision, _("The new order was saved."), "sticker-grid")


# ---------------------------------------------------------------- art files

def _send(storage_key: str, private: bool):
    storage = get_storage()
    if not storage_key or not storage.exists(storage_key):
        raise NotFound(_("This image is not ready yet."))
    extension = storage_key.rsplit(".", 1)[-1].lower()
    response = send_file(
        storage.open(storage_key), mimetype=CONTENT_TYPES.get(extension, "application/octet-stream"),
        conditional=True, etag=storage_key,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600" if private else "public, max-age=3600"
    return response


@bp.get("/sticker-packs/<int:listing_id>/stickers/<int:sticker_id>/<variant>")
def sticker_image(listing_id: int, sticker_id: int, variant: str):
    """preview (watermarked) for anyone who may see the listing; thumb and full for its creator, operators and
    fans who bought it."""
    if variant not in VARIANTS:
        raise NotFound(_("There is no such image."))
    pack = services.visible_pack(current_user, listing_id)
    full_art = services.can_see_full_art(current_user, pack)
    if variant != "preview" and not full_art:
        raise PermissionDenied(_("Only the pack's creator and its buyers can see its art without the watermark."))
    sticker = _find_sticker(pack, sticker_id)
    private = full_art or pack.listing.status != ListingStatus.PUBLISHED or variant != "preview"
    return _send(getattr(sticker, VARIANTS[variant]), private=private)


@bp.get("/sticker-packs/<int:listing_id>/<any(main, tab):image>.png")
def pack_image(listing_id: int, image: str):
    """The pack's main and tab images (unwatermarked art: owner and operators only)."""
    pack = services.visible_pack(current_user, listing_id)
    if not services.can_see_full_art(current_user, pack):
        raise PermissionDenied(_("Only the pack's creator can see its art without the watermark."))
    return _send(getattr(pack, PACK_IMAGES[image]), private=True)


# ---------------------------------------------------------------- the listing page's section

def public_pack_section(listing: Listing, viewer) -> Markup | None:
    """The sticker grid of a listing page: watermarked previews for fans; for the creator, operators and fans who
    bought the pack, the art itself, each tile opening the full-resolution sticker."""
    pack = db.session.get(StickerPack, listing.id)
    is_owner = catalog.is_owner(viewer, listing)
    if (pack is None or not pack.stickers) and not is_owner:
        return None
    stickers = list(pack.stickers) if pack else []
    full_art = bool(pack) and services.can_see_full_art(viewer, pack)
    tiles = []
    for sticker in stickers:
        url = image_url(pack, sticker, "thumb" if full_art else "preview")
        width, height = image_size(sticker, "preview")
        full_url = image_url(pack, sticker, "full") if full_art else None
        tiles.append({"sticker": sticker, "url": url, "full_url": full_url, "width": width, "height": height})
    html = render_template(
        "stickers/_public_section.html",
        listing=listing,
        pack=pack,
        tiles=tiles,
        full_art=full_art,
        is_owner=is_owner,
        bought=downloads.owns_listing(viewer, listing.id),
        platforms=[PLATFORMS[code].name for code in services.ready_platforms(pack)] if pack else [],
        editable=listing.status in services.EDITABLE_STATUSES,
    )
    return Markup(html)
