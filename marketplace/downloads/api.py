"""Downloads API: your library with fresh signed links, a listing's attached files, a seller's download counts."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import jsonify

from app.api import auth, current_api_user, external_url
from app.errors import PermissionDenied
from app.extensions import csrf, db
from app.storage import get_storage
from marketplace.catalog import services as catalog
from marketplace.downloads import services
from marketplace.downloads.schemas import DownloadCountsOut, FileUploadIn, LibraryOut, ListingFileOut, ListingFilesOut
from flask_babel import gettext as _

bp = APIBlueprint(
    "downloads_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Downloads", "description": "What you own and its download links; files sellers attach to listings."},
)
csrf.exempt(bp)


def library_payload(user) -> dict:
    items = []
    for item in services.library(user):
        listing = item.listing
        items.append({
            "listing": {
                "id": listing.id if listing else None, "slug": listing.slug if listing else None, "title": item.title,
                "kind": item.kind, "url": external_url("catalog.listing", slug=listing.slug) if listing else None,
            },
            "order_id": item.order.id,
            "order_number": item.order.number,
            "granted_at": item.entitlement.granted_at,
            "files": [{
                "name": entry.file.name, "size": entry.file.size, "content_type": entry.file.content_type,
                "download_url": services.download_url(item.entitlement, entry.file.ref, external=True),
                "downloads_left": entry.downloads_left,
            } for entry in item.files],
        })
    return {"items": items}


@bp.get("/library")
@bp.auth_required(auth)
@bp.output(LibraryOut)
@bp.doc(summary="Everything you own", responses=[401])
def get_library():
    """Each purchase not refunded, newest first, with its files: send `download_url` with your bearer token
    within a few minutes to download (a redirect to the file's storage, or the file itself)."""
    return library_payload(current_api_user())


@bp.post("/listings/<int:listing_id>/files")
@bp.auth_required(auth)
@bp.input(FileUploadIn, location="files", arg_name="files")
@bp.output(ListingFileOut, status_code=201)
@bp.doc(summary="Attach a file to your listing", responses=[403, 404, 413, 422])
def add_file(listing_id: int, files):
    """Multipart upload in the field `file`. Buyers of the listing, past and future, can download it."""
    user = current_api_user()
    listing = catalog.get_own_listing(user, listing_id)
    upload = files["file"]
    attached = services.add_listing_file(user, listing, upload.filename or "", upload.stream, get_storage())
    response = jsonify(ListingFileOut().dump(attached))  # serialised before the commit expires the row
    db.session.commit()
    response.status_code = 201
    return response


@bp.get("/listings/<int:listing_id>/files")
@bp.auth_required(auth)
@bp.output(ListingFilesOut)
@bp.doc(summary="Files attached to your listing", responses=[403, 404])
def list_files(listing_id: int):
    """The creator's own view of the files buyers get (the kind's own files, like sticker exports, are not listed)."""
    listing = catalog.get_own_listing(current_api_user(), listing_id)
    return {"items": services.attached_files(listing.id)}


@bp.delete("/listings/<int:listing_id>/files/<int:file_id>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Remove a file from your listing", responses=[403, 404, 409])
def delete_file(listing_id: int, file_id: int):
    """Only while nobody has bought the listing: buyers keep what they paid for."""
    user = current_api_user()
    listing = catalog.get_own_listing(user, listing_id)
    services.delete_listing_file(user, listing, file_id, get_storage())
    db.session.commit()
    return "", 204


@bp.get("/dashboard/downloads")
@bp.auth_required(auth)
@bp.output(DownloadCountsOut)
@bp.doc(summary="Downloads of your listings", responses=[403])
def download_counts():
    """Per digital listing of yours: downloads served, distinct downloaders and refused attempts."""
    user = current_api_user()
    if user.creator_profile is None:
        raise PermissionDenied(_("Become a streamer to see your listings' downloads."))
    return {"items": services.seller_download_counts(user.creator_profile.id)}
