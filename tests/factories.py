"""Factories that build real rows through the project's own services, then commit."""
from __future__ import annotations

import io
import itertools

from PIL import Image

from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
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
        "kind": "sticker_pack",
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
