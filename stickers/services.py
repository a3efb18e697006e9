"""Sticker pack rules: who may change a pack and when, taking uploads in, ordering, and the pack's report.

Uploads are checked here (synchronously, so a refused file is named at once) and stored privately; the
derivatives and platform exports are built by the processing task (stickers.processing), queued after commit.
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import User
from app.errors import Conflict, Errors, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.storage import PRIVATE_PREFIX, Storage, delete_after_commit
from marketplace import downloads
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing, ListingStatus
from marketplace.kinds import DownloadableFile
from stickers import imaging
from stickers.models import ExportStatus, ProcessingState, Sticker, StickerExport, StickerPack, StickerStatus
from stickers.platforms import PLATFORMS
from stickers.problems import StickerProblem, describe

KIND = "sticker_pack"
#: Telegram's limit, the largest of the three platforms
MAX_STICKERS = 120
#: art may change only before review; an approved pack whose art changes goes back to draft
EDITABLE_STATUSES = {ListingStatus.DRAFT, ListingStatus.REJECTED, ListingStatus.APPROVED}
MAX_EMOJI_LENGTH = 8
MAX_KEYWORDS = 10
MAX_KEYWORD_LENGTH = 30
EXTENSIONS = {"PNG": "png", "APNG": "png", "WEBP": "webp", "GIF": "gif"}


@dataclass
class UploadResult:
    added: list[Sticker] = field(default_factory=list)
    #: (file name, problem) for every file refused; the files that passed are kept
    refused: list[tuple[str, StickerProblem]] = field(default_factory=list)

    def refused_messages(self) -> list[dict]:
        return [
            {"file": name, "code": problem.code, "message": describe(problem.as_dict())}
            for name, problem in self.refused
        ]


# ---------------------------------------------------------------- access

def _pack_of(listing: Listing) -> StickerPack:
    if listing.kind != KIND:
        raise NotFound(_("This listing is not a sticker pack."))
    pack = db.session.get(StickerPack, listing.id)
    if pack is None:
        pack = StickerPack(listing_id=listing.id, listing=listing)
        db.session.add(pack)
        db.session.flush()
    return pack


def visible_pack(user: User | None, listing_id: int) -> StickerPack:
    """The pack of a listing this user may see (404 otherwise)."""
    return _pack_of(catalog.get_visible_listing(user, listing_id=listing_id))


def own_pack(user: User | None, listing_id: int) -> StickerPack:
    """The pack if the user owns its listing: 404 when hidden from them, 403 when visible but not theirs."""
    return _pack_of(catalog.get_own_listing(user, listing_id=listing_id))


def can_see_full_art(user: User | None, pack: StickerPack) -> bool:
    """The listing's creator, operators and fans who bought the pack see the art without the watermark."""
    return catalog.is_owner(user, pack.listing) or catalog.is_operator(user) or downloads.owns_listing(user, pack.listing_id)


def _require_editable(user: User, pack: StickerPack) -> None:
    if not catalog.is_owner(user, pack.listing):
        raise PermissionDenied(_("Only the listing's creator can change it."))
    if pack.listing.status not in EDITABLE_STATUSES:
        raise Conflict(
            _("Stickers can only be changed while the pack is a draft. This listing is %(status)s.",
              status=catalog.status_label(pack.listing.status))
        )


def _changed(user: User, pack: StickerPack) -> None:
    """The art changed: exports are stale, a new processing run is due, an approved pack needs review again."""
    pack.revision += 1
    pack.processing_state = ProcessingState.QUEUED if pack.stickers else ProcessingState.EMPTY
    for export in pack.exports:
        export.status = ExportStatus.PENDING
        export.problems = []
    catalog.mark_content_changed(user, pack.listing)


def _sticker(pack: StickerPack, sticker_id: int) -> Sticker:
    sticker = next((s for s in pack.stickers if s.id == sticker_id), None)
    if sticker is None:
        raise NotFound(_("No such sticker in this pack."))
    return sticker


# ---------------------------------------------------------------- uploads

def _source_key(pack: StickerPack, digest: str, extension: str) -> str:
    return f"{PRIVATE_PREFIX}stickers/{pack.listing_id}/sources/{digest}.{extension}"


