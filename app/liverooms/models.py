"""Live rooms: where a streamer goes live, linked from their listings and storefront."""
from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import CreatorProfile
from app.db import IdMixin, TimestampMixin
from app.extensions import db


class Platform(StrEnum):
    DOUYIN = "douyin"
    KUAISHOU = "kuaishou"
    TAOBAO_LIVE = "taobao_live"
    BILIBILI = "bilibili"
    TWITCH = "twitch"
    YOUTUBE = "youtube"
    OTHER = "other"


class LiveRoom(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "live_rooms"

    creator_id: Mapped[int] = mapped_column(ForeignKey("creator_profiles.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(120))

    creator: Mapped[CreatorProfile] = relationship(backref="live_rooms")
