"""Entitlements, the files of a listing, signed download links, the per-file limit and the download log."""
from __future__ import annotations

import hashlib
import mimetypes
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import BinaryIO

from flask import current_app, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import ARRAY, Integer, any_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from werkzeug.http import parse_range_header

from app.db import DirectStatement, utcnow
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.storage import Storage, new_key
from marketplace import kinds
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing
from marketplace.downloads.models import DownloadCount, DownloadLog, DownloadOutcome, Entitlement, ListingFile
from marketplace.kinds import DownloadableFile
from marketplace.orders.models import Order, OrderLine

LINK_SALT = "encore.download-link"
MAX_NAME_LENGTH = 120
#: what each stamped type must start with; a file that claims the type but is not one is refused at upload
MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
_UNSAFE_NAME_CHARACTERS = re.compile(r'[\x00-\x1f\x7f"*:<>?\\/|]+')


# ---------------------------------------------------------------- entitlements (the order line hooks)

_entitlements = Entitlement.__table__
_order_lines = OrderLine.__table__


def _grant(lines):
    """One INSERT ... SELECT granting the lines the condition `lines` picks (the buyer from the order, nothing for a
    line that already has one); the unique order_line_id still refuses a second entitlement should two grants ever
    run at once."""
    return insert(_entitlements).from_select(
        ["user_id", "listing_id", "order_line_id", "downloads_per_file", "granted_at"],
        select(Order.__table__.c.buyer_id, _order_lines.c.listing_id, _order_lines.c.id,
               bindparam("downloads_per_file"), bindparam("granted_at", type_=_entitlements.c.granted_at.type))
        .select_from(_order_lines.join(Order.__table__, Order.__table__.c.id == _order_lines.c.order_id))
        .where(lines, ~select(_entitlements.c.id).where(_entitlements.c.order_line_id == _order_lines.c.id).exists()),
    )


#: built once
_GRANT_FOR_LINE = DirectStatement(_grant(_order_lines.c.id == bindparam("line_id")))


def grant_params() -> dict:
    """The parameters of a grant other than its lines."""
    return {"downloads_per_file": current_app.config["ENCORE_DOWNLOADS_PER_FILE"], "granted_at": utcnow()}


#: marketplace.downloads.GRANT_FOR_LINES's statement: grant_for_line for every line `fulfil_line_ids` names
GRANT_FOR_LINES_STATEMENT = _grant(_order_lines.c.id == any_(bindparam("fulfil_line_ids", type_=ARRAY(Integer))))


def grant_for_line(line: OrderLine) -> None:
    """Fulfil a digital line: the buyer may download the listing's files. Granting twice grants once. Reads
    only `line.id` (the fulfilment task passes the line it read with Core)."""
    _GRANT_FOR_LINE.run(db.session, {"line_id": line.id, **grant_params()})


def revoke_for_line(line: OrderLine) -> None:
    """The line was refunded: its entitlement stops working (kept, for the record)."""
    db.session.execute(
        update(Entitlement).where(Entitlement.order_line_id == line.id, Entitlement.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def owns_listing(user, listing_id: int) -> bool:
    """Whether the user holds a working entitlement to the listing (bought it and was not refunded)."""
    if user is None or not user.is_authenticated:
        return False
    return db.session.scalar(
        select(Entitlement.id).where(Entitlement.user_id == user.id, Entitlement.listing_id == listing_id,
                                     Entitlement.revoked_at.is_(None)).limit(1)
    ) is not None


# ---------------------------------------------------------------- a listing's files

def listing_files(listing: Listing) -> list[DownloadableFile]:
    """What a buyer of the listing downloads: the kind's own files (sticker exports) then the seller's."""
    kind = kinds.get(listing.kind)
    files = list(kind.downloadable_files(listing)) if kind and kind.downloadable_files else []
    for attached in attached_files(listing.id):
        files.append(DownloadableFile(ref=attached.ref, name=attached.name, key=attached.key, size=attached.size,
                                      content_type=attached.content_type))
    return files


def attached_files(listing_id: int) -> list[ListingFile]:
    return list(db.session.scalars(select(ListingFile).where(ListingFile.listing_id == listing_id).order_by(ListingFile.id)))


def clean_file_name(raw: str) -> str:
    """The last path part of an uploaded name, without control or reserved characters; never a path."""
    raw = unicodedata.normalize("NFC", raw or "")
    name = PureWindowsPath(PurePosixPath(raw.replace("\\", "/")).name).name
    name = _UNSAFE_NAME_CHARACTERS.sub("_", name).strip(" .")
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: MAX_NAME_LENGTH - len(extension) - 1] + dot + extension) if dot and len(extension) <= 10 else name[:MAX_NAME_LENGTH]
    return name


