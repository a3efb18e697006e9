"""Live room rules: a streamer registers the rooms where they go live."""
from __future__ import annotations

from typing import Sequence
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import CreatorProfile, User
from app.errors import Errors, NotFound, PermissionDenied
from app.extensions import db
from app.liverooms.models import LiveRoom, Platform
from app.validation import clean_text

MAX_ROOMS = 20


def platform_label(platform: str) -> str:
    labels = {
        Platform.DOUYIN: _("Douyin"),
        Platform.KUAISHOU: _("Kuaishou"),
        Platform.TAOBAO_LIVE: _("Taobao Live"),
        Platform.BILIBILI: _("Bilibili"),
        Platform.TWITCH: "Twitch",
        Platform.YOUTUBE: "YouTube",
        Platform.OTHER: _("Other"),
    }
    return labels.get(platform, platform)


def _clean_url(value, errors: Errors) -> str:
    url = clean_text(value, errors, "url", max_length=500)
    if url and "url" not in errors.errors:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.add("url", _("Enter a full web address starting with https://."))
    return url


def rooms_of(creator: CreatorProfile) -> Sequence[LiveRoom]:
    return db.session.scalars(select(LiveRoom).where(LiveRoom.creator_id == creator.id).order_by(LiveRoom.id)).all()


def add_room(user: User, platform, url, title) -> LiveRoom:
    """Register a live room on the user's creator profile."""
    creator = user.creator_profile if user and user.is_authenticated else None
    if creator is None:
        raise PermissionDenied(_("Become a streamer to add live rooms."))
    errors = Errors()
    if platform not in set(Platform):
        errors.add("platform", _("Choose a platform from the list."))
    url = _clean_url(url, errors)
    title = clean_text(title, errors, "title", max_length=120)
    if len(rooms_of(creator)) >= MAX_ROOMS:
        errors.add("url", _("You can register at most %(max)d live rooms.", max=MAX_ROOMS))
    errors.raise_if_any()
    room = LiveRoom(creator=creator, platform=platform, url=url, title=title)
    db.session.add(room)
    db.session.flush()
    return room


def get_own_room(user: User, room_id: int) -> LiveRoom:
    room = db.session.get(LiveRoom, room_id)
    if room is None:
        raise NotFound(_("No such live room."))
    if not user.creator_profile or room.creator_id != user.creator_profile.id:
        raise PermissionDenied(_("This live room is not yours."))
    return room


def update_room(user: User, room_id: int, platform, url, title) -> LiveRoom:
    room = get_own_room(user, room_id)
    errors = Errors()
    if platform not in set(Platform):
        errors.add("platform", _("Choose a platform from the list."))
    url = _clean_url(url, errors)
    title = clean_text(title, errors, "title", max_length=120)
    errors.raise_if_any()
    room.platform, room.url, room.title = platform, url, title
    return room


def delete_room(user: User, room_id: int) -> None:
    db.session.delete(get_own_room(user, room_id))
