"""The download endpoint behind every signed link, for the browser and API clients alike; the fan's library, the
seller's files page and download counts.

Every attempt is logged and committed before the answer, refusals included. Local files are sent by the app
(Range requests work, gunicorn uses sendfile); files in S3 redirect to a presigned URL as short-lived as the link.
Pages call marketplace.downloads.services, commit once and redirect; a refused upload or removal shows the files
page again with the reason and the refusal's status (422, 409, 403).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.accounts.services import user_for_token
from app.api.errors import problem
from app.errors import Conflict, PermissionDenied, ServiceError, ValidationFailed
from app.extensions import db, limiter
from app.i18n import format_file_size
from app.storage import get_storage
from marketplace import kinds
from marketplace.catalog import services as catalog
from marketplace.catalog.models import ListingStatus
from marketplace.downloads import services
from marketplace.kinds import DownloadableFile

bp = Blueprint("downloads", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/downloads")

#: a downloaded file must never run as a page of this site, whatever its content
SANDBOX_POLICY = "default-src 'none'; sandbox"


def _requesting_user():
    """The signed-in browser user, or the owner of a bearer token sent by an API client."""
    if current_user.is_authenticated:
        return current_user._get_current_object()
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return user_for_token(header[len("Bearer "):].strip())
    return None


def _wants_json() -> bool:
    if request.headers.get("Authorization"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def _refusal(decision: services.Decision):
    if _wants_json():
        headers = {"WWW-Authenticate": 'Bearer realm="encore"'} if decision.status == 401 else None
        titles = {401: "Unauthorized", 403: "Forbidden", 410: "Gone"}
        return problem(decision.status, titles.get(decision.status, "Error"), decision.message, headers=headers)
    if decision.status == 401:
        return redirect(url_for("accounts.login", next=request.full_path))
    return render_template("errors.html", status=decision.status, title=decision.message, detail=None), decision.status


def _send(file: DownloadableFile):
    storage = get_storage()
    path = storage.local_path(file.key)
    if path is None:
        seconds = current_app.config["ENCORE_DOWNLOAD_LINK_SECONDS"]
        response = redirect(storage.download_url(file.key, file.name, file.content_type, seconds), code=302)
    else:
        response = send_file(path, mimetype=file.content_type, as_attachment=True, download_name=file.name,
                             conditional=True, etag=True, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = SANDBOX_POLICY
    response.headers["Cache-Control"] = "private, no-store"
    return response


# a path converter, so that a traversal attempt (../) reaches the checks and is logged instead of missing the route
@bp.get("/downloads/<int:entitlement_id>/<path:file_ref>")
@limiter.exempt
def download(entitlement_id: int, file_ref: str):
    user = _requesting_user()
    byte_range = request.headers.get("Range")
    decision = services.decide(user, entitlement_id, file_ref, request.args.get("t"), byte_range)
    services.log_attempt(decision, user, entitlement_id, file_ref, request.remote_addr, byte_range)
    if not decision.allowed:
        db.session.commit()
        return _refusal(decision)
    file = services.file_to_serve(decision.entitlement, decision.file, get_storage())
    db.session.commit()
    return _send(file)


# ---------------------------------------------------------------- pages

@dataclass
class KindGroup:
    """The purchases of one product kind, as the library shows them under one heading."""

    code: str
    label: str
    items: list


def _kind_label(code: str) -> str:
    kind = kinds.get(code)
    return str(kind.label) if kind else code


def _by_kind(items: list[services.LibraryItem]) -> list[KindGroup]:
    """Purchases grouped by kind in the registry's order (unknown kinds last), newest first within each."""
    order = {code: position for position, code in enumerate(kinds.codes())}
    groups: dict[str, KindGroup] = {}
    for item in items:
        groups.setdefault(item.kind, KindGroup(item.kind, _kind_label(item.kind), [])).items.append(item)
    return sorted(groups.values(), key=lambda group: (order.get(group.code, len(order)), group.label))


def files_page_url(listing) -> str | None:
    """The listing's files page, for digital kinds only (physical goods ship, they have no files)."""
    kind = kinds.get(listing.kind)
    if kind is None or kind.is_physical:
        return None
    return url_for("downloads.listing_files_page", listing_id=listing.id)


@bp.app_context_processor
def _download_helpers() -> dict:
    return {"listing_files_url": files_page_url, "human_size": format_file_size}


def purchase_date(moment) -> str:
    """The day of a purchase in the reader's language and timezone (Nov 24, 2026; 2026年11月24日)."""
    return format_date(moment, "medium")


