"""Factories that build real rows through the project's own services, then commit."""
from __future__ import annotations

import io
import itertools

from PIL import Image, ImageDraw

from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
from app.storage import get_storage
from app.liverooms import services as liverooms
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing, ListingStatus

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


def user(email: str | None = None, password: str = PASSWORD, display_name: str | None = None) -> User:
    created = accounts.register_user(email or f"fan{_n()}@example.com", password, display_name)
    db.session.commit()
    return created


def streamer(handle: str | None = None, email: str | None = None, password: str = PASSWORD) -> User:
    n = _n()
    created = accounts.register_user(email or f"streamer{n}@example.com", password)
    accounts.become_streamer(created, handle or f"streamer_{n}", f"Streamer {n}", "Live every night.")
    db.session.commit()
    return created


def operator(email: str | None = None, password: str = PASSWORD) -> User:
    created = accounts.create_account(email or f"operator{_n()}@example.com", password, "operator")
    db.session.commit()
    return created


def brand_member(brand_name: str = "Acme Lights", email: str | None = None, password: str = PASSWORD) -> User:
    created = accounts.create_account(email or f"brand{_n()}@example.com", password, "brand", brand_name=brand_name)
    db.session.commit()
    return created


def listing_data(**overrides) -> dict:
    n = _n()
    data = {
        # a kind with no content of its own to prepare; sticker packs need art first (see sticker_pack below)
        "kind": "course",
        "title": f"Sticker pack {n}",
        "description": "Twelve hand-drawn stickers.",
        "tags": ["cute", "cats"],
        "prices": [{"currency": "CNY", "amount": 1200}],
    }
    data.update(overrides)
    return data


def listing(owner: User, status: str = ListingStatus.DRAFT, reviewer: User | None = None, **data) -> Listing:
    """A listing moved through the real workflow up to `status`."""
    created = catalog.create_listing(owner, listing_data(**data))
    if status != ListingStatus.DRAFT:
        reviewer = reviewer or operator()
        if status == ListingStatus.ARCHIVED:
            catalog.archive_listing(owner, created)
        else:
            catalog.submit_listing(owner, created)
            if status == ListingStatus.REJECTED:
                catalog.reject_listing(reviewer, created, "Cover art is blurry.")
            elif status in (ListingStatus.APPROVED, ListingStatus.PUBLISHED):
                catalog.approve_listing(reviewer, created)
                if status == ListingStatus.PUBLISHED:
                    catalog.publish_listing(owner, created)
    db.session.commit()
    return created


def live_room(owner: User, platform: str = "douyin", url: str = "https://live.douyin.com/123456", title: str = "Night studio"):
    room = liverooms.add_room(owner, platform, url, title)
    db.session.commit()
    return room


def api_token(owner: User, name: str = "test") -> str:
    _, secret = accounts.create_api_token(owner, name)
    db.session.commit()
    return secret


def png_bytes(size=(64, 48), color=(200, 30, 90), mode="RGB", fmt="PNG") -> bytes:
    """A real image made with Pillow."""
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt)
    return out.getvalue()


def login(client, email: str, password: str = PASSWORD):
    return client.post("/login", data={"email": email, "password": password}, follow_redirects=False)


STICKER_COLORS = ((240, 80, 120), (60, 160, 240), (250, 190, 40), (90, 200, 120), (160, 90, 220), (240, 130, 50))


def sticker_png(size=(400, 400), index: int = 0, fmt: str = "PNG", frames: int = 1) -> bytes:
    """Sticker art made with Pillow: a coloured disc with a mark on a transparent background.

    `frames` > 1 makes an animation (APNG for PNG, animated WebP or GIF for those formats)."""
    width, height = size
    images = []
    for frame in range(frames):
        image = Image.new("RGBA", size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        color = STICKER_COLORS[(index + frame) % len(STICKER_COLORS)] + (255,)
        inset = max(4, min(width, height) // 8)
        draw.ellipse((inset, inset, width - inset, height - inset), fill=color)
        draw.rectangle((width // 3, height // 3 + frame * 3, width // 2, height // 2 + frame * 3), fill=(255, 255, 255, 255))
        images.append(image)
    out = io.BytesIO()
    if frames > 1:
        images[0].save(out, format=fmt, save_all=True, append_images=images[1:], duration=100, loop=0,
                       **({"disposal": 2} if fmt == "GIF" else {}))
    else:
        images[0].save(out, format=fmt)
    return out.getvalue()


def sticker_pack(owner: User, count: int = 8, status: str = ListingStatus.DRAFT, animated: bool = False,
                 reviewer: User | None = None, **data) -> Listing:
    """A sticker pack listing with `count` stickers uploaded and processed (the task runs eagerly in tests),
    then moved through the real workflow up to `status`."""
    from stickers import services as sticker_services
    from stickers.processing import process_pack

    created = catalog.create_listing(owner, listing_data(**{"kind": "sticker_pack", "title": f"Sticker pack {_n()}", **data}))
    pack = sticker_services.own_pack(owner, created.id)
    if animated:
        sticker_services.set_animated(owner, pack, True)
    files = [
        (f"{i + 1:02d}.png", sticker_png(index=i, frames=3 if animated else 1))
        for i in range(count)
    ]
    if files:
        sticker_services.add_stickers(owner, pack, files, get_storage())
    db.session.commit()
    process_pack(created.id, get_storage())
    if status != ListingStatus.DRAFT:
        reviewer = reviewer or operator()
        catalog.submit_listing(owner, created)
        if status in (ListingStatus.APPROVED, ListingStatus.PUBLISHED):
            catalog.approve_listing(reviewer, created)
        if status == ListingStatus.PUBLISHED:
            catalog.publish_listing(owner, created)
        db.session.commit()
    return created
