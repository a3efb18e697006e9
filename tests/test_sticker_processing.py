"""Sticker processing through the services and the processing run, on real images and the test instance's real
storage: every platform export checked against the rules table, counts a platform refuses, WhatsApp's split,
animated packs, repeatable runs, a lost source, a sticker too heavy for one platform, and the submit rules.

Art is small (200x200, or 64x64 where only the count matters) to keep the file fast.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from flask_babel import force_locale
from PIL import Image

from app.errors import ValidationFailed
from app.extensions import db
from app.storage import LocalStorage, get_storage
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing
from stickers import processing, services, tasks
from stickers.models import StickerPack
from stickers.platforms import KB, MB, PLATFORMS, ImageSpec, PlatformRule, split_sizes


@pytest.fixture(autouse=True)
def english():
    """Services called outside a request speak the default locale (zh_CN); these tests read English messages."""
    with force_locale("en"):
        yield

SIZE = (200, 200)


def pack_of(listing: Listing) -> StickerPack:
    db.session.expire_all()
    return db.session.get(StickerPack, listing.id)


def uploaded_pack(make, count: int, *, owner=None, size=SIZE, animated: bool = False, art=None) -> Listing:
    """A draft sticker pack with `count` stickers uploaded and committed, not processed yet."""
    owner = owner or make.streamer()
    listing = make.listing(owner, kind="sticker_pack")
    pack = services.own_pack(owner, listing.id)
    if animated:
        services.set_animated(owner, pack, True)
    files = art or [(f"{i + 1:02d}.png", make.sticker_png(size=size, index=i, frames=3 if animated else 1)) for i in range(count)]
    result = services.add_stickers(owner, pack, files, get_storage())
    assert not result.refused, result.refused_messages()
    db.session.commit()
    return listing


def processed_pack(make, count: int, **kwargs) -> StickerPack:
    listing = uploaded_pack(make, count, **kwargs)
    processing.process_pack(listing.id, get_storage())
    return pack_of(listing)


def stored(key: str) -> bytes:
    with get_storage().open(key) as f:
        return f.read()


def open_export(pack: StickerPack, code: str) -> zipfile.ZipFile:
    export = pack.export_for(code)
    assert export is not None and export.status == "ready", (code, export and export.problems)
    data = stored(export.key)
    assert export.key == processing.export_key(pack.listing_id, code)
    assert (export.size, export.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    return zipfile.ZipFile(io.BytesIO(data))


def check_image(data: bytes, spec: ImageSpec, animated: bool, what: str) -> None:
    """The file meets the spec: format, size rule, even sides, margin, byte limit — read back with Pillow."""
    assert len(data) <= spec.max_bytes, (what, len(data), spec.max_bytes)
    image = Image.open(io.BytesIO(data))
    assert image.format == ("PNG" if spec.format in ("PNG", "APNG") else spec.format), (what, image.format)
    frames = getattr(image, "n_frames", 1)
    assert (frames > 1) == animated, (what, frames)
    width, height = image.size
    if spec.fit == "exact":
        assert (width, height) == (spec.width, spec.height), (what, image.size)
    elif spec.fit == "within":
        assert width <= spec.width and height <= spec.height, (what, image.size)
    else:  # one_side
        side = max(spec.width, spec.height)
        assert max(width, height) == side and min(width, height) <= side, (what, image.size)
    if spec.even:
        assert width % 2 == 0 and height % 2 == 0, (what, image.size)
    left, top, right, bottom = image.convert("RGBA").getchannel("A").getbbox()
    assert min(left, top, width - right, height - bottom) >= spec.margin, (what, image.size, (left, top, right, bottom))


def check_export(pack: StickerPack, code: str) -> list[str]:
    """The platform's zip holds exactly what its rule asks for, every file meeting it; returns the member names."""
    rule, count, animated = PLATFORMS[code], len(pack.stickers), pack.animated
    archive = open_export(pack, code)
    if rule.zip_max_bytes is not None:
        assert pack.export_for(code).size <= rule.zip_max_bytes
    spec = rule.sticker_spec(animated)
    sizes = split_sizes(count, rule)
    assert pack.export_for(code).part_count == len(sizes)
    expected = []
    for part, size in enumerate(sizes, start=1):
        assert size in rule.allowed_counts(animated), (code, size)
        folder = f"{code}-{part}/" if len(sizes) > 1 else ""
        names = [f"{n:02d}.{spec.extension}" for n in range(1, size + 1)]
        for name in names:
            check_image(archive.read(folder + name), spec, animated, f"{code} {folder}{name}")
        expected += [folder + name for name in names]
        for role, image_spec in (("main", rule.main), ("tab", rule.tab)):
            if image_spec is not None:
                check_image(archive.read(f"{folder}{role}.png"), image_spec, False, f"{code} {folder}{role}")
                expected.append(f"{folder}{role}.png")
        manifest = json.loads(archive.read(f"{folder}stickers.json"))
        assert manifest["platform"] == code and manifest["animated"] == animated
        assert [s["file"] for s in manifest["stickers"]] == names
        expected.append(f"{folder}stickers.json")
    assert sorted(archive.namelist()) == sorted(expected)
    return archive.namelist()


