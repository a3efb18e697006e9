"""The sticker pipeline against bare Pillow, on the same 40 stickers of 1024x1024 art, in one run.

Pipeline: the real upload check (stickers.services.add_stickers) and processing run (stickers.processing):
master, thumbnail, watermarked preview, LINE / Telegram / WhatsApp renditions, main and tab images, three
export zips, storage writes and database updates. Bare Pillow: decode each image once, then resize and
encode the same outputs (same sizes and formats) with nothing else. Target: ratio <= 1.5 and peak memory
under 300 MB.

    .venv/bin/python bench/stickers_pipeline.py
"""
from __future__ import annotations

import io
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw  # noqa: E402

STICKERS = 40
SIDE = 1024


def art(index: int) -> bytes:
    """Busy sticker art: gradients and shapes on a transparent background, so encoders do real work."""
    image = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for ring in range(24):
        inset = 60 + ring * 16
        color = ((index * 37 + ring * 11) % 256, (ring * 23) % 256, (index * 13 + 120) % 256, 255)
        draw.ellipse((inset, inset + (index % 5) * 3, SIDE - inset, SIDE - inset), outline=color, width=9)
    draw.rectangle((SIDE // 3, SIDE // 3, SIDE // 2 + index * 5, SIDE // 2), fill=(255, 255, 255, 230))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, format="PNG", compress_level=6)
    else:
        image.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue()


def bare_pillow(sources: list[bytes], outputs: list[tuple[int, int, str]]) -> float:
    """Decode once, then resize + encode every output: the least any pipeline must do."""
    started = time.perf_counter()
    for data in sources:
        image = Image.open(io.BytesIO(data))
        image.load()
        image = image.convert("RGBA")
        _encode(image, "PNG")  # the re-encoded master
        for width, height, fmt in outputs:
            copy = image.copy()
            copy.thumbnail((width, height), Image.Resampling.LANCZOS)
            _encode(copy, fmt)
    return time.perf_counter() - started


def pipeline(sources: list[bytes]) -> float:
    from app.extensions import db
    from app.factory import create_app
    from app.storage import get_storage
    from marketplace.catalog import services as catalog
    from app.accounts import services as accounts
    from stickers import processing
    from stickers import services as stickers

    instance = tempfile.mkdtemp(prefix="encore-bench-")
    app = create_app({
        "ENCORE_ENV": "testing",
        "ENCORE_INSTANCE_PATH": instance,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/bench.sqlite",
    })
    with app.app_context():
        db.create_all()
        owner = accounts.register_user("bench@example.com", "correct horse battery")
        accounts.become_streamer(owner, "bench", "Bench", "")
        listing = catalog.create_listing(owner, {
            "kind": "sticker_pack", "title": "Bench pack", "prices": [{"currency": "CNY", "amount": 100}],
        })
        db.session.commit()
        storage = get_storage()
        started = time.perf_counter()
        pack = stickers.own_pack(owner, listing.id)
        files = [(f"{n:02d}.png", data) for n, data in enumerate(sources, start=1)]
        result = stickers.add_stickers(owner, pack, files, storage)
        db.session.commit()
        pack = processing.process_pack(listing.id, storage)
        elapsed = time.perf_counter() - started
        assert not result.refused, result.refused_messages()
        ready = [export.platform for export in pack.exports if export.status == "ready"]
        assert sorted(ready) == ["line", "telegram", "whatsapp"], [(e.platform, e.problems) for e in pack.exports]
    return elapsed


def main() -> None:
    from stickers.platforms import PACK_MAIN, PACK_TAB, PLATFORMS

    sources = [art(n) for n in range(STICKERS)]
    # the same outputs the pipeline makes for each sticker: thumbnail, preview, one per platform
    outputs = [(160, 160, "WEBP"), (320, 320, "WEBP")]
    outputs += [(r.sticker.width, r.sticker.height, r.sticker.format.replace("APNG", "PNG")) for r in PLATFORMS.values()]
    bare_pillow(sources[:2], outputs)  # warm up codecs
    bare = bare_pillow(sources, outputs)
    # pack images are made once per pack, not per sticker: charge them to the baseline too
    bare += bare_pillow(sources[:1], [(s.width, s.height, "PNG") for s in (PACK_MAIN, PACK_TAB)])
    ours = pipeline(sources)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"stickers: {STICKERS} of {SIDE}x{SIDE}")
    print(f"bare Pillow decode-resize-encode: {bare / STICKERS * 1000:7.1f} ms per sticker")
    print(f"Encore pipeline (upload check, derivatives, 3 exports): {ours / STICKERS * 1000:7.1f} ms per sticker")
    print(f"ratio pipeline / bare Pillow: {ours / bare:.2f}  (target <= 1.5)")
    print(f"peak memory of this process: {peak_mb:.0f} MB  (target < 300 MB)")


if __name__ == "__main__":
    main()