def _check_art(pack: StickerPack, name: str, data: bytes) -> imaging.ArtInfo:
    info = imaging.inspect_art(name, data)
    if info.animated and not pack.animated:
        raise StickerProblem("animated_in_static_pack")
    if pack.animated and not info.animated:
        raise StickerProblem("still_in_animated_pack")
    return info


def _store_source(pack: StickerPack, info: imaging.ArtInfo, data: bytes, storage: Storage) -> tuple[str, str]:
    digest = hashlib.sha256(data).hexdigest()
    return storage.put(_source_key(pack, digest, EXTENSIONS[info.format]), data), digest


def _expand(files: list[tuple[str, bytes]], result: UploadResult) -> list[tuple[str, bytes]]:
    """Zips opened into their images (a hostile zip is refused whole); other files pass through."""
    expanded = []
    for name, data in files:
        if imaging.is_zip(name, data):
            try:
                expanded.extend((f"{name}/{member}", content) for member, content in imaging.unpack_zip(data))
            except StickerProblem as problem:
                result.refused.append((name, problem))
        else:
            expanded.append((name, data))
    return expanded


def add_stickers(user: User, pack: StickerPack, files: list[tuple[str, bytes]], storage: Storage) -> UploadResult:
    """Check each file (or each image of a zip) and append the good ones; refused files are reported, not raised."""
    _require_editable(user, pack)
    result = UploadResult()
    if not files:
        raise ValidationFailed.one("files", describe({"code": "no_file"}))
    position = len(pack.stickers)
    for name, data in _expand(files, result):
        if position >= MAX_STICKERS:
            result.refused.append((name, StickerProblem("pack_full", limit_stickers=MAX_STICKERS)))
            continue
        try:
            info = _check_art(pack, name, data)
        except StickerProblem as problem:
            result.refused.append((name, problem))
            continue
        key, digest = _store_source(pack, info, data, storage)
        position += 1
        sticker = Sticker(
            position=position, original_name=_display_name(name), source_key=key, source_digest=digest,
            width=info.width, height=info.height, frame_count=info.frame_count,
            status=StickerStatus.PENDING, renditions={}, problems=[],
        )
        pack.stickers.append(sticker)
        result.added.append(sticker)
    if result.added:
        _changed(user, pack)
        db.session.flush()
    return result


def replace_sticker(user: User, pack: StickerPack, sticker_id: int, name: str, data: bytes, storage: Storage) -> Sticker:
    """New art for one sticker, keeping its place, emoji and keywords."""
    _require_editable(user, pack)
    sticker = _sticker(pack, sticker_id)
    try:
        info = _check_art(pack, name, data)
    except StickerProblem as problem:
        raise ValidationFailed.one("file", f"{_display_name(name)}: {describe(problem.as_dict())}")
    old_files = _files_of(sticker)
    sticker.source_key, sticker.source_digest = _store_source(pack, info, data, storage)
    sticker.original_name = _display_name(name)
    sticker.width, sticker.height, sticker.frame_count = info.width, info.height, info.frame_count
    sticker.status = StickerStatus.PENDING
    sticker.master_key = sticker.thumb_key = sticker.preview_key = None
    sticker.renditions, sticker.problems = {}, []
    _changed(user, pack)
    db.session.flush()
    _delete_unshared(pack, old_files, storage)
    return sticker


def delete_sticker(user: User, pack: StickerPack, sticker_id: int, storage: Storage) -> None:
    _require_editable(user, pack)
    sticker = _sticker(pack, sticker_id)
    old_files = _files_of(sticker)
    pack.stickers.remove(sticker)
    _renumber(pack)
    if pack.main_sticker_id == sticker_id:
        pack.main_sticker_id = None
    _changed(user, pack)
    db.session.flush()
    _delete_unshared(pack, old_files, storage)


