"""The sticker pack pages: the streamer's sticker editor (uploads, ordering, details, refusals), the art files
with their access rules, and the sticker section of a public listing page. Processing runs eagerly after commit."""
from __future__ import annotations

import html
import io
import re
import zipfile

import pytest

from app.extensions import db
from app.storage import get_storage
from marketplace.catalog.models import Listing
from stickers.models import Sticker, StickerPack
from tests.page_support import logged_in, text_of

JSON = {"Accept": "application/json"}


# ---------------------------------------------------------------- helpers


def main_of(response) -> str:
    page = text_of(response)
    return page[page.index("<main"):page.index("</main>")]


def flashes(response) -> str:
    page = text_of(response)
    found = re.search(r'<div class="flashes".*?</div>\s*</div>', page, re.S)
    return html.unescape(found.group(0)) if found else ""


def pack_of(listing: Listing) -> StickerPack:
    db.session.expire_all()
    return db.session.get(StickerPack, listing.id)


def stickers_of(listing: Listing) -> list[tuple[int, int, str, str]]:
    """(id, position, name, source digest) of every sticker, in order: what 'nothing changed' compares."""
    return [(s.id, s.position, s.original_name, s.source_digest) for s in pack_of(listing).stickers]


def files(*named: tuple[str, bytes]) -> dict:
    return {"files": [(io.BytesIO(data), name) for name, data in named]}


