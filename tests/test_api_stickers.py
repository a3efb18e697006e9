"""The sticker pack API: uploads (files and zips), the hostile-file corpus, managing stickers, the processing
report, the OpenAPI document, and every refusal (wrong owner, wrong role, wrong state, bad input).

Processing runs eagerly in these tests (the real worker is tests/test_worker_stickers.py), so a GET after a
change already sees it processed. Art is small (200x200) to keep the file fast.
"""
from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

import pytest
from PIL import Image

from app.extensions import db
from app.storage import get_storage
from marketplace.catalog.models import Listing
from stickers import services
from stickers.models import Sticker, StickerPack
from stickers.platforms import PLATFORMS
from tests.api_support import assert_problem, bearer_for

SIZE = (200, 200)


def art(make, index: int = 0, fmt: str = "PNG", frames: int = 1) -> bytes:
    return make.sticker_png(size=SIZE, index=index, fmt=fmt, frames=frames)


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def post_files(client, listing_id: int, files: list[tuple[str, bytes]], headers, field: str = "files"):
    return client.post(
        f"/api/v1/sticker-packs/{listing_id}/stickers",
        data={field: [(io.BytesIO(data), name) for name, data in files]},
        headers=headers,
        content_type="multipart/form-data",
    )


def put_image(client, listing_id: int, sticker_id: int, name: str, data: bytes, headers):
    return client.put(
        f"/api/v1/sticker-packs/{listing_id}/stickers/{sticker_id}/image",
        data={"file": (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def report(client, listing_id: int, headers=None) -> dict:
    response = client.get(f"/api/v1/sticker-packs/{listing_id}", headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def empty_pack(make, owner, **data) -> Listing:
    return make.listing(owner, kind="sticker_pack", **data)


def unprocessed_pack(make, owner, count: int) -> Listing:
    """A draft pack with `count` small stickers uploaded but not processed (for tests of input checks)."""
    listing = empty_pack(make, owner)
    files = [(f"{i + 1:02d}.png", make.sticker_png(size=(64, 64), index=i)) for i in range(count)]
    services.add_stickers(owner, services.own_pack(owner, listing.id), files, get_storage())
    db.session.commit()
    return listing


def sticker_ids(body: dict) -> list[int]:
    return [s["id"] for s in body["stickers"]]


# ---------------------------------------------------------------- the hostile corpus

def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def pixel_bomb() -> bytes:
    """A valid little PNG whose header declares 30000x30000 RGBA (3.6 GB decoded)."""
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + _png_chunk(b"IEND", b"")
    )


@functools.cache
def zip_bomb() -> bytes:
    """300 MB of zeros in a ~300 KB zip (built once per run: it takes a fraction of a second)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.png", "w", force_zip64=True) as member:
            chunk = b"\x00" * (1 << 20)
            for _ in range(300):
                member.write(chunk)
    return out.getvalue()


def opaque_rgb() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", SIZE, (250, 250, 250)).save(out, format="PNG")
    return out.getvalue()


def opaque_rgba() -> bytes:
    """RGBA, but filled edge to edge: the background is not transparent."""
    out = io.BytesIO()
    Image.new("RGBA", SIZE, (30, 120, 200, 255)).save(out, format="PNG")
    return out.getvalue()


HOSTILE = {
    # name: (file name, bytes builder(make), code, words the message must contain)
    "pixel bomb": ("bomb.png", lambda make: pixel_bomb(), "too_many_pixels", "30000×30000"),
    "truncated png": ("cut.png", lambda make: art(make)[: len(art(make)) // 2], "truncated", "damaged or cut short"),
    "html renamed to png": ("evil.png", lambda make: b"<!DOCTYPE html><html><script>alert(1)</script></html>",
                            "not_image", "not an image"),
    "svg": ("logo.svg", lambda make: b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>',
            "format_not_allowed", "SVG files are not accepted"),
    "svg renamed to png": ("logo.png", lambda make: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
                           "format_not_allowed", "SVG files are not accepted"),
    "jpeg": ("photo.jpg", lambda make: make.png_bytes(size=SIZE, fmt="JPEG"), "format_not_allowed", "JPEG"),
    "zip slip": ("slip.zip", lambda make: zip_of([("ok.png", art(make)), ("../../evil.png", art(make, 1))]),
                 "unsafe_path", "../../evil.png"),
    "zip bomb": ("bomb.zip", lambda make: zip_bomb(), "zip_too_big", "unpacks to more than"),
    "damaged zip": ("broken.zip", lambda make: b"PK\x03\x04 not really a zip", "zip_unreadable", "damaged"),
    "empty file": ("empty.png", lambda make: b"", "empty", "The file is empty"),
    "opaque rgb": ("photo.png", lambda make: opaque_rgb(), "not_transparent", "not transparent"),
    "opaque rgba": ("filled.png", lambda make: opaque_rgba(), "not_transparent", "not transparent"),
    "gif named png": ("anim.png", lambda make: art(make, fmt="GIF"), "type_mismatch",
                      "named like a PNG image but its bytes are GIF"),
    "animated art in a static pack": ("moving.png", lambda make: art(make, frames=3), "animated_in_static_pack",
                                      "the pack is static"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_file_is_refused_by_name_and_nothing_in_the_pack_is_lost(client, make, case):
    filename, build, code, words = HOSTILE[case]
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=1)
    headers = bearer_for(make, owner)
    before = report(client, listing.id, headers)
    pack = db.session.get(StickerPack, listing.id)
    revision, sources = pack.revision, [s.source_key for s in pack.stickers]

    response = post_files(client, listing.id, [(filename, build(make))], headers)

    body = assert_problem(response, 422)
    (message,) = body["errors"]["files"]
    assert message.startswith(f"{filename}: ") and words in message, message
    assert filename in body["detail"]
    (refused,) = body["refused"]
    assert (refused["file"], refused["code"]) == (filename, code)
    assert words in refused["message"]
    after = report(client, listing.id, headers)
    assert after == before
    db.session.expire_all()
    pack = db.session.get(StickerPack, listing.id)
    assert pack.revision == revision
    assert [s.source_key for s in pack.stickers] == sources
    assert all(get_storage().exists(key) for key in sources)


def test_mixed_batch_adds_the_good_files_and_names_the_refused_ones(client, make):
    owner = make.streamer()
    listing = empty_pack(make, owner)
    files = [
        ("01.png", art(make, 0)),
        ("bomb.png", pixel_bomb()),
        ("02.webp", art(make, 1, fmt="WEBP")),
        ("empty.png", b""),
        ("set.zip", zip_of([("10.png", art(make, 2)), ("9.png", art(make, 3)), ("notes.txt", b"hello")])),
    ]

    response = post_files(client, listing.id, files, bearer_for(make, owner))

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert [s["name"] for s in body["added"]] == ["01.png", "02.webp", "set.zip/9.png", "set.zip/10.png"]
    assert [s["position"] for s in body["added"]] == [1, 2, 3, 4]
    assert [(r["file"], r["code"]) for r in body["refused"]] == [
        ("bomb.png", "too_many_pixels"), ("empty.png", "empty"), ("set.zip/notes.txt", "not_image"),
    ]
    assert all(r["message"] for r in body["refused"])
    assert sticker_ids(body["pack"]) == [s["id"] for s in body["added"]]


# ---------------------------------------------------------------- uploads

def test_upload_answers_at_once_with_the_pack_queued_then_the_report_shows_it_processed(client, make):
    owner = make.streamer()
    listing = empty_pack(make, owner)
    headers = bearer_for(make, owner)

    response = post_files(client, listing.id, [("hello.png", art(make))], headers)

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    (added,) = body["added"]
    assert {"id", "position", "status", "errors", "name", "emoji", "keywords", "width", "height", "frames"} <= added.keys()
    assert (added["position"], added["status"], added["name"], added["errors"]) == (1, "pending", "hello.png", [])
    assert (added["width"], added["height"], added["frames"]) == (200, 200, 1)
    assert body["refused"] == []
    assert body["pack"]["processing"] == {"state": "queued", "done": 0, "total": 1}
    # the eager task ran after the commit: the report now shows the result
    after = report(client, listing.id, headers)
    assert after["processing"] == {"state": "done", "done": 1, "total": 1}
    assert after["stickers"][0]["status"] == "ready"
    assert after["exports"]["telegram"]["status"] == "ready"
    assert after["exports"]["line"]["status"] == "failed"


def test_upload_takes_several_files_under_files_and_a_single_one_under_file(client, make):
    owner = make.streamer()
    listing = empty_pack(make, owner)
    headers = bearer_for(make, owner)

    several = post_files(client, listing.id, [("a.png", art(make, 0)), ("b.gif", art(make, 1, fmt="GIF"))], headers)
    single = post_files(client, listing.id, [("c.png", art(make, 2))], headers, field="file")

    assert several.status_code == 201 and single.status_code == 201
    names = [s["name"] for s in report(client, listing.id, headers)["stickers"]]
    assert names == ["a.png", "b.gif", "c.png"]


def test_upload_of_a_zip_adds_its_images_in_natural_order(client, make):
    owner = make.streamer()
    listing = empty_pack(make, owner)
    data = zip_of([(f"pack/{n}.png", art(make, n)) for n in (10, 2, 1)] + [("__MACOSX/._1.png", b"junk")])

    response = post_files(client, listing.id, [("owls.zip", data)], bearer_for(make, owner))

    assert response.status_code == 201, response.get_data(as_text=True)
    assert [s["name"] for s in response.get_json()["added"]] == ["owls.zip/1.png", "owls.zip/2.png", "owls.zip/10.png"]


def test_animated_pack_takes_animated_art(client, make):
    owner = make.streamer()
    listing = empty_pack(make, owner)
    headers = bearer_for(make, owner)

    made_animated = client.patch(f"/api/v1/sticker-packs/{listing.id}", json={"animated": True}, headers=headers)
    response = post_files(
        client, listing.id, [("a.png", art(make, 0, frames=3)), ("b.png", art(make, 1))], headers
    )

    assert made_animated.status_code == 200 and made_animated.get_json()["animated"] is True
    assert response.status_code == 201
    body = response.get_json()
    assert [(s["name"], s["frames"]) for s in body["added"]] == [("a.png", 3)]
    assert [(r["file"], r["code"]) for r in body["refused"]] == [("b.png", "still_in_animated_pack")]


def test_upload_without_files_is_422_naming_files(client, make):
    owner = make.streamer()
    listing = empty_pack(make, owner)
    headers = bearer_for(make, owner)

    empty = client.post(f"/api/v1/sticker-packs/{listing.id}/stickers", data={}, headers=headers,
                        content_type="multipart/form-data")
    as_json = client.post(f"/api/v1/sticker-packs/{listing.id}/stickers", json={"files": ["x"]}, headers=headers)
    misnamed = post_files(client, listing.id, [("a.png", art(make))], headers, field="image")

    assert "files" in assert_problem(empty, 422)["errors"]
    assert "files" in assert_problem(as_json, 422)["errors"]
    assert "image" in assert_problem(misnamed, 422)["errors"]
    assert db.session.get(StickerPack, listing.id) is None or not db.session.get(StickerPack, listing.id).stickers


def test_an_upload_over_the_request_limit_is_a_413_problem(app, client, make):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=1)
    headers = bearer_for(make, owner)
    before = report(client, listing.id, headers)
    too_big = b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 1)

    response = post_files(client, listing.id, [("huge.png", too_big)], headers)

    assert_problem(response, 413)
    assert report(client, listing.id, headers) == before


# ---------------------------------------------------------------- who may upload

def test_only_the_owner_may_upload(client, make):
    owner, other = make.streamer(), make.streamer()
    fan, operator = make.user(), make.operator()
    draft = empty_pack(make, owner)
    published = make.sticker_pack(owner, count=1, status="published")
    files = [("a.png", art(make))]

    assert_problem(post_files(client, draft.id, files, {}), 401)
    assert_problem(post_files(client, draft.id, files, {"Authorization": "Bearer nope"}), 401)
    assert_problem(post_files(client, draft.id, files, bearer_for(make, other)), 404)  # cannot see a draft
    assert_problem(post_files(client, published.id, files, bearer_for(make, other)), 403)
    assert_problem(post_files(client, published.id, files, bearer_for(make, fan)), 403)
    assert_problem(post_files(client, draft.id, files, bearer_for(make, operator)), 403)
    assert_problem(post_files(client, published.id, files, bearer_for(make, owner)), 409)
    assert db.session.get(StickerPack, draft.id) is None or not db.session.get(StickerPack, draft.id).stickers
    assert len(db.session.get(StickerPack, published.id).stickers) == 1


def test_a_listing_that_is_not_a_sticker_pack_or_does_not_exist_is_404(client, make):
    owner = make.streamer()
    course = make.listing(owner, kind="course", status="published")
    headers = bearer_for(make, owner)

    assert_problem(client.get(f"/api/v1/sticker-packs/{course.id}"), 404)
    assert_problem(post_files(client, course.id, [("a.png", art(make))], headers), 404)
    assert_problem(client.get("/api/v1/sticker-packs/999999"), 404)
    assert_problem(client.patch("/api/v1/sticker-packs/999999", json={}, headers=headers), 404)


# ---------------------------------------------------------------- the report

def test_report_has_the_issue_shape_and_names_the_failed_platform(client, make):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=5)

    headers = bearer_for(make, owner)
    body = report(client, listing.id, headers)

    assert {"stickers", "processing", "exports"} <= body.keys()
    assert [s["position"] for s in body["stickers"]] == [1, 2, 3, 4, 5]
    for sticker in body["stickers"]:
        assert {"id", "position", "status", "errors"} <= sticker.keys()
        assert sticker["status"] == "ready" and sticker["errors"] == []
    assert body["processing"] == {"state": "done", "done": 5, "total": 5}
    assert set(body["exports"]) == set(PLATFORMS) == {"line", "telegram", "whatsapp"}
    for export in body["exports"].values():
        assert export["status"] in ("pending", "ready", "failed") and isinstance(export["errors"], list)
    assert body["exports"]["telegram"]["status"] == body["exports"]["whatsapp"]["status"] == "ready"
    line = body["exports"]["line"]
    assert line["status"] == "failed"
    (error,) = line["errors"]
    assert error["code"] == "count_not_allowed"
    assert (error["platform"], error["count"]) == ("LINE", 5)
    assert error["message"] == "LINE needs 8, 16, 24, 32 or 40 stickers; this pack has 5."
    chinese = client.get(f"/api/v1/sticker-packs/{listing.id}", headers={**headers, "Accept-Language": "zh-CN"}).get_json()
    assert chinese["exports"]["line"]["errors"][0]["message"] == "LINE 需要 8, 16, 24, 32 或 40 张贴纸；此贴纸包有 5 张。"


def test_report_visibility_follows_the_listing(client, make):
    owner, other, operator = make.streamer(), make.streamer(), make.operator()
    draft = make.sticker_pack(owner, count=1)
    published = make.sticker_pack(owner, count=1, status="published")

    assert report(client, published.id)["processing"]["total"] == 1  # anyone
    assert report(client, published.id, bearer_for(make, other))["stickers"]
    assert_problem(client.get(f"/api/v1/sticker-packs/{draft.id}"), 404)
    assert_problem(client.get(f"/api/v1/sticker-packs/{draft.id}", headers=bearer_for(make, other)), 404)
    assert report(client, draft.id, bearer_for(make, owner))["stickers"]
    assert report(client, draft.id, bearer_for(make, operator))["stickers"]
    assert_problem(client.get(f"/api/v1/sticker-packs/{published.id}", headers={"Authorization": "Bearer bad"}), 401)


# ---------------------------------------------------------------- changing the pack

def test_reorder_and_choose_the_main_sticker(client, make):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=3)
    headers = bearer_for(make, owner)
    first, second, third = sticker_ids(report(client, listing.id, headers))

    response = client.patch(
        f"/api/v1/sticker-packs/{listing.id}", json={"order": [third, first, second], "main_sticker_id": second},
        headers=headers,
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert sticker_ids(body) == [third, first, second]
    assert [s["position"] for s in body["stickers"]] == [1, 2, 3]
    assert body["main_sticker_id"] == second
    assert body["processing"]["state"] == "queued"
    after = report(client, listing.id, headers)
    assert sticker_ids(after) == [third, first, second] and after["main_sticker_id"] == second
    assert after["processing"]["state"] == "done"
    assert after["exports"]["telegram"]["status"] == "ready"


def test_change_a_stickers_emoji_keywords_and_position(client, make):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=3)
    headers = bearer_for(make, owner)
    first, second, third = sticker_ids(report(client, listing.id, headers))

    response = client.patch(
        f"/api/v1/sticker-packs/{listing.id}/stickers/{third}",
        json={"emoji": "😺", "keywords": ["Cat", " happy  cat ", "cat"], "position": 1},
        headers=headers,
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    sticker = response.get_json()
    assert (sticker["id"], sticker["emoji"], sticker["keywords"], sticker["position"]) == (third, "😺", ["cat", "happy cat"], 1)
    assert sticker_ids(report(client, listing.id, headers)) == [third, first, second]
    cleared = client.patch(f"/api/v1/sticker-packs/{listing.id}/stickers/{third}", json={"emoji": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.get_json()["emoji"] is None


def test_replace_a_stickers_art_keeps_its_place(client, make):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=2)
    headers = bearer_for(make, owner)
    first, second = sticker_ids(report(client, listing.id, headers))
    old_source = db.session.get(Sticker, first).source_key

    response = put_image(client, listing.id, first, "new.webp", make.sticker_png(size=(300, 240), index=4, fmt="WEBP"), headers)

    assert response.status_code == 200, response.get_data(as_text=True)
    sticker = response.get_json()
    assert (sticker["id"], sticker["position"], sticker["name"], sticker["status"]) == (first, 1, "new.webp", "pending")
    assert (sticker["width"], sticker["height"]) == (300, 240)
    assert not get_storage().exists(old_source)
    after = report(client, listing.id, headers)
    assert sticker_ids(after) == [first, second]
    assert after["stickers"][0]["status"] == "ready"


def test_replace_with_refused_art_is_422_naming_the_file_and_keeps_the_old_art(client, make):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=1)
    headers = bearer_for(make, owner)
    before = report(client, listing.id, headers)
    (sticker_id,) = sticker_ids(before)
    source = db.session.get(Sticker, sticker_id).source_key

    bad = put_image(client, listing.id, sticker_id, "photo.png", opaque_rgb(), headers)
    missing = client.put(f"/api/v1/sticker-packs/{listing.id}/stickers/{sticker_id}/image", data={}, headers=headers,
                         content_type="multipart/form-data")

    errors = assert_problem(bad, 422)["errors"]
    assert errors["file"][0].startswith("photo.png: ") and "not transparent" in errors["file"][0]
    assert "file" in assert_problem(missing, 422)["errors"]
    assert report(client, listing.id, headers) == before
    assert get_storage().exists(source)


def test_delete_a_sticker_renumbers_the_rest(client, make):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=3)
    headers = bearer_for(make, owner)
    first, second, third = sticker_ids(report(client, listing.id, headers))
    client.patch(f"/api/v1/sticker-packs/{listing.id}", json={"main_sticker_id": first}, headers=headers)

    response = client.delete(f"/api/v1/sticker-packs/{listing.id}/stickers/{first}", headers=headers)

    assert response.status_code == 204 and response.data == b""
    after = report(client, listing.id, headers)
    assert sticker_ids(after) == [second, third]
    assert [s["position"] for s in after["stickers"]] == [1, 2]
    assert after["main_sticker_id"] == second
    assert after["processing"]["state"] == "done"
    assert after["exports"]["whatsapp"]["status"] == "failed"  # two stickers: below WhatsApp's three
    assert_problem(client.delete(f"/api/v1/sticker-packs/{listing.id}/stickers/{first}", headers=headers), 404)


def test_a_change_to_an_approved_pack_sends_it_back_to_draft(client, make):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=1, status="approved")
    headers = bearer_for(make, owner)
    first = sticker_ids(report(client, listing.id, headers))[0]

    response = client.patch(f"/api/v1/sticker-packs/{listing.id}/stickers/{first}", json={"emoji": "🎉"}, headers=headers)

    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).status == "draft"


# ---------------------------------------------------------------- refusals of changes

def _multipart(field: str, data: bytes):
    """Request arguments made afresh for each request (the test client closes a file it sent)."""
    return lambda: {"data": {field: (io.BytesIO(data), "n.png")}, "content_type": "multipart/form-data"}


def _changes(listing_id: int, sticker_id: int, make) -> list[tuple[str, str, object]]:
    """Every change the API offers, as (method, url, a function giving the request's arguments)."""
    base = f"/api/v1/sticker-packs/{listing_id}"
    return [
        ("patch", base, lambda: {"json": {"order": [sticker_id]}}),
        ("patch", f"{base}/stickers/{sticker_id}", lambda: {"json": {"emoji": "😺"}}),
        ("put", f"{base}/stickers/{sticker_id}/image", _multipart("file", art(make, 5))),
        ("delete", f"{base}/stickers/{sticker_id}", dict),
        ("post", f"{base}/stickers", _multipart("files", art(make, 5))),
    ]


@pytest.mark.parametrize("status", ["submitted", "published"])
def test_changes_are_refused_while_the_pack_is_under_review_or_published(client, make, status):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=1, status=status)
    headers = bearer_for(make, owner)
    before = report(client, listing.id, headers)
    (sticker_id,) = sticker_ids(before)

    for method, url, arguments in _changes(listing.id, sticker_id, make):
        body = assert_problem(getattr(client, method)(url, headers=headers, **arguments()), 409)
        assert "draft" in body["detail"], (method, url)
    assert report(client, listing.id, headers) == before


def test_changes_are_refused_to_anyone_but_the_owner(client, make):
    owner, other, fan, operator = make.streamer(), make.streamer(), make.user(), make.operator()
    listing = make.sticker_pack(owner, count=1, status="published")
    before = report(client, listing.id)
    (sticker_id,) = sticker_ids(before)

    for method, url, arguments in _changes(listing.id, sticker_id, make):
        assert_problem(getattr(client, method)(url, **arguments()), 401)
        for user in (other, fan, operator):
            assert_problem(getattr(client, method)(url, headers=bearer_for(make, user), **arguments()), 403)
    assert report(client, listing.id) == before


def test_changes_to_a_draft_the_caller_cannot_see_are_404(client, make):
    owner, other = make.streamer(), make.streamer()
    listing = unprocessed_pack(make, owner, 1)
    (sticker_id,) = [s.id for s in db.session.get(StickerPack, listing.id).stickers]

    for method, url, arguments in _changes(listing.id, sticker_id, make):
        assert_problem(getattr(client, method)(url, headers=bearer_for(make, other), **arguments()), 404)


def test_an_unknown_sticker_or_one_of_another_pack_is_404(client, make):
    owner = make.streamer()
    listing = unprocessed_pack(make, owner, 1)
    elsewhere = unprocessed_pack(make, owner, 1)
    foreign = db.session.get(StickerPack, elsewhere.id).stickers[0].id
    headers = bearer_for(make, owner)

    for sticker_id in (987654, foreign):
        for method, url, arguments in _changes(listing.id, sticker_id, make)[1:4]:
            assert_problem(getattr(client, method)(url, headers=headers, **arguments()), 404)
    assert len(db.session.get(StickerPack, elsewhere.id).stickers) == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"emoji": "cat"}, "emoji"),
        ({"emoji": "😺 😺"}, "emoji"),
        ({"emoji": 5}, "emoji"),
        ({"keywords": "cat"}, "keywords"),
        ({"keywords": ["x" * 31]}, "keywords"),
        ({"keywords": [f"w{n}" for n in range(11)]}, "keywords"),
        ({"position": 0}, "position"),
        ({"position": 4}, "position"),
        ({"position": "1"}, "position"),
        ({"position": True}, "position"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_sticker_changes_are_422_naming_the_field(client, make, body, field):
    owner = make.streamer()
    listing = unprocessed_pack(make, owner, 3)
    headers = bearer_for(make, owner)
    before = report(client, listing.id, headers)

    response = client.patch(f"/api/v1/sticker-packs/{listing.id}/stickers/{before['stickers'][0]['id']}",
                            json=body, headers=headers)

    assert field in assert_problem(response, 422)["errors"]
    assert report(client, listing.id, headers) == before


def test_a_bad_emoji_and_a_bad_position_are_named_together_and_nothing_changes(client, make):
    owner = make.streamer()
    listing = unprocessed_pack(make, owner, 2)
    headers = bearer_for(make, owner)
    before = report(client, listing.id, headers)

    response = client.patch(f"/api/v1/sticker-packs/{listing.id}/stickers/{before['stickers'][0]['id']}",
                            json={"emoji": "cat", "keywords": ["fine"], "position": 9}, headers=headers)

    assert {"emoji", "position"} <= assert_problem(response, 422)["errors"].keys()
    assert report(client, listing.id, headers) == before


@pytest.mark.parametrize(
    "make_body, field",
    [
        (lambda ids: {"order": ids[:1]}, "order"),
        (lambda ids: {"order": [ids[0], ids[0]]}, "order"),
        (lambda ids: {"order": ids + [987654]}, "order"),
        (lambda ids: {"order": [str(i) for i in ids]}, "order.0"),
        (lambda ids: {"order": "1,2"}, "order"),
        (lambda ids: {"main_sticker_id": 987654}, "main_sticker_id"),
        (lambda ids: {"main_sticker_id": "x"}, "main_sticker_id"),
        (lambda ids: {"animated": "yes"}, "animated"),
        (lambda ids: {"stickers": []}, "stickers"),
    ],
)
def test_bad_pack_changes_are_422_naming_the_field(client, make, make_body, field):
    owner = make.streamer()
    listing = unprocessed_pack(make, owner, 2)
    headers = bearer_for(make, owner)
    before = report(client, listing.id, headers)

    response = client.patch(f"/api/v1/sticker-packs/{listing.id}", json=make_body(sticker_ids(before)), headers=headers)

    assert field in assert_problem(response, 422)["errors"]
    assert report(client, listing.id, headers) == before


def test_a_pack_with_stickers_cannot_switch_between_static_and_animated(client, make):
    owner = make.streamer()
    listing = unprocessed_pack(make, owner, 1)

    response = client.patch(f"/api/v1/sticker-packs/{listing.id}", json={"animated": True},
                            headers=bearer_for(make, owner))

    assert "static or all animated" in assert_problem(response, 409)["detail"]


# ---------------------------------------------------------------- OpenAPI

def test_openapi_lists_the_sticker_paths_with_their_schemas(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]

    assert {"get", "patch"} <= paths["/api/v1/sticker-packs/{listing_id}"].keys()
    upload = paths["/api/v1/sticker-packs/{listing_id}/stickers"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"201", "401", "403", "404", "409", "422"} <= upload["responses"].keys()
    assert {"patch", "delete"} <= paths["/api/v1/sticker-packs/{listing_id}/stickers/{sticker_id}"].keys()
    assert "put" in paths["/api/v1/sticker-packs/{listing_id}/stickers/{sticker_id}/image"]
    schemas = spec["components"]["schemas"]
    assert schemas["StickerUploadIn"]["properties"]["files"]["items"]["format"] == "binary"
    assert set(schemas["StickerExportsOut"]["properties"]) == set(PLATFORMS)
    assert {"stickers", "processing", "exports"} <= schemas["StickerPackOut"]["properties"].keys()
