"""Digital downloads end to end: a paid line grants an entitlement, the library lists fresh signed links, a
download is served with safe headers and counted, refunds revoke, and every refusal serves nothing and is logged."""
from __future__ import annotations

import io
import time
import urllib.request
import zipfile
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db
from app.storage import S3Storage, get_storage
from marketplace.downloads import services
from marketplace.downloads.models import DownloadLog, Entitlement, ListingFile
from tests.api_support import assert_problem, bearer_for
from tests.order_support import buy
from tests.s3_support import aws_env, moto_server, s3_bucket, s3_client  # noqa: F401  (fixtures)

PRICES = [{"currency": "CNY", "amount": 1200}]


def published(make, owner=None, kind="course", **data):
    return make.listing(owner or make.streamer(), status="published", kind=kind, prices=PRICES, **data)


def zip_bytes(entries: int = 3) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(entries):
            archive.writestr(f"lesson-{n}.txt", f"Lesson {n}: " + "x" * 2000)
    return buffer.getvalue()


def attach(client, owner_headers, listing, name="setup.zip", data=None):
    response = client.post(f"/api/v1/listings/{listing.id}/files", headers=owner_headers,
                           data={"file": (io.BytesIO(zip_bytes() if data is None else data), name)},
                           content_type="multipart/form-data")
    return response


@pytest.fixture
def seller(make):
    return make.streamer()


@pytest.fixture
def seller_headers(make, seller):
    return bearer_for(make, seller)


@pytest.fixture
def fan(make):
    return make.user(display_name="Lin Mei")


@pytest.fixture
def fan_headers(make, fan):
    return bearer_for(make, fan)


@pytest.fixture
def bought(client, make, seller, seller_headers, fan_headers):
    """A course with one zip attached, bought and paid by the fan: (listing, the zip's bytes, the order)."""
    listing = published(make, seller, title="Lighting for night streams")
    data = zip_bytes()
    assert attach(client, seller_headers, listing, "Night lighting.zip", data).status_code == 201
    order = buy(client, fan_headers, listing)
    return listing, data, order