# ---------------------------------------------------------------- exports meeting the rules

def test_the_rules_table_holds_the_issues_numbers():
    line, telegram, whatsapp = PLATFORMS["line"], PLATFORMS["telegram"], PLATFORMS["whatsapp"]
    assert tuple(line.counts) == (8, 16, 24, 32, 40) and tuple(line.animated_counts) == (8, 16, 24)
    assert (line.sticker.format, line.sticker.width, line.sticker.height, line.sticker.max_bytes) == ("PNG", 370, 320, 1 * MB)
    assert line.sticker.even and line.sticker.margin == 10
    assert (line.animated_sticker.format, line.animated_sticker.width, line.animated_sticker.height) == ("APNG", 320, 270)
    assert line.animated_sticker.max_bytes == 300 * KB
    assert (line.main.width, line.main.height, line.tab.width, line.tab.height) == (240, 240, 96, 74)
    assert line.zip_max_bytes == 20 * MB
    assert telegram.sticker.fit == "one_side" and telegram.sticker.width == 512 and telegram.sticker.max_bytes == 512 * KB
    assert max(telegram.counts) == 120
    assert (whatsapp.sticker.format, whatsapp.sticker.width, whatsapp.sticker.height) == ("WEBP", 512, 512)
    assert whatsapp.sticker.fit == "exact" and whatsapp.sticker.max_bytes < 100 * KB
    assert whatsapp.animated_sticker.max_bytes == 500 * KB
    assert (whatsapp.tab.format, whatsapp.tab.width, whatsapp.tab.height, whatsapp.tab.max_bytes) == ("PNG", 96, 96, 50 * KB)
    assert (min(whatsapp.counts), max(whatsapp.counts), whatsapp.split_at) == (3, 30, 30)


def test_eight_stickers_export_to_every_platform_meeting_each_rule(make):
    pack = processed_pack(make, 8)

    assert pack.processing_state == "done" and pack.processed_revision == pack.revision
    assert [s.status for s in pack.stickers] == ["ready"] * 8
    for code in PLATFORMS:
        check_export(pack, code)
    # the issue's numbers, read from the files themselves
    line = open_export(pack, "line")
    for name in (n for n in line.namelist() if n[:2].isdigit()):
        width, height = Image.open(io.BytesIO(line.read(name))).size
        assert width <= 370 and height <= 320 and width % 2 == 0 and height % 2 == 0
    assert Image.open(io.BytesIO(line.read("main.png"))).size == (240, 240)
    assert Image.open(io.BytesIO(line.read("tab.png"))).size == (96, 74)
    whatsapp = open_export(pack, "whatsapp")
    for name in (n for n in whatsapp.namelist() if n.endswith(".webp")):
        data = whatsapp.read(name)
        assert Image.open(io.BytesIO(data)).size == (512, 512) and len(data) < 100 * KB
    tray = whatsapp.read("tab.png")
    assert Image.open(io.BytesIO(tray)).size == (96, 96) and len(tray) <= 50 * KB
    telegram = open_export(pack, "telegram")
    for name in (n for n in telegram.namelist() if n.endswith(".webp")):
        assert 512 in Image.open(io.BytesIO(telegram.read(name))).size
    # the sticker's own derivatives: master, thumbnail and the watermarked preview are stored
    sticker = pack.stickers[0]
    assert Image.open(io.BytesIO(stored(sticker.master_key))).size == SIZE
    assert max(Image.open(io.BytesIO(stored(sticker.thumb_key))).size) <= 160
    preview = stored(sticker.preview_key)
    assert Image.open(io.BytesIO(preview)).format == "WEBP"
    assert stored(sticker.master_key) != preview


