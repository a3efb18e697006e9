"""Downloads: the files sellers attach to listings, what each buyer is entitled to, and every download attempt.

An entitlement comes from one paid order line and lasts until that line is refunded. Downloads are counted per
entitlement and file; the log keeps every attempt, served or refused, for the seller's counts and for abuse.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.db import IdMixin, utcnow
from app.extensions import db
from marketplace.catalog.models import Listing
from marketplace.orders.models import OrderLine


class ListingFile(IdMixin, db.Model):
    """A file the seller attached to a digital listing (course handouts, a studio setup package)."""

    __tablename__ = "listing_files"
    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    #: the cleaned-up name buyers save it under
    name: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    listing: Mapped[Listing] = relationship()

    @property
    def ref(self) -> str:
        return f"file-{self.id}"


class Entitlement(IdMixin, db.Model):
    """The right to download a listing's files, granted by one fulfilled order line."""

    __tablename__ = "entitlements"
    __table_args__ = (CheckConstraint("downloads_per_file >= 1", name="downloads_per_file_positive"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: kept when the listing is deleted, so the library can still say what was bought
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id", ondelete="SET NULL"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), unique=True)
    #: the limit in force when it was granted; a later change of the setting does not shrink what was sold
    downloads_per_file: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    listing: Mapped[Listing | None] = relationship()
    order_line: Mapped[OrderLine] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class DownloadCount(db.Model):
    """Downloads used of one file under one entitlement; raised by a guarded UPDATE so the limit holds."""

    __tablename__ = "download_counts"
    __table_args__ = (CheckConstraint("used >= 0", name="used_not_negative"),)

    entitlement_id: Mapped[int] = mapped_column(ForeignKey("entitlements.id", ondelete="CASCADE"), primary_key=True)
    file_ref: Mapped[str] = mapped_column(String(60), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class DownloadOutcome(StrEnum):
    SERVED = "served"
    #: a byte range after the start of the file: the rest of a download already counted
    RESUMED = "resumed"
    NOT_SIGNED_IN = "not_signed_in"
    FORGED = "forged"
    EXPIRED = "expired"
    WRONG_ACCOUNT = "wrong_account"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    LIMIT_REACHED = "limit_reached"


class DownloadLog(IdMixin, db.Model):
    """One download attempt. Ids are plain numbers, not foreign keys: the log keeps what was asked for, even an
    entitlement that never existed, and outlives the rows it names."""

    __tablename__ = "download_logs"
    __table_args__ = (Index("ix_download_logs_listing_outcome", "listing_id", "outcome"),)

    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    entitlement_id: Mapped[int | None] = mapped_column(Integer)
    listing_id: Mapped[int | None] = mapped_column(Integer)
    file_ref: Mapped[str | None] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(String(45))
    #: the Range header asked for, when there was one
    byte_range: Mapped[str | None] = mapped_column(String(100))
