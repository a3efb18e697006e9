"""Download pages with the Flask test client and a real database: the fan's library (grouped by kind, signed links
that download, used-up files), a seller's files page (upload, removal and every refusal as a form error with its
status) and the download counts page, with the links into them from the header and the dashboard."""
from __future__ import annotations

import io
import re
import tracemalloc
import zipfile

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.storage import get_storage
from marketplace.downloads.models import ListingFile
from tests.api_support import bearer_for
from tests.order_support import buy
from tests.page_support import logged_in, text_of

PRICES = [{"currency": "CNY", "amount": 1200}]
DOWNLOAD_LINK = re.compile(r'href="(/downloads/\d+/[^"?]+\?t=[^"]+)"')


def published(make, owner, kind="course", **data):
    return make.listing(owner, status="published", kind=kind, prices=PRICES, **data)


def zip_bytes(entries: int = 3) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(entries):
            archive.writestr(f"lesson-{n}.txt", f"Lesson {n}: " + "x" * 2000)
    return buffer.getvalue()


def upload(client, listing, name="setup.zip", data=None):
    return client.post(f"/dashboard/listings/{listing.id}/files",
                       data={"file": (io.BytesIO(zip_bytes() if data is None else data), name)},
                       content_type="multipart/form-data")


def attached_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(ListingFile))


def section(page: str, element_id: str) -> str:
    """The HTML of the element with this id up to the next element of the same kind (a card or a kind section)."""
    start = page.index(f'id="{element_id}"')
    tag = page.rindex("<", 0, start)
    name = page[tag + 1:page.index(" ", tag)]
    end = page.find(f"<{name} ", start)
    return page[start:end if end != -1 else len(page)]


@pytest.fixture
def seller(make):
    return make.streamer(email="mia@example.com", handle="mia")


@pytest.fixture
def seller_client(app, make, seller):
    return logged_in(app, make, seller)


@pytest.fixture
def fan(make):
    return make.user(email="lin@example.com", display_name="Lin Mei")


@pytest.fixture
def fan_client(app, make, fan):
    return logged_in(app, make, fan)


@pytest.fixture
def fan_headers(make, fan):
    return bearer_for(make, fan)


@pytest.fixture
def course(make, seller, seller_client):
    """A published course with one zip the seller added on the files page."""
    listing = published(make, seller, title="Lighting for night streams")
    assert upload(seller_client, listing, "Night lighting.zip").status_code == 302
    return listing


# ---------------------------------------------------------------- the library

def test_the_library_groups_purchases_by_kind_and_its_links_download(app, make, seller, seller_client, course, fan_client, fan_headers):
    setup = published(make, seller, kind="studio_setup", title="Two-light desk setup")
    assert upload(seller_client, setup, "desk-presets.zip").status_code == 302
    order = buy(fan_client, fan_headers, course, setup)

    response = fan_client.get("/library")
    assert response.status_code == 200
    page = text_of(response)
    assert "Library" in page and 'aria-current="page"' in page  # the header link, marked as the current page
    assert "Download links work for 5 minutes" in page and "Reload the page" in page

    course_card = section(page, f"listing-{course.id}")
    assert "Lighting for night streams" in course_card and f'href="/listings/{course.slug}"' in course_card
    assert f'href="/orders/{order["number"]}"' in course_card and f"Order {order['number']}" in course_card
    assert "Night lighting.zip" in course_card and "10 of 10 downloads left" in course_card
    assert re.search(r"\d(\.\d)? KB", course_card)
    assert "desk-presets.zip" in section(page, f"listing-{setup.id}")
    # one heading per kind, each purchase under its own kind's
    assert f"listing-{course.id}" in section(page, "kind-course") and f"listing-{setup.id}" not in section(page, "kind-course")
    assert f"listing-{setup.id}" in section(page, "kind-studio_setup")
    assert ">Course<" in page and ">Studio setup<" in page

    (link,) = DOWNLOAD_LINK.findall(course_card)
    downloaded = fan_client.get(link.replace("&amp;", "&"))
    assert downloaded.status_code == 200
    stored = db.session.scalar(select(ListingFile).where(ListingFile.listing_id == course.id))
    with get_storage().open(stored.key) as source:
        assert downloaded.data == source.read()
    assert "attachment" in downloaded.headers["Content-Disposition"]
    assert "9 of 10 downloads left" in section(text_of(fan_client.get("/library")), f"listing-{course.id}")