def test_five_stickers_fail_line_by_count_and_export_the_others(make):
    pack = processed_pack(make, 5)

    report = services.pack_report(pack)

    line = report["exports"]["line"]
    assert line["status"] == "failed"
    (problem,) = line["errors"]
    assert (problem["code"], problem["count"], problem["platform"]) == ("count_not_allowed", 5, "LINE")
    assert "5" in problem["message"] and "LINE" in problem["message"]
    assert pack.export_for("line").key is None
    assert not get_storage().exists(processing.export_key(pack.listing_id, "line"))
    for code in ("telegram", "whatsapp"):
        assert report["exports"][code]["status"] == "ready"
        check_export(pack, code)
    assert services.ready_platforms(pack) == ["telegram", "whatsapp"]


def test_two_stickers_fail_whatsapp_as_well(make):
    pack = processed_pack(make, 2, size=(64, 64))

    exports = services.pack_report(pack)["exports"]

    assert exports["whatsapp"]["status"] == "failed"
    (problem,) = exports["whatsapp"]["errors"]
    assert (problem["code"], problem["count"], problem["allowed"]) == ("count_not_allowed", 2, {"min": 3, "max": 30})
    assert problem["message"] == "WhatsApp needs 3–30 stickers; this pack has 2."
    assert exports["line"]["status"] == "failed"
    assert exports["telegram"]["status"] == "ready"
    check_export(pack, "telegram")


def test_thirty_five_stickers_split_into_two_whatsapp_packs(make):
    pack = processed_pack(make, 35, size=(64, 64))

    names = check_export(pack, "whatsapp")

    assert pack.export_for("whatsapp").part_count == 2
    for folder, count in (("whatsapp-1/", 18), ("whatsapp-2/", 17)):
        assert len([n for n in names if n.startswith(folder) and n.endswith(".webp")]) == count
        assert f"{folder}tab.png" in names and f"{folder}stickers.json" in names
    manifest = json.loads(open_export(pack, "whatsapp").read("whatsapp-2/stickers.json"))
    assert (manifest["part"], manifest["parts"], len(manifest["stickers"])) == (2, 2, 17)
    exports = services.pack_report(pack)["exports"]
    assert exports["telegram"]["status"] == "ready" and exports["telegram"]["parts"] == 1
    assert exports["line"]["errors"][0]["code"] == "count_not_allowed"


def test_animated_pack_exports_apng_for_line_animated_webp_for_whatsapp_and_no_telegram(make):
    formats = ("PNG", "GIF", "WEBP")
    art = [(f"{i + 1:02d}.{fmt.lower()}", make.sticker_png(size=SIZE, index=i, fmt=fmt, frames=3))
           for i, fmt in enumerate(formats * 3)][:8]
    pack = processed_pack(make, 8, animated=True, art=art)

    assert [s.frame_count for s in pack.stickers] == [3] * 8
    assert [s.status for s in pack.stickers] == ["ready"] * 8
    line = check_export(pack, "line")
    assert Image.open(io.BytesIO(open_export(pack, "line").read("01.png"))).n_frames > 1  # APNG
    check_export(pack, "whatsapp")
    webp = Image.open(io.BytesIO(open_export(pack, "whatsapp").read("01.webp")))
    assert webp.format == "WEBP" and webp.n_frames > 1
    assert "main.png" in line
    telegram = services.pack_report(pack)["exports"]["telegram"]
    assert telegram["status"] == "failed"
    assert [(e["code"], e["platform"]) for e in telegram["errors"]] == [("animation_unsupported", "Telegram")]


# ---------------------------------------------------------------- repeatable runs and failures