def library(client, headers) -> list[dict]:
    response = client.get("/api/v1/library", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def only_file(client, headers) -> dict:
    (item,) = library(client, headers)
    (file,) = item["files"]
    return file


def files_by_name(client, headers) -> dict[str, dict]:
    (item,) = library(client, headers)
    return {file["name"]: file for file in item["files"]}


def logged(outcome: str) -> list[DownloadLog]:
    db.session.expire_all()
    return list(db.session.scalars(select(DownloadLog).where(DownloadLog.outcome == outcome)))


def test_paying_grants_the_files_and_the_library_links_them(client, bought, fan, fan_headers):
    listing, data, order = bought
    (item,) = library(client, fan_headers)
    assert item["listing"]["id"] == listing.id and item["listing"]["title"] == "Lighting for night streams"
    assert item["order_id"] == order["id"] and item["order_number"] == order["number"]
    (file,) = item["files"]
    assert file["name"] == "Night lighting.zip" and file["size"] == len(data) and file["downloads_left"] == 10
    assert file["content_type"] == "application/zip"
    entitlement = db.session.scalar(select(Entitlement).where(Entitlement.user_id == fan.id))
    assert entitlement.order_line.order_id == order["id"] and entitlement.is_active

    response = client.get(file["download_url"], headers=fan_headers)
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "Night%20lighting.zip" in response.headers["Content-Disposition"] or "Night lighting.zip" in response.headers["Content-Disposition"]
    assert response.mimetype == "application/zip"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert only_file(client, fan_headers)["downloads_left"] == 9
    (served,) = logged("served")
    assert served.user_id == fan.id and served.listing_id == listing.id and served.ip == "127.0.0.1"
    assert served.file_ref == file["download_url"].split("/")[-1].split("?")[0]


def test_a_range_request_resumes_without_counting_again(client, bought, fan_headers):
    _listing, data, _order = bought
    url = only_file(client, fan_headers)["download_url"]
    first = client.get(url, headers={**fan_headers, "Range": "bytes=0-99"})
    assert first.status_code == 206 and first.data == data[:100]
    rest = client.get(url, headers={**fan_headers, "Range": "bytes=100-"})
    assert rest.status_code == 206 and rest.data == data[100:]
    assert only_file(client, fan_headers)["downloads_left"] == 9
    assert len(logged("served")) == 1 and len(logged("resumed")) == 1


def test_the_browser_session_downloads_too_and_anonymous_visitors_are_sent_to_log_in(client, make, bought, fan, fan_headers):
    url = only_file(client, fan_headers)["download_url"]
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert_problem(client.get(url, headers={"Accept": "application/json"}), 401)
    make.login(client, fan.email)
    assert client.get(url).status_code == 200
    assert len(logged("not_signed_in")) == 2


def test_refusals_serve_nothing_and_are_logged(client, make, app, bought, fan_headers, seller_headers):
    url = only_file(client, fan_headers)["download_url"]
    parts = urlsplit(url)
    _, _downloads, entitlement_id, ref = parts.path.split("/")
    token = parts.query.removeprefix("t=")

    tampered = f"{parts.path}?t={token[:-3]}{'AAA' if not token.endswith('AAA') else 'BBB'}"
    assert_problem(client.get(tampered, headers=fan_headers), 403)
    assert_problem(client.get(parts.path, headers=fan_headers), 403)  # no token at all

    other_fan = make.user()
    assert_problem(client.get(url, headers=bearer_for(make, other_fan)), 403)
    assert logged("wrong_account")

    # a guessed entitlement id, another file, a path in place of the file: this link's token fits none of them
    assert_problem(client.get(f"/downloads/{int(entitlement_id) + 1}/{ref}?t={token}", headers=fan_headers), 403)
    assert_problem(client.get(f"/downloads/{entitlement_id}/file-999?t={token}", headers=fan_headers), 403)
    assert_problem(client.get(f"/downloads/{entitlement_id}/..%2F..%2Fetc%2Fpasswd?t={token}", headers=fan_headers), 403)
    assert len(logged("forged")) == 5

    app.config["ENCORE_DOWNLOAD_LINK_SECONDS"] = 1
    try:
        time.sleep(2.1)
        body = assert_problem(client.get(url, headers=fan_headers), 410)
    finally:
        app.config["ENCORE_DOWNLOAD_LINK_SECONDS"] = 300
    assert "expired" in body["detail"] and logged("expired")
    refused = [log for log in db.session.scalars(select(DownloadLog)) if log.outcome != "served"]
    assert len(refused) == 7 and all(log.status_code in (403, 410) and log.ip for log in refused)
    assert not logged("served")


def test_a_refund_revokes_the_files(client, make, bought, fan_headers, seller_headers):
    _listing, _data, order = bought
    url = only_file(client, fan_headers)["download_url"]
    response = client.post(f"/api/v1/orders/{order['id']}/refunds", json={"reason": "Changed my mind"}, headers=seller_headers)
    assert response.status_code == 201, response.get_json()
    assert library(client, fan_headers) == []
    body = assert_problem(client.get(url, headers=fan_headers), 410)
    assert "refunded" in body["detail"]
    assert logged("revoked")


def test_the_limit_holds_per_file(client, make, app, seller, seller_headers, fan_headers):
    app.config["ENCORE_DOWNLOADS_PER_FILE"] = 2
    try:
        listing = published(make, seller)
        attach(client, seller_headers, listing)
        buy(client, fan_headers, listing)
    finally:
        app.config["ENCORE_DOWNLOADS_PER_FILE"] = 10
    url = only_file(client, fan_headers)["download_url"]
    assert [client.get(url, headers=fan_headers).status_code for _ in range(2)] == [200, 200]
    body = assert_problem(client.get(url, headers=fan_headers), 403)
    assert "2 times" in body["detail"]
    assert only_file(client, fan_headers)["downloads_left"] == 0
    assert len(logged("limit_reached")) == 1


def test_sellers_attach_files_and_only_sellers(client, make, seller, seller_headers, fan_headers):
    listing = published(make, seller)
    created = attach(client, seller_headers, listing, "../../etc/passwd.zip")
    assert created.status_code == 201
    body = created.get_json()
    assert body["name"] == "passwd.zip" and len(body["sha256"]) == 64
    row = db.session.get(ListingFile, body["id"])
    assert row.key.startswith("private/listing-files/") and get_storage().exists(row.key)
    assert "passwd" not in row.key

    listed = client.get(f"/api/v1/listings/{listing.id}/files", headers=seller_headers).get_json()["items"]
    assert [item["name"] for item in listed] == ["passwd.zip"]

    assert_problem(attach(client, fan_headers, listing), 403)
    assert_problem(attach(client, seller_headers, listing, "handout.pdf", b"this is not a pdf"), 422)
    assert_problem(attach(client, seller_headers, listing, "empty.zip", b""), 422)
    merch = published(make, seller, kind="merch")
    assert_problem(attach(client, seller_headers, merch), 422)
    other = published(make)
    assert_problem(attach(client, seller_headers, other), 403)

    # removable while unsold; kept once someone bought the listing
    spare = attach(client, seller_headers, listing, "spare.zip").get_json()
    spare_key = db.session.get(ListingFile, spare["id"]).key
    assert client.delete(f"/api/v1/listings/{listing.id}/files/{spare['id']}", headers=seller_headers).status_code == 204
    assert not get_storage().exists(spare_key)
    buy(client, fan_headers, listing)
    assert_problem(client.delete(f"/api/v1/listings/{listing.id}/files/{body['id']}", headers=seller_headers), 409)
    assert_problem(client.delete(f"/api/v1/listings/{listing.id}/files/{body['id']}", headers=fan_headers), 403)
    assert_problem(client.delete(f"/api/v1/listings/{listing.id}/files/424242", headers=seller_headers), 404)


def test_sellers_see_download_counts_per_listing(client, make, bought, seller_headers, fan_headers):
    listing, _data, _order = bought
    url = only_file(client, fan_headers)["download_url"]
    client.get(url, headers=fan_headers)
    client.get(url, headers=fan_headers)
    client.get(url, headers=bearer_for(make, make.user()))  # refused: another account
    items = client.get("/api/v1/dashboard/downloads", headers=seller_headers).get_json()["items"]
    (mine,) = [item for item in items if item["listing_id"] == listing.id]
    assert (mine["downloads"], mine["buyers"], mine["refused"]) == (2, 1, 1)
    assert_problem(client.get("/api/v1/dashboard/downloads", headers=fan_headers), 403)


def test_a_sticker_pack_buyer_gets_every_platform_export_and_the_art(client, make, seller, fan, fan_headers):
    pack = make.sticker_pack(seller, count=8, status="published", prices=PRICES)
    sticker_id = db.session.execute(db.text("SELECT id FROM stickers WHERE pack_id = :id ORDER BY position LIMIT 1"),
                                    {"id": pack.id}).scalar()
    full = f"/sticker-packs/{pack.id}/stickers/{sticker_id}/full"
    assert client.get(full, headers=fan_headers).status_code in (401, 403)
    make.login(client, fan.email)
    assert client.get(full).status_code == 403
    page = client.get(f"/listings/{pack.slug}").get_data(as_text=True)
    assert "/preview" in page and "/full" not in page

    buy(client, fan_headers, pack)
    (item,) = library(client, fan_headers)
    names = sorted(file["name"] for file in item["files"])
    assert names == sorted(f"{pack.slug}-{code}.zip" for code in ("line", "telegram", "whatsapp"))
    line_export = next(file for file in item["files"] if file["name"].endswith("-line.zip"))
    response = client.get(line_export["download_url"])
    assert response.status_code == 200 and zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert client.get(full).status_code == 200
    page = client.get(f"/listings/{pack.slug}").get_data(as_text=True)
    assert "/full" in page and "/library" in page


def test_with_s3_storage_a_download_redirects_to_a_short_presigned_url(client, app, make, monkeypatch, s3_bucket,
                                                                        moto_server, seller, seller_headers, fan_headers):
    monkeypatch.setitem(app.extensions, "encore.storage", S3Storage(s3_bucket, "shop", endpoint_url=moto_server))
    listing = published(make, seller)
    data = zip_bytes(entries=5)
    assert attach(client, seller_headers, listing, "Studio 灯光.zip", data).status_code == 201
    buy(client, fan_headers, listing)
    file = only_file(client, fan_headers)

    response = client.get(file["download_url"], headers=fan_headers)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{moto_server}/{s3_bucket}/shop/private/listing-files/")
    assert "X-Amz-Expires=300" in location
    with urllib.request.urlopen(location) as fetched:
        assert fetched.read() == data
        assert fetched.headers["Content-Disposition"].startswith("attachment;")
        assert "%E7%81%AF%E5%85%89" in fetched.headers["Content-Disposition"]  # 灯光, percent-encoded
    assert only_file(client, fan_headers)["downloads_left"] == 9
    assert len(logged("served")) == 1


def test_pdfs_and_images_are_stamped_with_the_buyer_and_the_order(client, make, seller, seller_headers, fan, fan_headers):
    from pypdf import PdfReader
    from PIL import Image

    from marketplace.demo import handout_pdf

    listing = published(make, seller)
    handout = handout_pdf("Handout", ["One", "Two"])
    assert attach(client, seller_headers, listing, "handout.pdf", handout).status_code == 201
    poster = make.png_bytes(size=(80, 60))
    assert attach(client, seller_headers, listing, "poster.png", poster).status_code == 201
    order = buy(client, fan_headers, listing)
    files = files_by_name(client, fan_headers)

    pdf = client.get(files["handout.pdf"]["download_url"], headers=fan_headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.data))
    assert len(reader.pages) == 2
    assert reader.metadata["/EncoreOrder"] == order["number"] and reader.metadata["/EncoreBuyer"] == "Lin Mei"
    assert order["number"] in reader.pages[0].extract_text()
    again = client.get(files_by_name(client, fan_headers)["handout.pdf"]["download_url"], headers=fan_headers)
    assert again.data == pdf.data  # the buyer's stamped copy is made once and kept

    png = client.get(files["poster.png"]["download_url"], headers=fan_headers)
    image = Image.open(io.BytesIO(png.data))
    assert order["number"] in image.text["Encore-Order"]
    assert image.tobytes() == Image.open(io.BytesIO(poster)).tobytes()


def test_a_pdf_that_cannot_be_stamped_is_refused_at_upload(client, make, seller, seller_headers):
    listing = published(make, seller)
    body = assert_problem(attach(client, seller_headers, listing, "broken.pdf", b"%PDF-1.7\n garbage with no xref"), 422)
    assert "broken.pdf" in body["errors"]["file"][0]
    assert db.session.scalar(select(ListingFile.id)) is None