def content_type_for(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


class _HashingReader:
    """Hands the upload to storage in chunks (first the bytes already read to check its type) while hashing and
    counting it, so the file is never held whole."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.pending = head
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        if self.pending:
            chunk, self.pending = self.pending, b""
            if size is None or size < 0:
                chunk += self.stream.read()
            elif size > len(chunk):
                chunk += self.stream.read(size - len(chunk))
        else:
            chunk = self.stream.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


def _require_file_owner(user, listing: Listing) -> None:
    if not catalog.is_owner(user, listing):
        raise PermissionDenied(_("Only the listing's creator can change its files."))
    kind = kinds.get(listing.kind)
    if kind is None or kind.is_physical:
        raise ValidationFailed.one("file", _("Files can only be attached to digital listings."))


def add_listing_file(user, listing: Listing, filename: str, stream: BinaryIO, storage: Storage) -> ListingFile:
    """Attach a file buyers of the listing download. Its name is cleaned (no paths); a file claiming to be a PDF
    or an image must be one, because those are stamped with the buyer on download.
    :raise 403: not the listing's creator :raise 422: no name, empty, not what its name says, not a digital listing
    """
    _require_file_owner(user, listing)
    name = clean_file_name(filename)
    if not name:
        raise ValidationFailed.one("file", _("Choose a file with a name."))
    content_type = content_type_for(name)
    head = stream.read(16)
    if not head:
        raise ValidationFailed.one("file", _("The file is empty."))
    if content_type in MAGIC and not any(head.startswith(magic) for magic in MAGIC[content_type]):
        raise ValidationFailed.one("file", _("%(name)s is not a real %(type)s file.", name=name, type=content_type.split("/")[-1].upper()))
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if not re.fullmatch(r"[a-z0-9]{2,5}", extension):
        extension = "bin"
    key = new_key("private/listing-files", extension)
    reader = _HashingReader(head, stream)
    storage.put_stream(key, reader, content_type)
    if content_type in MAGIC:
        _require_stampable(storage, key, name, content_type)
    attached = ListingFile(listing_id=listing.id, name=name, key=key, content_type=content_type, size=reader.size,
                           sha256=reader.digest.hexdigest())
    db.session.add(attached)
    db.session.flush()
    return attached


def has_buyers(listing_id: int) -> bool:
    """Someone was granted the listing's files (refunded or not): attached files then stay."""
    return db.session.scalar(select(Entitlement.id).where(Entitlement.listing_id == listing_id).limit(1)) is not None


def _require_stampable(storage: Storage, key: str, name: str, content_type: str) -> None:
    """Buyers' copies are stamped on download; a file that cannot be stamped (corrupt, password protected) is
    refused now rather than failing a buyer later."""
    from marketplace.downloads.stamping import Stamp, StampError, stamp_file

    trial = Stamp(buyer_name="Encore", order_number="EN-000000-TRIAL0", text="Encore")
    try:
        with storage.open(key) as source, tempfile.TemporaryFile() as sink:
            stamp_file(source, content_type, trial, sink)
    except StampError:
        storage.delete(key)
        raise ValidationFailed.one("file", _("%(name)s cannot be read as a %(type)s file. Export it again and upload it.",
                                             name=name, type=content_type.split("/")[-1].upper())) from None


def delete_listing_file(user, listing: Listing, file_id: int, storage: Storage) -> None:
    """Remove an attached file while nobody has bought the listing; buyers keep what they paid for.
    :raise 403: not the creator :raise 404: no such file :raise 409: the listing has been bought
    """
    from app.storage import delete_after_commit

    _require_file_owner(user, listing)
    attached = db.session.get(ListingFile, file_id)
    if attached is None or attached.listing_id != listing.id:
        raise NotFound(_("There is no such file."))
    if has_buyers(listing.id):
        raise Conflict(_("Buyers have this file, so it stays. Add a new version instead."))
    db.session.delete(attached)
    delete_after_commit(storage, [attached.key])


# ---------------------------------------------------------------- signed links

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)


def link_token(user_id: int, entitlement_id: int, ref: str) -> str:
    return _serializer().dumps([user_id, entitlement_id, ref])


def download_url(entitlement: Entitlement, ref: str, external: bool = False) -> str:
    token = link_token(entitlement.user_id, entitlement.id, ref)
    return url_for("downloads.download", entitlement_id=entitlement.id, file_ref=ref, t=token, _external=external)


# ---------------------------------------------------------------- the library

@dataclass
class LibraryFile:
    file: DownloadableFile
    downloads_left: int