def reorder_stickers(user: User, pack: StickerPack, sticker_ids: list[int]) -> None:
    """Put the stickers in the given order; the list must name every sticker of the pack once."""
    _require_editable(user, pack)
    current = {s.id: s for s in pack.stickers}
    if sorted(sticker_ids) != sorted(current):
        raise ValidationFailed.one("order", _("Give every sticker of the pack exactly once."))
    for position, sticker_id in enumerate(sticker_ids, start=1):
        current[sticker_id].position = position
    pack.stickers.sort(key=lambda s: s.position)
    _changed(user, pack)
    db.session.flush()


def move_sticker(user: User, pack: StickerPack, sticker_id: int, position: int) -> None:
    """Move one sticker to a 1-based position, shifting the others."""
    _require_editable(user, pack)
    ids = [s.id for s in pack.stickers]
    _sticker(pack, sticker_id)
    if not 1 <= position <= len(ids):
        raise ValidationFailed.one("position", _("Choose a position from 1 to %(count)s.", count=len(ids)))
    ids.remove(sticker_id)
    ids.insert(position - 1, sticker_id)
    reorder_stickers(user, pack, ids)


def _renumber(pack: StickerPack) -> None:
    for position, sticker in enumerate(sorted(pack.stickers, key=lambda s: s.position), start=1):
        sticker.position = position


def _clean_emoji(value, errors: Errors) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > MAX_EMOJI_LENGTH or any(
        ch.isspace() or unicodedata.category(ch)[0] in "LN" for ch in text
    ):
        errors.add("emoji", _("Give one emoji, such as 😺."))
        return None
    return text


def _clean_keywords(value, errors: Errors) -> str:
    words = value if isinstance(value, list) else str(value or "").replace("，", ",").split(",")
    cleaned = []
    for word in words:
        word = " ".join(str(word).split()).lower()
        if not word or word in cleaned:
            continue
        if len(word) > MAX_KEYWORD_LENGTH:
            errors.add("keywords", _("Keywords are at most %(length)s characters.", length=MAX_KEYWORD_LENGTH))
            continue
        cleaned.append(word.replace(",", " "))
    if len(cleaned) > MAX_KEYWORDS:
        errors.add("keywords", _("Give at most %(count)s keywords.", count=MAX_KEYWORDS))
    return ",".join(cleaned[:MAX_KEYWORDS])


def update_sticker(user: User, pack: StickerPack, sticker_id: int, data: dict) -> Sticker:
    """Set a sticker's emoji and keywords (only the keys given)."""
    _require_editable(user, pack)
    sticker = _sticker(pack, sticker_id)
    errors = Errors()
    emoji = _clean_emoji(data.get("emoji"), errors) if "emoji" in data else sticker.emoji
    keywords = _clean_keywords(data.get("keywords"), errors) if "keywords" in data else sticker.keywords
    errors.raise_if_any()
    if (emoji, keywords) != (sticker.emoji, sticker.keywords):
        sticker.emoji, sticker.keywords = emoji, keywords
        _changed(user, pack)  # the exports carry emoji and keywords
    db.session.flush()
    return sticker


def set_main_sticker(user: User, pack: StickerPack, sticker_id: int) -> None:
    """Make this sticker's art the pack's main and tab/tray image."""
    _require_editable(user, pack)
    _sticker(pack, sticker_id)
    if pack.main_sticker_id != sticker_id:
        pack.main_sticker_id = sticker_id
        _changed(user, pack)
    db.session.flush()


def set_animated(user: User, pack: StickerPack, animated: bool) -> None:
    """Static or animated: chosen while the pack is empty, since every sticker must match it."""
    _require_editable(user, pack)
    animated = bool(animated)
    if animated == pack.animated:
        return
    if pack.stickers:
        raise Conflict(_("Delete the stickers first: a pack's stickers are all static or all animated."))
    pack.animated = animated
    db.session.flush()


def _display_name(name: str) -> str:
    """The upload's name for messages, bounded; zip members read "pack.zip/03.png"."""
    return (name.strip() or "?")[-255:]


def _files_of(sticker: Sticker) -> list[str]:
    keys = [sticker.source_key, sticker.master_key, sticker.thumb_key, sticker.preview_key]
    keys += [r.get("key") for r in (sticker.renditions or {}).values()]
    return [key for key in keys if key]


