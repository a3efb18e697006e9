"""Demo sticker art for `encore seed-demo`: eight generated stickers per pack, processed on the spot."""
from __future__ import annotations

from app.extensions import db
from app.images import placeholder_sticker_png
from app.storage import get_storage
from stickers import processing, services

DEMO_WORDS = (("HI!", "👋"), ("LOL", "😂"), ("GG", "🎮"), ("WOW", "😮"), ("OK", "👌"), ("YAY", "🎉"), ("ZZZ", "😴"), ("BYE", "🌙"))
DEMO_COLORS = ((255, 150, 170), (255, 205, 110), (140, 200, 255), (170, 230, 160), (200, 170, 255))


def fill_demo_pack(listing, owner) -> None:
    """Upload eight stickers to a new demo pack and build its exports, so it can be submitted."""
    storage = get_storage()
    pack = services.own_pack(owner, listing.id)
    files = [
        (f"{n:02d}.png", placeholder_sticker_png(f"{listing.slug}-{n}", word, DEMO_COLORS))
        for n, (word, _emoji) in enumerate(DEMO_WORDS, start=1)
    ]
    added = services.add_stickers(owner, pack, files, storage).added
    for sticker, (word, emoji) in zip(added, DEMO_WORDS):
        sticker.emoji, sticker.keywords = emoji, word.lower().strip("!")
    db.session.flush()
    processing.process_pack(listing.id, storage)
