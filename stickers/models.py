"""Sticker packs: a listing's ordered sticker art, its derivatives and one export per messaging platform.

Problems (a sticker too heavy for WhatsApp, a pack too small for LINE) are stored as codes with parameters,
`{"code": "too_heavy", "params": {...}}`, and put into words in the reader's language by stickers.problems.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import IdMixin, TimestampMixin
from app.extensions import db
from marketplace.catalog.models import Listing


class ProcessingState(StrEnum):
    #: nothing uploaded yet
    EMPTY = "empty"
    #: a change is waiting for the worker
    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"


class StickerStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class ExportStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class StickerPack(TimestampMixin, db.Model):
    """The sticker content of a `sticker_pack` listing (one to one, sharing the listing's id)."""

    __tablename__ = "sticker_packs"

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    animated: Mapped[bool] = mapped_column(default=False)
    #: the sticker whose art becomes the pack's main and tab/tray images; the first sticker when unset or gone
    #: (no foreign key: stickers already point at their pack, and a cycle would complicate SQLite migrations)
    main_sticker_id: Mapped[int | None] = mapped_column(Integer)
    main_image_key: Mapped[str | None] = mapped_column(String(255))
    tab_image_key: Mapped[str | None] = mapped_column(String(255))
    processing_state: Mapped[str] = mapped_column(String(20), default=ProcessingState.EMPTY)
    #: bumped by every change to the art; a processing run that started on an older revision queues another
    revision: Mapped[int] = mapped_column(Integer, default=0)
    processed_revision: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None]

    listing: Mapped[Listing] = relationship()
    stickers: Mapped[list[Sticker]] = relationship(
        back_populates="pack", cascade="all, delete-orphan", order_by="Sticker.position"
    )
    exports: Mapped[list[StickerExport]] = relationship(
        cascade="all, delete-orphan", order_by="StickerExport.platform"
    )
    @property
    def main_sticker(self) -> Sticker | None:
        chosen = next((s for s in self.stickers if s.id == self.main_sticker_id), None)
        return chosen or (self.stickers[0] if self.stickers else None)

    def export_for(self, platform: str) -> StickerExport | None:
        return next((export for export in self.exports if export.platform == platform), None)

    def __repr__(self) -> str:
        return f"<StickerPack {self.listing_id} {len(self.stickers)} stickers>"


class Sticker(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "stickers"

    pack_id: Mapped[int] = mapped_column(ForeignKey("sticker_packs.listing_id", ondelete="CASCADE"), index=True)
    #: 1-based order in the pack; export file names follow it
    position: Mapped[int] = mapped_column(Integer)
    #: the upload's file name as the streamer knows it (shown in messages, never used as a path)
    original_name: Mapped[str] = mapped_column(String(255))
    emoji: Mapped[str | None] = mapped_column(String(16))
    #: lower-cased search words, comma separated
    keywords: Mapped[str] = mapped_column(String(255), default="")
    #: the uploaded bytes, private: only the processing task reads them
    source_key: Mapped[str] = mapped_column(String(255))
    #: sha256 of the uploaded bytes; derivative file names are derived from it so re-runs rewrite the same files
    source_digest: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    frame_count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default=StickerStatus.PENDING)
    #: the re-encoded full-resolution art (what owners get), a thumbnail and the watermarked preview
    master_key: Mapped[str | None] = mapped_column(String(255))
    thumb_key: Mapped[str | None] = mapped_column(String(255))
    preview_key: Mapped[str | None] = mapped_column(String(255))
    #: per platform code: {"key": storage key, "size": bytes} or {"problem": {...}}
    renditions: Mapped[dict] = mapped_column(JSON, default=dict)
    #: problems that stopped this sticker altogether (stored as codes, see the module docstring)
    problems: Mapped[list] = mapped_column(JSON, default=list)

    pack: Mapped[StickerPack] = relationship(back_populates="stickers")

    @property
    def keyword_list(self) -> list[str]:
        return [word for word in self.keywords.split(",") if word]

    def __repr__(self) -> str:
        return f"<Sticker {self.id} #{self.position} {self.status}>"


class StickerExport(IdMixin, TimestampMixin, db.Model):
    """One platform's zip for the pack, or the reasons it could not be built."""

    __tablename__ = "sticker_exports"
    __table_args__ = (UniqueConstraint("pack_id", "platform"),)

    pack_id: Mapped[int] = mapped_column(ForeignKey("sticker_packs.listing_id", ondelete="CASCADE"), index=True)
    #: a code of stickers.platforms.PLATFORMS
    platform: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=ExportStatus.PENDING)
    #: the zip in storage (private; served to owners by the downloads capability)
    key: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    #: how many platform packs the zip holds (WhatsApp splits packs of more than 30)
    part_count: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list] = mapped_column(JSON, default=list)