def _delete_unshared(pack: StickerPack, keys: list[str], storage: Storage) -> None:
    """Delete, once committed, files no remaining sticker uses (two stickers may share a source's bytes)."""
    in_use = {key for sticker in pack.stickers for key in _files_of(sticker)}
    delete_after_commit(storage, sorted(set(keys) - in_use))


# ---------------------------------------------------------------- reading

def progress(pack: StickerPack) -> dict:
    total = len(pack.stickers)
    done = sum(1 for s in pack.stickers if s.status != StickerStatus.PENDING)
    return {"state": pack.processing_state, "done": done, "total": total}


def export_states(pack: StickerPack) -> dict[str, StickerExport | None]:
    return {code: pack.export_for(code) for code in PLATFORMS}


def ready_platforms(pack: StickerPack) -> list[str]:
    """The platforms whose export of the current art is built."""
    if pack.processed_revision != pack.revision:
        return []
    return [code for code, export in export_states(pack).items() if export and export.status == ExportStatus.READY]


def export_files(listing) -> list[DownloadableFile]:
    """What a buyer of the pack downloads: one zip per platform whose export of the current art is built."""
    pack = db.session.get(StickerPack, listing.id)
    if pack is None:
        return []
    files = []
    for code in ready_platforms(pack):
        export = pack.export_for(code)
        files.append(DownloadableFile(ref=f"sticker-{code}", name=f"{listing.slug}-{code}.zip", key=export.key,
                                      size=export.size or 0, content_type="application/zip"))
    return files


def problem_list(problems: list[dict]) -> list[dict]:
    return [{"code": p["code"], "message": describe(p), **p.get("params", {})} for p in problems or []]


def sticker_problems(sticker: Sticker) -> list[dict]:
    """What stopped the sticker, then what keeps it out of particular platforms."""
    problems = list(sticker.problems or [])
    problems += [r["problem"] for r in (sticker.renditions or {}).values() if r.get("problem")]
    return problem_list(problems)


def pack_report(pack: StickerPack) -> dict:
    """The pack's processing report (the API's GET answer and the edit page's live status)."""
    exports = {}
    for code, export in export_states(pack).items():
        status = export.status if export and pack.processed_revision == pack.revision else ExportStatus.PENDING
        if export and export.status == ExportStatus.FAILED and pack.processed_revision == pack.revision:
            status = ExportStatus.FAILED
        exports[code] = {
            "name": PLATFORMS[code].name,
            "status": status,
            "errors": problem_list(export.problems) if export and status == ExportStatus.FAILED else [],
            "size": export.size if export and status == ExportStatus.READY else None,
            "parts": export.part_count if export and status == ExportStatus.READY else 0,
        }
    return {
        "listing_id": pack.listing_id,
        "animated": pack.animated,
        "main_sticker_id": pack.main_sticker.id if pack.main_sticker else None,
        "stickers": [
            {
                "id": s.id,
                "position": s.position,
                "name": s.original_name,
                "status": s.status,
                "emoji": s.emoji,
                "keywords": s.keyword_list,
                "width": s.width,
                "height": s.height,
                "frames": s.frame_count,
                "errors": sticker_problems(s),
            }
            for s in pack.stickers
        ],
        "processing": progress(pack),
        "exports": exports,
    }


def submit_problems(listing: Listing) -> list[str]:
    """What keeps a sticker pack from review: it needs processed art and at least one platform export."""
    pack = db.session.get(StickerPack, listing.id)
    if pack is None or not pack.stickers:
        return [_("Upload the pack's stickers first.")]
    if pack.processed_revision != pack.revision or any(s.status == StickerStatus.PENDING for s in pack.stickers):
        return [_("The stickers are still being processed; submit the pack when processing is done.")]
    if not ready_platforms(pack):
        return [_("No platform export succeeded yet: see the problems listed on the pack's sticker page.")]
    return []


def packs_for(listing_ids: list[int]) -> dict[int, StickerPack]:
    if not listing_ids:
        return {}
    rows = db.session.scalars(select(StickerPack).where(StickerPack.listing_id.in_(listing_ids)))
    return {pack.listing_id: pack for pack in rows}