def test_a_used_up_file_shows_a_disabled_button_and_why(app, make, course, fan_client, fan_headers):
    app.config["ENCORE_DOWNLOADS_PER_FILE"] = 1
    try:
        buy(fan_client, fan_headers, course)
    finally:
        app.config["ENCORE_DOWNLOADS_PER_FILE"] = 10
    (link,) = DOWNLOAD_LINK.findall(text_of(fan_client.get("/library")))
    assert fan_client.get(link).status_code == 200

    card = section(text_of(fan_client.get("/library")), f"listing-{course.id}")
    assert "0 of 1 downloads left" in card
    assert not DOWNLOAD_LINK.findall(card)
    assert 'aria-disabled="true"' in card and "Contact the seller for more" in card


def test_a_refunded_purchase_leaves_the_library(make, seller_client, course, fan_client, fan_headers):
    order = buy(fan_client, fan_headers, course)
    response = seller_client.post(f"/orders/{order['number']}/refunds", data={"scope": "all", "reason": "Wrong course"})
    assert response.status_code == 302
    page = text_of(fan_client.get("/library"))
    assert f"listing-{course.id}" not in page and "Browse the catalog" in page


def test_an_empty_library_points_to_the_catalog_and_visitors_must_log_in(client, fan_client):
    page = text_of(fan_client.get("/library"))
    assert "Nothing here yet" in page and 'href="/browse"' in page

    anonymous = client.get("/library")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"] and "next=%2Flibrary" in anonymous.headers["Location"]
    assert 'href="/library"' not in text_of(client.get("/browse"))


# ---------------------------------------------------------------- a listing's files

def test_a_seller_adds_and_removes_files_on_the_files_page(make, seller, seller_client):
    listing = published(make, seller, title="Color grading course")
    page = text_of(seller_client.get(f"/dashboard/listings/{listing.id}/files"))
    assert 'enctype="multipart/form-data"' in page and 'name="file"' in page and "No files yet" in page

    added = upload(seller_client, listing, "../../Grading LUTs.zip")
    assert added.status_code == 302 and added.headers["Location"].endswith(f"/dashboard/listings/{listing.id}/files")
    page = text_of(seller_client.get(added.headers["Location"]))
    assert "Grading LUTs.zip was added" in page  # the flash
    assert "Grading LUTs.zip" in page and "application/zip" in page and "KB" in page and "../" not in page
    (row,) = db.session.scalars(select(ListingFile))
    key = row.key
    assert get_storage().exists(key)

    removed = seller_client.post(f"/dashboard/listings/{listing.id}/files/{row.id}/delete")
    assert removed.status_code == 302
    assert "Grading LUTs.zip was removed" in text_of(seller_client.get(removed.headers["Location"]))
    assert attached_count() == 0 and not get_storage().exists(key)


def test_refused_uploads_show_the_reason_on_the_page(make, seller, seller_client):
    listing = published(make, seller)
    fake = upload(seller_client, listing, "handout.pdf", b"this is not a pdf at all")
    assert fake.status_code == 422
    page = text_of(fake)
    assert "handout.pdf is not a real PDF file." in page and 'id="file-errors"' in page and 'aria-invalid="true"' in page
    assert 'name="file"' in page  # the form is there to try again

    assert upload(seller_client, listing, "empty.zip", b"").status_code == 422
    nothing = seller_client.post(f"/dashboard/listings/{listing.id}/files", data={}, content_type="multipart/form-data")
    assert nothing.status_code == 422 and "Choose a file to upload." in text_of(nothing)
    unnamed = upload(seller_client, listing, "", b"data")
    assert unnamed.status_code == 422
    assert attached_count() == 0

    merch = published(make, seller, kind="merch")
    page = text_of(seller_client.get(f"/dashboard/listings/{merch.id}/files"))
    assert "only be attached to digital listings" in page and 'name="file"' not in page
    refused = upload(seller_client, merch)
    assert refused.status_code == 422 and "only be attached to digital listings" in text_of(refused)


def test_only_the_listing_owner_reaches_its_files(app, make, seller, course, fan_client):
    other = logged_in(app, make, make.streamer())
    assert other.get(f"/dashboard/listings/{course.id}/files").status_code == 403
    assert upload(other, course).status_code == 403
    (row,) = db.session.scalars(select(ListingFile))
    assert other.post(f"/dashboard/listings/{course.id}/files/{row.id}/delete").status_code == 403
    assert fan_client.get(f"/dashboard/listings/{course.id}/files").status_code == 403
    assert other.get("/dashboard/listings/424242/files").status_code == 404
    draft = make.listing(seller, title="Unreleased")
    assert other.get(f"/dashboard/listings/{draft.id}/files").status_code == 404
    anonymous = app.test_client().get(f"/dashboard/listings/{course.id}/files")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert attached_count() == 1