def _files_under(folder: Path) -> dict[str, tuple[str, int]]:
    """Every stored file of the pack: its sha256 and its inode (a file written again gets a new one)."""
    return {str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_ino)
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture
def own_storage_folder(app, monkeypatch, tmp_path) -> Path:
    """The app stores files in a folder of this test alone (ids restart after each test; files would not)."""
    monkeypatch.setitem(app.extensions, "encore.storage", LocalStorage(tmp_path))
    return tmp_path


def test_the_task_run_twice_writes_byte_identical_files(make, own_storage_folder):
    listing_id = uploaded_pack(make, 8).id
    folder = own_storage_folder / "private" / "stickers" / str(listing_id)

    # the task runs in its own session: end this one's read transaction first (SQLite locks the file)
    db.session.commit()
    tasks.process_pack.delay(listing_id)  # eager in tests: the real task body, in its own app context
    first = _files_under(folder)
    first_exports = {e.platform: e.sha256 for e in db.session.get(StickerPack, listing_id).exports}
    db.session.commit()
    tasks.process_pack.delay(listing_id, force=True)
    second = _files_under(folder)

    assert len(first) > 8 * 4
    assert {name: digest for name, (digest, _) in first.items()} == {name: digest for name, (digest, _) in second.items()}
    rewritten = [name for name in first if first[name][1] != second[name][1]]
    assert sorted(rewritten) == sorted(name for name in first if not name.startswith("sources/"))
    db.session.expire_all()
    assert {e.platform: e.sha256 for e in db.session.get(StickerPack, listing_id).exports} == first_exports
    assert set(first_exports) == set(PLATFORMS) and all(first_exports.values())


def test_a_sticker_whose_source_is_gone_fails_alone(make):
    listing = uploaded_pack(make, 3)
    lost = pack_of(listing).stickers[1]
    get_storage().delete(lost.source_key)

    processing.process_pack(listing.id, get_storage())
    pack = pack_of(listing)
    report = services.pack_report(pack)

    assert [s["status"] for s in report["stickers"]] == ["ready", "failed", "ready"]
    assert [e["code"] for e in report["stickers"][1]["errors"]] == ["source_missing"]
    assert report["stickers"][0]["errors"] == report["stickers"][2]["errors"] == []
    assert report["processing"] == {"state": "done", "done": 3, "total": 3}
    for code in ("telegram", "whatsapp"):  # the exports name the missing sticker
        export = report["exports"][code]
        assert export["status"] == "failed"
        assert [(e["code"], e["position"]) for e in export["errors"]] == [("sticker_failed", 2)]


def noise_png(side: int = 480, border: int = 12) -> bytes:
    """Random RGBA pixels (which no encoder can shrink much) inside a transparent border."""
    image = Image.frombytes("RGBA", (side, side), os.urandom(side * side * 4))
    alpha = Image.new("L", (side, side), 0)
    alpha.paste(255, (border, border, side - border, side - border))
    image.putalpha(alpha)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


#: a platform as one more entry of the table, with a byte limit that flat art meets and noise cannot; the real
#: platforms' limits are generous enough that the imaging fallbacks get any art under them
TINY = PlatformRule(
    code="tiny", name="Tiny", sticker=ImageSpec("WEBP", 512, 512, "exact", 24 * KB, margin=16),
    animated_sticker=None, counts=range(1, 121), animated_counts=range(1, 2),
)


def test_a_sticker_too_heavy_for_one_platform_is_reported_for_that_platform_and_sticker(make, monkeypatch):
    monkeypatch.setitem(PLATFORMS, "tiny", TINY)
    art = [("01.png", make.sticker_png(size=SIZE)), ("noise.png", noise_png()), ("03.png", make.sticker_png(size=SIZE, index=2))]

    pack = processed_pack(make, 3, art=art)
    report = services.pack_report(pack)

    assert [s["status"] for s in report["stickers"]] == ["ready"] * 3
    assert report["stickers"][0]["errors"] == report["stickers"][2]["errors"] == []
    (problem,) = report["stickers"][1]["errors"]
    assert (problem["code"], problem["platform"], problem["position"], problem["limit"]) == ("too_heavy", "Tiny", 2, 24 * KB)
    assert problem["message"] == "Tiny: sticker 2 cannot be made smaller than 24 KB."
    tiny = report["exports"]["tiny"]
    assert tiny["status"] == "failed"
    assert [(e["code"], e["position"]) for e in tiny["errors"]] == [("too_heavy", 2)]
    assert "tiny" not in pack.stickers[1].renditions or "problem" in pack.stickers[1].renditions["tiny"]
    assert report["exports"]["telegram"]["status"] == "ready"  # the other platforms still export
    check_export(pack, "telegram")