def _link_minutes() -> int:
    return max(1, current_app.config["ENCORE_DOWNLOAD_LINK_SECONDS"] // 60)


@bp.get("/library")
@login_required
def library_page():
    """Everything the signed-in user owns, with download links signed afresh on every visit."""
    items = services.library(current_user)
    return render_template("downloads/library.html", groups=_by_kind(items), download_url=services.download_url,
                           link_minutes=_link_minutes(), kind_label=_kind_label, purchase_date=purchase_date,
                           PUBLISHED=ListingStatus.PUBLISHED)


def _files_page(listing_id: int, errors: list[str] | None = None, upload_errors: list[str] | None = None,
                status: int = 200):
    """The files page; `upload_errors` show at the upload field, other `errors` (a refused removal) above all."""
    listing = catalog.get_own_listing(current_user, listing_id)
    kind = kinds.get(listing.kind)
    attached = services.attached_files(listing.id)
    attached_refs = {item.ref for item in attached}
    built = [item for item in services.listing_files(listing) if item.ref not in attached_refs]
    return render_template(
        "downloads/listing_files.html", listing=listing, attached=attached, built=built, errors=errors or [],
        upload_errors=upload_errors or [],
        is_digital=kind is not None and not kind.is_physical, has_buyers=services.has_buyers(listing.id),
        max_upload=current_app.config.get("MAX_CONTENT_LENGTH"), kind_label=_kind_label,
    ), status


def _messages(exc: ServiceError) -> list[str]:
    if isinstance(exc, ValidationFailed):
        return [message for messages in exc.errors.values() for message in messages] or [exc.message]
    return [exc.message]


@bp.get("/dashboard/listings/<int:listing_id>/files")
@login_required
def listing_files_page(listing_id: int):
    """The files buyers of the listing get: the seller's attachments (editable) and the kind's own exports."""
    return _files_page(listing_id)


@bp.post("/dashboard/listings/<int:listing_id>/files")
@login_required
def upload_listing_file(listing_id: int):
    listing = catalog.get_own_listing(current_user, listing_id)
    upload = request.files.get("file")
    try:
        if upload is None:
            raise ValidationFailed.one("file", _("Choose a file to upload."))
        # the stream, never upload.read(): Werkzeug has spooled a large upload to disk, storage copies it in chunks
        attached = services.add_listing_file(current_user, listing, upload.filename or "", upload.stream, get_storage())
    except (ValidationFailed, PermissionDenied, Conflict) as exc:
        db.session.rollback()
        return _files_page(listing_id, upload_errors=_messages(exc), status=exc.status_code)
    name = attached.name  # read before the commit expires the row
    db.session.commit()
    flash(_("%(name)s was added. Buyers can download it from their library.", name=name), "success")
    return redirect(url_for("downloads.listing_files_page", listing_id=listing_id))


@bp.post("/dashboard/listings/<int:listing_id>/files/<int:file_id>/delete")
@login_required
def delete_listing_file(listing_id: int, file_id: int):
    listing = catalog.get_own_listing(current_user, listing_id)
    name = next((item.name for item in services.attached_files(listing.id) if item.id == file_id), "")
    try:
        services.delete_listing_file(current_user, listing, file_id, get_storage())
    except (ValidationFailed, PermissionDenied, Conflict) as exc:
        db.session.rollback()
        return _files_page(listing_id, errors=_messages(exc), status=exc.status_code)
    db.session.commit()
    flash(_("%(name)s was removed.", name=name), "success")
    return redirect(url_for("downloads.listing_files_page", listing_id=listing_id))


def _counts_chart(counts: list[services.ListingDownloads], attribute: str) -> list[tuple[str, int, str]]:
    """The eight listings with the most of `attribute` (downloads or refused attempts), for the bars macro."""
    rows = sorted((row for row in counts if getattr(row, attribute)), key=lambda row: -getattr(row, attribute))[:8]
    return [(row.title, getattr(row, attribute), format_decimal(getattr(row, attribute))) for row in rows]


@bp.get("/dashboard/downloads")
@login_required
def download_counts_page():
    """Per digital listing of the streamer: downloads served, distinct downloaders and refused attempts."""
    creator = current_user.creator_profile
    if creator is None:
        raise PermissionDenied(_("Become a streamer to see your listings' downloads."))
    counts = services.seller_download_counts(creator.id)
    return render_template("downloads/counts.html", counts=counts,
                           downloads_chart=_counts_chart(counts, "downloads"),
                           refused_chart=_counts_chart(counts, "refused"))
