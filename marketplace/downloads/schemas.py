"""Shapes of the downloads API: the library, a listing's attached files, a seller's download counts."""
from __future__ import annotations

from apiflask import Schema, fields


class FileUploadIn(Schema):
    file = fields.File(required=True, metadata={"description": "Any file buyers download; PDFs and images are "
                                                               "stamped with the buyer on download."})


class LibraryListingRef(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "Null once the seller deleted the listing."})
    slug = fields.String(allow_none=True)
    title = fields.String()
    kind = fields.String()
    url = fields.String(allow_none=True)


class LibraryFileOut(Schema):
    name = fields.String()
    size = fields.Integer(metadata={"description": "Bytes (before stamping, which adds a little)."})
    content_type = fields.String()
    download_url = fields.String(metadata={"description": "A signed link for you alone, valid a few minutes."})
    downloads_left = fields.Integer()


class LibraryItemOut(Schema):
    listing = fields.Nested(LibraryListingRef)
    order_id = fields.Integer()
    order_number = fields.String()
    granted_at = fields.DateTime()
    files = fields.List(fields.Nested(LibraryFileOut))


class LibraryOut(Schema):
    items = fields.List(fields.Nested(LibraryItemOut))


class ListingFileOut(Schema):
    id = fields.Integer()
    name = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    sha256 = fields.String()
    created_at = fields.DateTime()


class ListingFilesOut(Schema):
    items = fields.List(fields.Nested(ListingFileOut))


class ListingDownloadsOut(Schema):
    listing_id = fields.Integer()
    title = fields.String()
    downloads = fields.Integer(metadata={"description": "Downloads served (a resumed download counts once)."})
    buyers = fields.Integer(metadata={"description": "Distinct accounts that downloaded."})
    refused = fields.Integer(metadata={"description": "Attempts refused: expired or forged links, refunds, limits."})


class DownloadCountsOut(Schema):
    items = fields.List(fields.Nested(ListingDownloadsOut))