# ---------------------------------------------------------------- changes, review and submitting

def _submit_refusal(owner, listing: Listing) -> list[str]:
    with pytest.raises(ValidationFailed) as refused:
        catalog.submit_listing(owner, db.session.get(Listing, listing.id))
    db.session.rollback()
    return refused.value.errors["content"]


def test_submit_is_refused_for_an_empty_pack(make):
    owner = make.streamer()
    listing = make.listing(owner, kind="sticker_pack")

    assert _submit_refusal(owner, listing) == ["Upload the pack's stickers first."]


def test_submit_is_refused_while_processing_is_pending(make):
    owner = make.streamer()
    listing = uploaded_pack(make, 2, owner=owner, size=(64, 64))

    (message,) = _submit_refusal(owner, listing)

    assert "still being processed" in message


def test_submit_is_refused_when_no_export_succeeded_and_allowed_once_one_is_ready(make):
    owner = make.streamer()
    broken = uploaded_pack(make, 1, owner=owner, size=(64, 64))
    get_storage().delete(pack_of(broken).stickers[0].source_key)
    processing.process_pack(broken.id, get_storage())
    good = processed_pack(make, 2, owner=owner, size=(64, 64))  # Telegram only

    (message,) = _submit_refusal(owner, broken)
    catalog.submit_listing(owner, db.session.get(Listing, good.listing_id))
    db.session.commit()

    assert "No platform export succeeded" in message
    assert db.session.get(Listing, good.listing_id).status == "submitted"
    assert db.session.get(Listing, broken.id).status == "draft"


def test_an_art_change_sets_exports_pending_and_queues_processing(make):
    owner = make.streamer()
    pack = processed_pack(make, 3, owner=owner, size=(64, 64))
    assert services.ready_platforms(pack) == ["telegram", "whatsapp"]

    services.add_stickers(owner, pack, [("04.png", make.sticker_png(size=(64, 64), index=4))], get_storage())
    db.session.commit()
    pack = pack_of(pack.listing)
    report = services.pack_report(pack)

    assert report["processing"] == {"state": "queued", "done": 3, "total": 4}
    assert {e["status"] for e in report["exports"].values()} == {"pending"}
    assert services.ready_platforms(pack) == []
    assert "still being processed" in _submit_refusal(owner, pack.listing)[0]

    processing.process_pack(pack.listing_id, get_storage())
    report = services.pack_report(pack_of(pack.listing))
    assert report["processing"] == {"state": "done", "done": 4, "total": 4}
    assert [report["exports"][code]["status"] for code in ("line", "telegram", "whatsapp")] == ["failed", "ready", "ready"]


@pytest.mark.parametrize("change", ["emoji", "reorder", "delete", "upload"])
def test_a_change_while_approved_sends_the_listing_back_to_draft(make, change):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=2, status="approved")  # Telegram's export is enough for review
    pack = services.own_pack(owner, listing.id)
    ids = [s.id for s in pack.stickers]

    if change == "emoji":
        services.update_sticker(owner, pack, ids[0], {"emoji": "🎉"})
    elif change == "reorder":
        services.reorder_stickers(owner, pack, ids[::-1])
    elif change == "delete":
        services.delete_sticker(owner, pack, ids[0], get_storage())
    else:
        services.add_stickers(owner, pack, [("new.png", make.sticker_png(size=(64, 64)))], get_storage())
    db.session.commit()

    assert db.session.get(Listing, listing.id).status == "draft"
    assert {e["status"] for e in services.pack_report(pack_of(listing))["exports"].values()} == {"pending"}


def test_changes_are_refused_under_review(make):
    owner = make.streamer()
    listing = make.sticker_pack(owner, count=1, status="submitted")
    pack = services.own_pack(owner, listing.id)

    with pytest.raises(Exception) as refused:
        services.add_stickers(owner, pack, [("new.png", make.sticker_png(size=(64, 64)))], get_storage())

    assert getattr(refused.value, "status_code", None) == 409