@dataclass
class LibraryItem:
    entitlement: Entitlement
    listing: Listing | None
    order: Order
    title: str
    kind: str
    files: list[LibraryFile]


def library(user) -> list[LibraryItem]:
    """What the user owns, newest purchase first, with each file's remaining downloads."""
    rows = db.session.execute(
        select(Entitlement, OrderLine, Order)
        .join(OrderLine, OrderLine.id == Entitlement.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Entitlement.user_id == user.id, Entitlement.revoked_at.is_(None))
        .order_by(Entitlement.granted_at.desc(), Entitlement.id.desc())
    ).all()
    if not rows:
        return []
    used = {
        (count.entitlement_id, count.file_ref): count.used
        for count in db.session.scalars(select(DownloadCount).where(
            DownloadCount.entitlement_id.in_([entitlement.id for entitlement, _line, _order in rows])))
    }
    items = []
    for entitlement, line, order in rows:
        listing = entitlement.listing
        files = listing_files(listing) if listing is not None else []
        items.append(LibraryItem(
            entitlement=entitlement, listing=listing, order=order, title=listing.title if listing else line.title,
            kind=line.kind,
            files=[LibraryFile(f, max(0, entitlement.downloads_per_file - used.get((entitlement.id, f.ref), 0))) for f in files],
        ))
    return items


# ---------------------------------------------------------------- a download

@dataclass
class Decision:
    """What to do with one download request; `file` is set only when bytes may be served."""

    outcome: str
    status: int
    message: str
    file: DownloadableFile | None = None
    entitlement: Entitlement | None = None

    @property
    def allowed(self) -> bool:
        return self.file is not None


def _counts_as_download(range_header: str | None, size: int) -> bool:
    """A request that starts at the first byte is a download; a range further on resumes one already counted."""
    if not range_header:
        return True
    parsed = parse_range_header(range_header)
    span = parsed.range_for_length(size) if parsed is not None else None
    return span is None or span[0] == 0


def _use_one_download(entitlement: Entitlement, ref: str) -> bool:
    """Raise the file's count by one unless the limit is reached; concurrent requests cannot both take the last."""
    limit = entitlement.downloads_per_file
    for _attempt in (1, 2):
        raised = db.session.execute(
            update(DownloadCount)
            .where(DownloadCount.entitlement_id == entitlement.id, DownloadCount.file_ref == ref, DownloadCount.used < limit)
            .values(used=DownloadCount.used + 1)
        ).rowcount
        if raised:
            return True
        if db.session.get(DownloadCount, (entitlement.id, ref), populate_existing=True) is not None:
            return False
        try:
            with db.session.begin_nested():
                db.session.add(DownloadCount(entitlement_id=entitlement.id, file_ref=ref, used=1))
            return True
        except IntegrityError:  # another request made the row first: go round and raise it
            continue
    return False


def _downloads_used(entitlement: Entitlement, ref: str) -> int:
    count = db.session.get(DownloadCount, (entitlement.id, ref))
    return count.used if count is not None else 0


def decide(user, entitlement_id: int, ref: str, token: str | None, range_header: str | None) -> Decision:
    """Check one request for a file against its signed link, the account, the entitlement and the limit."""
    if user is None or not user.is_authenticated:
        return Decision(DownloadOutcome.NOT_SIGNED_IN, 401, _("Log in to download your purchases."))
    try:
        signed_user, signed_entitlement, signed_ref = _serializer().loads(
            token or "", max_age=current_app.config["ENCORE_DOWNLOAD_LINK_SECONDS"])
    except SignatureExpired:
        return Decision(DownloadOutcome.EXPIRED, 410, _("This download link has expired. Open your library for a fresh one."))
    except (BadSignature, ValueError, TypeError):
        return Decision(DownloadOutcome.FORGED, 403, _("This download link is not valid."))
    if signed_entitlement != entitlement_id or signed_ref != ref:
        return Decision(DownloadOutcome.FORGED, 403, _("This download link is not valid."))
    if signed_user != user.id:
        return Decision(DownloadOutcome.WRONG_ACCOUNT, 403, _("This download link belongs to another account."))
    entitlement = db.session.get(Entitlement, entitlement_id, options=[joinedload(Entitlement.listing)])
    if entitlement is None or entitlement.user_id != user.id:
        return Decision(DownloadOutcome.UNKNOWN, 403, _("This download link is not valid."))
    if not entitlement.is_active:
        return Decision(DownloadOutcome.REVOKED, 410, _("This purchase was refunded, so its files are no longer available."))
    listing = entitlement.listing
    file = next((f for f in listing_files(listing) if f.ref == ref), None) if listing is not None else None
    if file is None:
        return Decision(DownloadOutcome.UNKNOWN, 410, _("This file is no longer available."))
    if _counts_as_download(range_header, file.size):
        if not _use_one_download(entitlement, ref):
            return Decision(DownloadOutcome.LIMIT_REACHED, 403, _(
                "You have downloaded this file %(limit)d times, the most a purchase allows. Contact the seller for more.",
                limit=entitlement.downloads_per_file))
        return Decision(DownloadOutcome.SERVED, 200, "", file, entitlement)
    if _downloads_used(entitlement, ref) == 0 and not _use_one_download(entitlement, ref):
        return Decision(DownloadOutcome.LIMIT_REACHED, 403, _("You have used every download of this file."))
    return Decision(DownloadOutcome.RESUMED, 206, "", file, entitlement)