def zip_of(*members: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


def edit_url(listing, suffix: str = "") -> str:
    return f"/dashboard/sticker-packs/{listing.id}{suffix}"


def sticker_url(listing, sticker_id: int, action: str) -> str:
    return edit_url(listing, f"/stickers/{sticker_id}/{action}")


@pytest.fixture
def mia(make):
    return make.streamer(handle="mia")


@pytest.fixture
def draft(make, mia):
    """A processed draft pack of 5 stickers: too few for LINE, fine for Telegram and WhatsApp."""
    return make.sticker_pack(mia, count=5)


@pytest.fixture
def owner_client(app, make, mia):
    return logged_in(app, make, mia)


# ---------------------------------------------------------------- the edit page

def test_edit_page_shows_progress_exports_and_which_platform_refused_and_why(owner_client, draft):
    response = owner_client.get(edit_url(draft))

    assert response.status_code == 200
    page = main_of(response)
    pack = pack_of(draft)
    assert "5 of 5 stickers processed" in page
    line = page[page.index('id="export-line"'):page.index('id="export-telegram"')]
    assert "Cannot export" in line
    assert "LINE needs 8, 16, 24, 32" in line and "this pack has 5" in line
    telegram = page[page.index('id="export-telegram"'):page.index('id="export-whatsapp"')]
    whatsapp = page[page.index('id="export-whatsapp"'):page.index("</ul>", page.index('id="export-whatsapp"'))]
    assert "Ready" in telegram and "KB" in telegram
    assert "Ready" in whatsapp
    for sticker in pack.stickers:
        assert f'id="sticker-{sticker.id}"' in page
        assert f"/sticker-packs/{draft.id}/stickers/{sticker.id}/thumb?v=" in page
        assert sticker.original_name in page
    assert f'action="/dashboard/listings/{draft.id}/submit"' in page
    assert 'type="file" name="files" multiple accept=".png,.webp,.gif,.apng,.zip"' in page
    assert "/static/stickers/stickers.js" in text_of(response)


def test_editor_static_files_are_served(client):
    assert client.get("/static/stickers/stickers.js").status_code == 200
    assert client.get("/static/stickers/stickers.css").status_code == 200


def test_status_route_gives_the_fragments_for_polling_and_the_report_as_json(owner_client, draft):
    fragment = owner_client.get(edit_url(draft, "/status"))
    assert fragment.status_code == 200
    assert fragment.headers["Cache-Control"] == "no-store"
    body = text_of(fragment)
    assert 'id="sticker-processing" data-state="done"' in body
    assert 'id="sticker-grid"' in body
    assert "<html" not in body

    report = owner_client.get(edit_url(draft, "/status?format=json")).get_json()
    assert report["processing"] == {"state": "done", "done": 5, "total": 5}
    assert report["exports"]["line"]["status"] == "failed"
    assert report["exports"]["telegram"]["status"] == "ready"


# ---------------------------------------------------------------- uploads

def test_upload_one_png_through_the_plain_form(make, mia, owner_client):
    listing = make.sticker_pack(mia, count=0)

    response = owner_client.post(edit_url(listing, "/stickers"), data=files(("cat.png", make.sticker_png())))

    assert response.status_code == 303
    assert response.headers["Location"].endswith(edit_url(listing) + "#sticker-grid")
    page = owner_client.get(response.headers["Location"])
    assert "1 sticker added." in flashes(page)
    pack = pack_of(listing)
    assert [(s.original_name, s.status) for s in pack.stickers] == [("cat.png", "ready")]
    assert pack.processing_state == "done"


def test_upload_a_zip_of_several_stickers(make, mia, owner_client):
    listing = make.sticker_pack(mia, count=0)
    archive = zip_of(*[(f"art/{n:02d}.png", make.sticker_png(index=n)) for n in range(1, 4)])

    response = owner_client.post(edit_url(listing, "/stickers"), data=files(("pack.zip", archive)), follow_redirects=True)

    assert "3 stickers added." in flashes(response)
    assert [name for _, _, name, _ in stickers_of(listing)] == ["pack.zip/01.png", "pack.zip/02.png", "pack.zip/03.png"]


def test_a_mixed_upload_keeps_the_good_files_names_each_bad_one_and_loses_nothing(make, mia, owner_client):
    listing = make.sticker_pack(mia, count=2)
    before = stickers_of(listing)
    slip = zip_of(("../../escape.png", make.sticker_png()), ("ok.png", make.sticker_png()))
    upload = files(
        ("good-1.png", make.sticker_png(index=1)),
        ("page.png", b"<!doctype html><html><body>not art</body></html>"),
        ("cut.png", make.sticker_png()[:300]),
        ("opaque.png", make.png_bytes(size=(200, 200))),
        ("slip.zip", slip),
        ("good-2.webp", make.sticker_png(index=2, fmt="WEBP")),
    )

    response = owner_client.post(edit_url(listing, "/stickers"), data=upload, follow_redirects=True)

    after = stickers_of(listing)
    assert after[:2] == before
    assert [name for _, _, name, _ in after[2:]] == ["good-1.png", "good-2.webp"]
    messages = flashes(response)
    assert "2 stickers added." in messages
    for name in ("page.png", "cut.png", "opaque.png", "slip.zip"):
        assert f"{name} was refused:" in messages
    assert "transparent" in messages
    assert "outside its own folder" in messages


def test_the_scripts_upload_gets_json_with_what_was_added_refused_and_the_report(make, mia, owner_client):
    listing = make.sticker_pack(mia, count=0)

    good = owner_client.post(edit_url(listing, "/stickers"), data=files(("a.png", make.sticker_png())), headers=JSON)
    assert good.status_code == 201
    body = good.get_json()
    assert [item["name"] for item in body["added"]] == ["a.png"]
    assert body["refused"] == []
    assert body["report"]["processing"] == {"state": "done", "done": 1, "total": 1}
    assert body["report"]["stickers"][0]["status"] == "ready"

    bad = owner_client.post(edit_url(listing, "/stickers"), data=files(("b.png", b"")), headers=JSON)
    assert bad.status_code == 422
    refusal = bad.get_json()
    assert refusal["added"] == []
    assert refusal["refused"][0]["file"] == "b.png" and refusal["refused"][0]["code"] == "empty"
    assert refusal["refused"][0]["message"] == "The file is empty."
    assert len(stickers_of(listing)) == 1


def test_an_upload_without_files_is_a_form_error(make, mia, owner_client):
    listing = make.sticker_pack(mia, count=0)

    response = owner_client.post(edit_url(listing, "/stickers"), data={})

    assert response.status_code == 422
    assert 'id="upload-errors"' in main_of(response)
    assert "Choose at least one file." in main_of(response)
    assert owner_client.post(edit_url(listing, "/stickers"), data={}, headers=JSON).status_code == 422


def test_a_bad_first_post_to_a_new_listings_stickers_is_a_form_error(make, mia, owner_client):
    listing = make.listing(mia, kind="sticker_pack")  # no sticker rows of any kind yet

    response = owner_client.post(edit_url(listing, "/stickers"), data={})

    assert response.status_code == 422
    assert "Choose at least one file." in main_of(response)


def test_an_upload_past_the_request_limit_is_a_clear_413(app, make, mia, owner_client):
    listing = make.sticker_pack(mia, count=0)
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 50 * 1024
    try:
        data = make.sticker_png(size=(800, 800)) + b"\0" * 60 * 1024
        page = owner_client.post(edit_url(listing, "/stickers"), data=files(("huge.png", data)))
        answer = owner_client.post(edit_url(listing, "/stickers"), data=files(("huge.png", data)), headers=JSON)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert page.status_code == 413
    assert "larger than 50 KB" in main_of(page)
    assert f'href="{edit_url(listing)}"' in main_of(page)
    assert answer.status_code == 413
    assert "larger than 50 KB" in answer.get_json()["error"]
    assert stickers_of(listing) == []


def test_uploading_to_an_approved_pack_sends_it_back_to_draft(make, mia, owner_client):
    listing = make.sticker_pack(mia, count=3, status="approved")

    owner_client.post(edit_url(listing, "/stickers"), data=files(("more.png", make.sticker_png())))

    db.session.expire_all()
    assert db.session.get(Listing, listing.id).status == "draft"
    assert len(stickers_of(listing)) == 4


# ---------------------------------------------------------------- changing stickers

def test_move_up_down_and_to_a_position(owner_client, draft):
    ids = [s.id for s in pack_of(draft).stickers]

    response = owner_client.post(sticker_url(draft, ids[2], "move"), data={"direction": "up"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"#sticker-{ids[2]}")
    assert [i for i, *_ in stickers_of(draft)] == [ids[0], ids[2], ids[1], ids[3], ids[4]]

    owner_client.post(sticker_url(draft, ids[0], "move"), data={"direction": "down"})
    owner_client.post(sticker_url(draft, ids[4], "move"), data={"position": "1"})
    assert [i for i, *_ in stickers_of(draft)] == [ids[4], ids[2], ids[0], ids[1], ids[3]]
    assert [p for _, p, *_ in stickers_of(draft)] == [1, 2, 3, 4, 5]
    assert pack_of(draft).processing_state == "done"


@pytest.mark.parametrize("form", [{"position": "first"}, {"position": "9"}, {"direction": "up"}])
def test_a_bad_move_is_a_form_error_and_changes_nothing(owner_client, draft, form):
    before = stickers_of(draft)
    first = before[0][0]

    response = owner_client.post(sticker_url(draft, first, "move"), data=form)

    assert response.status_code == 422
    assert f'id="position-{first}-errors"' in main_of(response)
    assert stickers_of(draft) == before


def test_delete_a_sticker_renumbers_the_rest_and_removes_its_files(owner_client, draft):
    pack = pack_of(draft)
    doomed = pack.stickers[1]
    doomed_id, doomed_files = doomed.id, [doomed.thumb_key, doomed.preview_key, doomed.master_key]

    response = owner_client.post(sticker_url(draft, doomed_id, "delete"), follow_redirects=True)

    assert "Sticker 2 was deleted." in flashes(response)
    left = stickers_of(draft)
    assert doomed_id not in [i for i, *_ in left]
    assert [p for _, p, *_ in left] == [1, 2, 3, 4]
    assert not any(get_storage().exists(key) for key in doomed_files)
    assert "this pack has 4" in main_of(response)


def test_replace_a_sticker_keeps_its_place_and_words(make, owner_client, draft):
    pack = pack_of(draft)
    target = pack.stickers[2]
    target.emoji, target.keywords = "😺", "cat"
    db.session.commit()
    old_digest = target.source_digest

    response = owner_client.post(
        sticker_url(draft, target.id, "replace"),
        data={"file": (io.BytesIO(make.sticker_png(size=(300, 260), index=4)), "new.png")},
        follow_redirects=True,
    )

    assert "Sticker 3 was replaced." in flashes(response)
    db.session.expire_all()
    replaced = db.session.get(Sticker, target.id)
    assert (replaced.position, replaced.original_name, replaced.emoji, replaced.keywords) == (3, "new.png", "😺", "cat")
    assert replaced.source_digest != old_digest
    assert (replaced.width, replaced.height, replaced.status) == (300, 260, "ready")


def test_replacing_with_bad_art_is_a_form_error_and_keeps_the_old_art(make, owner_client, draft):
    before = stickers_of(draft)
    target = before[0][0]

    response = owner_client.post(
        sticker_url(draft, target, "replace"),
        data={"file": (io.BytesIO(make.png_bytes(size=(200, 200))), "flat.png")},
    )

    assert response.status_code == 422
    page = main_of(response)
    errors = page[page.index(f'id="file-{target}-errors"'):]
    assert "flat.png" in errors and "transparent" in errors
    assert stickers_of(draft) == before
    missing = owner_client.post(sticker_url(draft, target, "replace"), data={})
    assert missing.status_code == 422 and "Choose the new image file." in main_of(missing)


def test_details_save_emoji_and_keywords(owner_client, draft):
    target = pack_of(draft).stickers[0].id

    response = owner_client.post(
        sticker_url(draft, target, "details"), data={"emoji": "🐱", "keywords": "Cat, hello ,cat"}, follow_redirects=True
    )

    assert "Sticker 1 was saved." in flashes(response)
    sticker = db.session.get(Sticker, target)
    assert (sticker.emoji, sticker.keyword_list) == ("🐱", ["cat", "hello"])
    assert 'value="cat, hello"' in main_of(response)


def test_a_bad_emoji_is_a_form_error_that_keeps_what_was_typed(owner_client, draft):
    target = pack_of(draft).stickers[0].id

    response = owner_client.post(sticker_url(draft, target, "details"), data={"emoji": "cat", "keywords": "purr"})

    assert response.status_code == 422
    page = main_of(response)
    assert f'id="emoji-{target}-errors"' in page
    assert "Give one emoji" in page
    assert 'value="cat"' in page and 'value="purr"' in page
    sticker = db.session.get(Sticker, target)
    assert (sticker.emoji, sticker.keywords) == (None, "")


def test_make_a_sticker_the_main_image(owner_client, draft):
    target = pack_of(draft).stickers[3].id

    response = owner_client.post(sticker_url(draft, target, "main"), follow_redirects=True)

    assert "Sticker 4 is now the pack's main image." in flashes(response)
    assert pack_of(draft).main_sticker_id == target
    card = main_of(response).split(f'id="sticker-{target}"')[1].split("</li>")[0]
    assert 'aria-pressed="true"' in card


def test_reorder_by_json_from_the_drag_and_drop(owner_client, draft):
    ids = [s.id for s in pack_of(draft).stickers]

    answer = owner_client.post(edit_url(draft, "/order"), json={"order": list(reversed(ids))}, headers=JSON)
    assert answer.status_code == 200
    assert [s["id"] for s in answer.get_json()["report"]["stickers"]] == list(reversed(ids))

    bad = owner_client.post(edit_url(draft, "/order"), json={"order": ids[:2]}, headers=JSON)
    assert bad.status_code == 422
    assert "exactly once" in bad.get_json()["error"]
    assert [i for i, *_ in stickers_of(draft)] == list(reversed(ids))


def test_static_or_animated_is_chosen_while_the_pack_is_empty(make, mia, owner_client, draft):
    empty = make.sticker_pack(mia, count=0)
    assert 'name="animated"' in main_of(owner_client.get(edit_url(empty)))

    owner_client.post(edit_url(empty, "/animated"), data={"animated": "1"})
    assert pack_of(empty).animated is True

    refused = owner_client.post(edit_url(draft, "/animated"), data={"animated": "1"}, follow_redirects=True)
    assert "Delete the stickers first" in flashes(refused)
    assert pack_of(draft).animated is False
    assert 'name="animated"' not in main_of(refused)
    assert owner_client.post(edit_url(draft, "/animated"), data={"animated": "1"}, headers=JSON).status_code == 409


# ---------------------------------------------------------------- refusals

def every_post(listing, sticker_id: int, make) -> list[tuple[str, dict]]:
    png = make.sticker_png()
    return [
        (edit_url(listing, "/stickers"), files(("x.png", png))),
        (sticker_url(listing, sticker_id, "replace"), {"file": (io.BytesIO(png), "x.png")}),
        (sticker_url(listing, sticker_id, "delete"), {}),
        (sticker_url(listing, sticker_id, "move"), {"direction": "down"}),
        (sticker_url(listing, sticker_id, "details"), {"emoji": "😺"}),
        (sticker_url(listing, sticker_id, "main"), {}),
        (edit_url(listing, "/animated"), {"animated": "1"}),
        (edit_url(listing, "/order"), {"order": str(sticker_id)}),
    ]


def test_another_streamer_is_refused_everywhere_on_a_published_pack(app, make, mia):
    listing = make.sticker_pack(mia, count=3, status="published")
    before = stickers_of(listing)
    first = before[0][0]
    other = logged_in(app, make, make.streamer(handle="rival"))

    assert other.get(edit_url(listing)).status_code == 403
    assert other.get(edit_url(listing, "/status")).status_code == 403
    for url, data in every_post(listing, first, make):
        assert other.post(url, data=data).status_code == 403, url
    for variant in ("thumb", "full"):
        assert other.get(f"/sticker-packs/{listing.id}/stickers/{first}/{variant}").status_code == 403
    assert other.get(f"/sticker-packs/{listing.id}/main.png").status_code == 403
    assert other.get(f"/sticker-packs/{listing.id}/stickers/{first}/preview").status_code == 200
    assert stickers_of(listing) == before


def test_a_draft_pack_is_hidden_from_other_people(app, client, make, draft):
    first = pack_of(draft).stickers[0].id
    other = logged_in(app, make, make.streamer(handle="rival"))

    assert other.get(edit_url(draft)).status_code == 404
    assert other.post(sticker_url(draft, first, "delete")).status_code == 404
    for viewer in (other, client):
        assert viewer.get(f"/sticker-packs/{draft.id}/stickers/{first}/preview").status_code == 404
    assert len(stickers_of(draft)) == 5


def test_anonymous_visitors_are_sent_to_log_in(client, make, draft):
    first = pack_of(draft).stickers[0].id
    for response in (
        client.get(edit_url(draft)),
        client.post(edit_url(draft, "/stickers"), data=files(("x.png", make.sticker_png()))),
        client.post(sticker_url(draft, first, "delete")),
    ):
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    assert len(stickers_of(draft)) == 5


def test_a_fan_cannot_open_the_editor_or_see_the_full_art(app, make, mia):
    listing = make.sticker_pack(mia, count=3, status="published")
    first = pack_of(listing).stickers[0].id
    fan = logged_in(app, make, make.user())

    assert fan.get(edit_url(listing)).status_code == 403
    assert fan.post(sticker_url(listing, first, "delete")).status_code == 403
    assert fan.get(f"/sticker-packs/{listing.id}/stickers/{first}/full").status_code == 403
    assert len(stickers_of(listing)) == 3


@pytest.mark.parametrize("status", ["submitted", "published"])
def test_a_pack_under_review_or_published_is_read_only(make, mia, owner_client, status):
    listing = make.sticker_pack(mia, count=3, status=status)
    before = stickers_of(listing)
    first = before[0][0]

    page = owner_client.get(edit_url(listing))
    assert page.status_code == 200
    assert "cannot be changed while the pack is" in main_of(page)
    assert 'name="files"' not in main_of(page) and "/delete" not in main_of(page)
    assert f"/stickers/{first}/thumb" in main_of(page)

    for url, data in every_post(listing, first, make):
        if url.endswith("/animated"):
            continue  # the pack's type does not change, so there is nothing to refuse
        response = owner_client.post(url, data=data, follow_redirects=True)
        assert "can only be changed while the pack is a draft" in flashes(response), url
    conflict = owner_client.post(edit_url(listing, "/stickers"), data=files(("x.png", make.sticker_png())), headers=JSON)
    assert conflict.status_code == 409
    assert stickers_of(listing) == before
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).status == status


def test_a_listing_of_another_kind_has_no_sticker_pages(make, mia, owner_client):
    course = make.listing(mia, kind="course")

    assert owner_client.get(edit_url(course)).status_code == 404
    assert owner_client.post(edit_url(course, "/stickers"), data=files(("x.png", make.sticker_png()))).status_code == 404


def test_a_sticker_of_another_pack_is_not_found(make, mia, owner_client, draft):
    other_pack = make.sticker_pack(mia, count=1)
    foreign = pack_of(other_pack).stickers[0].id

    assert owner_client.post(sticker_url(draft, foreign, "delete")).status_code == 404
    assert owner_client.get(f"/sticker-packs/{draft.id}/stickers/{foreign}/thumb").status_code == 404
    assert len(stickers_of(other_pack)) == 1


# ---------------------------------------------------------------- art files

def test_art_files_are_served_with_their_type_and_privacy(client, make, mia, owner_client):
    listing = make.sticker_pack(mia, count=3, status="published")
    first = pack_of(listing).stickers[0].id
    base = f"/sticker-packs/{listing.id}/stickers/{first}"

    thumb = owner_client.get(f"{base}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/webp"
    assert thumb.data[:4] == b"RIFF" and thumb.data[8:12] == b"WEBP"
    full = owner_client.get(f"{base}/full")
    assert full.mimetype == "image/png" and full.data[:8] == b"\x89PNG\r\n\x1a\n"
    for response in (thumb, full):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"].startswith("private")

    preview = client.get(f"{base}/preview")
    assert preview.status_code == 200 and preview.mimetype == "image/webp"
    assert preview.headers["X-Content-Type-Options"] == "nosniff"
    assert preview.data != thumb.data
    assert client.get(f"{base}/thumb").status_code == 403
    assert client.get(f"{base}/original").status_code == 404

    main = owner_client.get(f"/sticker-packs/{listing.id}/main.png")
    tab = owner_client.get(f"/sticker-packs/{listing.id}/tab.png")
    assert (main.status_code, main.mimetype, tab.mimetype) == (200, "image/png", "image/png")
    assert main.headers["Cache-Control"].startswith("private")
    assert client.get(f"/sticker-packs/{listing.id}/main.png").status_code == 403


def test_operators_see_the_art_without_the_watermark(app, make, mia):
    listing = make.sticker_pack(mia, count=1, status="submitted")
    first = pack_of(listing).stickers[0].id
    operator = logged_in(app, make, make.operator())

    assert operator.get(f"/sticker-packs/{listing.id}/stickers/{first}/full").status_code == 200
    assert operator.get(f"/sticker-packs/{listing.id}/stickers/{first}/preview").status_code == 200
    assert operator.get(edit_url(listing)).status_code == 403


def test_a_file_not_built_yet_is_404(owner_client, draft):
    sticker = pack_of(draft).stickers[0]
    sticker.thumb_key = None
    db.session.commit()

    assert owner_client.get(f"/sticker-packs/{draft.id}/stickers/{sticker.id}/thumb").status_code == 404


# ---------------------------------------------------------------- the public listing page

def test_public_page_of_a_published_pack_shows_watermarked_previews_count_and_platforms(client, make, mia):
    listing = make.sticker_pack(mia, count=8, status="published")
    ids = [s.id for s in pack_of(listing).stickers]

    page = main_of(client.get(f"/listings/{listing.slug}"))

    section = page[page.index('id="stickers"'):]
    assert "8 stickers" in section
    for name in ("LINE", "Telegram", "WhatsApp"):
        assert f'<li class="platform">{name}</li>' in section
    for sticker_id in ids:
        assert f"/sticker-packs/{listing.id}/stickers/{sticker_id}/preview?v=" in section
    assert "/thumb" not in section and "/full" not in section
    assert section.count('loading="lazy"') == 8
    assert 'alt="Sticker 1"' in section and 'width="320" height="320"' in section


def test_public_page_lists_only_the_platforms_that_exported(client, make, mia):
    listing = make.sticker_pack(mia, count=5, status="published")

    section = main_of(client.get(f"/listings/{listing.slug}"))
    section = section[section.index('id="stickers"'):]

    assert "5 stickers" in section
    assert '<li class="platform">Telegram</li>' in section and '<li class="platform">WhatsApp</li>' in section
    assert '<li class="platform">LINE</li>' not in section


def test_the_owner_sees_thumbnails_and_a_link_to_the_editor(owner_client, draft):
    page = main_of(owner_client.get(f"/listings/{draft.slug}"))
    section = page[page.index('id="stickers"'):]

    assert "/thumb?v=" in section and "/preview" not in section
    assert f'href="{edit_url(draft)}"' in section


def test_an_empty_pack_shows_no_section_except_to_its_owner(app, make, mia, owner_client):
    empty = make.sticker_pack(mia, count=0)
    operator = logged_in(app, make, make.operator())

    assert 'id="stickers"' not in main_of(operator.get(f"/listings/{empty.slug}"))
    own = main_of(owner_client.get(f"/listings/{empty.slug}"))
    assert 'id="stickers"' in own and "Upload stickers" in own