def test_files_stay_once_the_listing_is_bought(make, seller_client, course, fan_client, fan_headers):
    buy(fan_client, fan_headers, course)
    (row,) = db.session.scalars(select(ListingFile))
    page = text_of(seller_client.get(f"/dashboard/listings/{course.id}/files"))
    assert "This listing has buyers, so its files stay" in page
    assert "/delete" not in page

    refused = seller_client.post(f"/dashboard/listings/{course.id}/files/{row.id}/delete")
    assert refused.status_code == 409
    assert 'class="flash flash-error"' in text_of(refused) and "Buyers have this file, so it stays." in text_of(refused)
    assert seller_client.post(f"/dashboard/listings/{course.id}/files/999999/delete").status_code == 404
    assert attached_count() == 1 and get_storage().exists(row.key)

    # a new version can still be added, and the buyer gets it too
    assert upload(seller_client, course, "Night lighting v2.zip").status_code == 302
    assert "Night lighting v2.zip" in text_of(fan_client.get("/library"))


def test_a_large_upload_goes_to_storage_without_being_held_in_memory(make, seller, seller_client, tmp_path):
    listing = published(make, seller)
    size = 20 * 1024 * 1024
    source = tmp_path / "studio-footage.zip"
    with source.open("wb") as out:
        chunk = b"PK" + bytes(range(256)) * 256
        while out.tell() < size:
            out.write(chunk[: size - out.tell()])
    tracemalloc.start()
    try:
        with source.open("rb") as stream:
            response = seller_client.post(f"/dashboard/listings/{listing.id}/files",
                                          data={"file": (stream, "studio-footage.zip")}, content_type="multipart/form-data")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 302, text_of(response)[:500]
    (row,) = db.session.scalars(select(ListingFile))
    assert row.size == size and get_storage().size(row.key) == size
    assert peak < size / 4, f"the upload peaked at {peak / 1e6:.1f} MB of Python memory"


def test_the_kinds_own_files_are_listed_read_only(make, seller, seller_client):
    pack = make.sticker_pack(seller, count=8, status="published", prices=PRICES)
    page = text_of(seller_client.get(f"/dashboard/listings/{pack.id}/files"))
    built = section(page, "built-heading")
    for platform in ("line", "telegram", "whatsapp"):
        assert f"{pack.slug}-{platform}.zip" in built
    assert "/delete" not in built and "No files yet" in page


def test_the_dashboard_links_the_files_of_digital_listings_only(make, seller, seller_client, course):
    merch = published(make, seller, kind="merch", title="Hoodie")
    page = text_of(seller_client.get("/dashboard"))
    assert f'href="/dashboard/listings/{course.id}/files"' in page
    assert f'href="/dashboard/listings/{merch.id}/files"' not in page
    assert 'href="/dashboard/downloads"' in page


# ---------------------------------------------------------------- download counts

def test_the_counts_page_shows_downloads_and_refusals_per_listing(app, make, seller, seller_client, course, fan_client, fan_headers):
    quiet = published(make, seller, title="A course nobody bought")
    published(make, seller, kind="merch", title="Hoodie")
    buy(fan_client, fan_headers, course)
    (link,) = DOWNLOAD_LINK.findall(text_of(fan_client.get("/library")))
    assert fan_client.get(link).status_code == 200
    assert fan_client.get(link).status_code == 200
    stranger = logged_in(app, make, make.user())
    assert stranger.get(link).status_code == 403  # a shared link: refused and counted

    response = seller_client.get("/dashboard/downloads")
    assert response.status_code == 200
    page = text_of(response)
    row = section(page, f"counts-{course.id}")
    assert re.search(r'counts-downloads">2<', row) and re.search(r'counts-buyers">1<', row)
    assert re.search(r'counts-refused">1<', row)
    assert re.search(r'counts-downloads">0<', section(page, f"counts-{quiet.id}"))
    assert "Hoodie" not in page
    charts = page[page.index("download-charts"):page.index("counts-table")]
    assert charts.count('class="bar"') == 2  # the course's downloads and its refusal; zeros draw no bar
    assert "Lighting for night streams" in charts


def test_the_counts_page_is_for_streamers(app, client, make, fan_client):
    assert fan_client.get("/dashboard/downloads").status_code == 403
    assert "Become a streamer" in text_of(fan_client.get("/dashboard/downloads"))
    anonymous = client.get("/dashboard/downloads")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    newcomer = logged_in(app, make, make.streamer())
    assert "no digital listings yet" in text_of(newcomer.get("/dashboard/downloads"))


def test_the_order_page_links_a_delivered_digital_line_to_the_library(client, make):
    from tests.api_support import bearer_for
    from tests.order_support import buy

    seller, fan = make.streamer(), make.user()
    listing = make.listing(seller, status="published", kind="course", prices=[{"currency": "CNY", "amount": 1200}])
    order = buy(client, bearer_for(make, fan), listing)
    make.login(client, fan.email)
    page = client.get(f"/orders/{order['number']}").get_data(as_text=True)
    assert f'/library#listing-{listing.id}' in page and "Download in your library" in page