def log_attempt(decision: Decision, user, entitlement_id: int | None, ref: str | None, ip: str | None,
                range_header: str | None, now: datetime | None = None) -> None:
    entitlement = decision.entitlement
    listing_id = entitlement.listing_id if entitlement is not None else None
    if listing_id is None and entitlement_id is not None:  # a refusal still counts against the listing it aimed at
        listing_id = db.session.scalar(select(Entitlement.listing_id).where(Entitlement.id == entitlement_id))
    db.session.add(DownloadLog(
        created_at=now or utcnow(),
        user_id=user.id if user is not None and getattr(user, "is_authenticated", False) else None,
        entitlement_id=entitlement_id, listing_id=listing_id, file_ref=(ref or "")[:60] or None,
        outcome=decision.outcome, status_code=decision.status, ip=(ip or "")[:45] or None,
        byte_range=(range_header or "")[:100] or None,
    ))


# ---------------------------------------------------------------- stamping

def stamped_key(entitlement: Entitlement, file: DownloadableFile) -> str:
    extension = file.key.rsplit(".", 1)[-1]
    return f"private/stamped/{entitlement.id}/{file.ref}.{extension}"


def file_to_serve(entitlement: Entitlement, file: DownloadableFile, storage: Storage) -> DownloadableFile:
    """The buyer's own copy of a PDF or an image, stamped with their name and order once and kept; other files as
    they are."""
    if file.content_type not in MAGIC:  # the types checked at upload are the ones worth stamping
        return file
    from marketplace.downloads.stamping import Stamp, stamp_file

    key = stamped_key(entitlement, file)
    if not storage.exists(key):
        order = entitlement.order_line.order
        buyer = entitlement.user
        name = buyer.display_name or buyer.email
        stamp = Stamp(buyer_name=name, order_number=order.number,
                      text=_("Licensed to %(buyer)s · Order %(number)s", buyer=name, number=order.number))
        with storage.open(file.key) as source, tempfile.SpooledTemporaryFile(8 * 1024 * 1024) as target:
            if not stamp_file(source, file.content_type, stamp, target):
                return file
            target.seek(0)
            storage.put_stream(key, target, file.content_type)
    return DownloadableFile(ref=file.ref, name=file.name, key=key, size=storage.size(key), content_type=file.content_type)


# ---------------------------------------------------------------- sellers' figures

@dataclass
class ListingDownloads:
    listing_id: int
    title: str
    downloads: int
    buyers: int
    refused: int


def seller_download_counts(creator_id: int) -> list[ListingDownloads]:
    """Per listing of the creator: downloads served (resumptions not counted again), distinct downloaders and
    refused attempts; listings with no attempts are included with zeros."""
    served = DownloadLog.outcome == DownloadOutcome.SERVED
    refused = DownloadLog.outcome.notin_([DownloadOutcome.SERVED, DownloadOutcome.RESUMED])
    counts = {
        row.listing_id: row
        for row in db.session.execute(
            select(DownloadLog.listing_id,
                   func.count().filter(served).label("downloads"),
                   func.count(func.distinct(DownloadLog.user_id)).filter(served).label("buyers"),
                   func.count().filter(refused).label("refused"))
            .join(Listing, Listing.id == DownloadLog.listing_id)
            .where(Listing.creator_id == creator_id)
            .group_by(DownloadLog.listing_id)
        )
    }
    listings = db.session.execute(
        select(Listing.id, Listing.title, Listing.kind).where(Listing.creator_id == creator_id).order_by(Listing.title)
    ).all()
    result = []
    for listing_id, title, kind_code in listings:
        kind = kinds.get(kind_code)
        if kind is None or kind.is_physical:
            continue
        row = counts.get(listing_id)
        result.append(ListingDownloads(listing_id, title, row.downloads if row else 0, row.buyers if row else 0,
                                       row.refused if row else 0))
    return result
