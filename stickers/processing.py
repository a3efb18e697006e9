"""The processing run of one pack: derivatives for each sticker, then one export zip per platform.

Runs in a Celery task. Every file name is derived from the pack, the sticker and the sticker's source digest,
and every encoder is deterministic, so a run repeated on the same art writes the same bytes to the same keys.
Each sticker is committed on its own: the edit page sees progress, and one bad sticker does not stop the rest.

No database transaction stays open while images are rendered: the run reads what it needs, ends the read, does
the slow work, then writes in a short transaction whose first statement is a guarded UPDATE. On SQLite (the
embedded default) a transaction that reads and later writes fails at once with "database is locked" when another
connection wrote meanwhile (every API request with a token does); a write-first transaction waits its turn instead.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

from sqlalchemy import update

from app.db import utcnow
from app.extensions import db
from app.storage import PRIVATE_PREFIX, Storage
from stickers import imaging
from stickers.models import ExportStatus, ProcessingState, Sticker, StickerExport, StickerPack, StickerStatus
from stickers.platforms import PACK_MAIN, PACK_TAB, PLATFORMS, ImageSpec, PlatformRule, split_sizes
from stickers.problems import StickerProblem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StickerJob:
    """What rendering a sticker needs, read before the database is let go."""

    id: int
    pack_id: int
    position: int
    source_key: str
    source_digest: str

    @classmethod
    def of(cls, sticker: Sticker) -> StickerJob:
        return cls(sticker.id, sticker.pack_id, sticker.position, sticker.source_key, sticker.source_digest)


def _sticker_folder(job: StickerJob) -> str:
    return f"{PRIVATE_PREFIX}stickers/{job.pack_id}/{job.id}-{job.source_digest[:16]}"


def _write_first(statement) -> int:
    """Run a guarded UPDATE as a transaction's first statement (see the module docstring); the rows it matched."""
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount


def export_key(pack_id: int, platform: str) -> str:
    return f"{PRIVATE_PREFIX}stickers/{pack_id}/exports/{platform}.zip"


def _render_for(art: imaging.Art, spec: ImageSpec, **where) -> bytes:
    try:
        return imaging.render(art, spec)
    except StickerProblem as problem:
        raise StickerProblem(problem.code, **{**problem.params, **where}) from None


def render_sticker(job: StickerJob, animated_pack: bool, storage: Storage) -> dict:
    """Master, thumbnail, watermarked preview and one rendition per platform, stored next to each other;
    returns the sticker's new column values."""
    if not storage.exists(job.source_key):
        raise StickerProblem("source_missing")
    with storage.open(job.source_key) as source:
        art = imaging.decode_art(source.read())
    folder = _sticker_folder(job)
    master, extension = imaging.encode_master(art)
    values = {
        "master_key": storage.put(f"{folder}/master.{extension}", master),
        "thumb_key": storage.put(f"{folder}/thumb.webp", imaging.render_thumb(art)),
        "preview_key": storage.put(f"{folder}/preview.webp", imaging.render_preview(art)),
    }
    renditions = {}
    for rule in PLATFORMS.values():
        spec = rule.sticker_spec(animated_pack)
        if spec is None:
            continue  # the platform's export reports it once for the whole pack
        try:
            data = _render_for(art, spec, platform=rule.name, position=job.position)
        except StickerProblem as problem:
            renditions[rule.code] = {"problem": problem.as_dict()}
            continue
        key = storage.put(f"{folder}/{rule.code}.{spec.extension}", data)
        renditions[rule.code] = {"key": key, "size": len(data)}
    return {**values, "renditions": renditions, "problems": [], "status": StickerStatus.READY}


@dataclass
class ExportOutcome:
    problems: list[dict] = field(default_factory=list)
    data: bytes | None = None
    parts: int = 0


def _count_problem(rule: PlatformRule, count: int, animated: bool) -> StickerProblem | None:
    allowed = rule.allowed_counts(animated)
    sizes = split_sizes(count, rule)
    if all(size in allowed for size in sizes):
        return None
    # stored as numbers and worded when read, in the reader's language
    allowed_param = {"min": allowed.start, "max": allowed.stop - 1} if isinstance(allowed, range) else list(allowed)
    return StickerProblem("count_not_allowed", platform=rule.name, allowed=allowed_param, count=count)


def _manifest(pack: StickerPack, rule: PlatformRule, stickers: list[Sticker], files: list[str], extra: dict) -> bytes:
    listing = pack.listing
    document = {
        "platform": rule.code,
        "title": listing.title,
        "publisher": listing.creator.display_name,
        "animated": pack.animated,
        **extra,
        "stickers": [
            {"file": name, "emoji": s.emoji or "", "keywords": s.keyword_list}
            for name, s in zip(files, stickers)
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode()


def build_export(pack: StickerPack, rule: PlatformRule, main_art: imaging.Art | None, storage: Storage) -> ExportOutcome:
    """One platform's zip, or every reason it cannot be built (which platform, which sticker, why)."""
    outcome = ExportOutcome()
    spec = rule.sticker_spec(pack.animated)
    if spec is None:
        outcome.problems.append(StickerProblem("animation_unsupported", platform=rule.name).as_dict())
        return outcome
    stickers = list(pack.stickers)
    problem = _count_problem(rule, len(stickers), pack.animated)
    if problem:
        outcome.problems.append(problem.as_dict())
    for sticker in stickers:
        rendition = (sticker.renditions or {}).get(rule.code)
        if sticker.status == StickerStatus.FAILED or rendition is None:
            outcome.problems.append(
                StickerProblem("sticker_failed", platform=rule.name, position=sticker.position).as_dict()
            )
        elif rendition.get("problem"):
            outcome.problems.append(rendition["problem"])
    pack_images: dict[str, bytes] = {}
    for role, image_spec in (("main", rule.main), ("tab", rule.tab)):
        if image_spec is None or main_art is None:
            continue
        try:
            pack_images[role] = _render_for(main_art, image_spec, platform=rule.name, image=role)
        except StickerProblem as problem:
            outcome.problems.append(StickerProblem("image_too_heavy", **problem.params).as_dict())
    if outcome.problems:
        return outcome

    entries: list[tuple[str, bytes]] = []
    sizes = split_sizes(len(stickers), rule)
    start = 0
    for part, size in enumerate(sizes, start=1):
        folder = f"{rule.code}-{part}/" if len(sizes) > 1 else ""
        members = stickers[start:start + size]
        start += size
        names = []
        for number, sticker in enumerate(members, start=1):
            name = f"{number:02d}.{spec.extension}"
            with storage.open(sticker.renditions[rule.code]["key"]) as rendered:
                entries.append((folder + name, rendered.read()))
            names.append(name)
        extra = {}
        for role, data in pack_images.items():
            extra[f"{role}_image"] = f"{role}.png"
            entries.append((f"{folder}{role}.png", data))
        if len(sizes) > 1:
            extra["part"] = part
            extra["parts"] = len(sizes)
        entries.append((f"{folder}stickers.json", _manifest(pack, rule, members, names, extra)))
    data = imaging.build_zip(entries)
    if rule.zip_max_bytes is not None and len(data) > rule.zip_max_bytes:
        outcome.problems.append(
            StickerProblem("zip_too_heavy", platform=rule.name, size=len(data), limit=rule.zip_max_bytes).as_dict()
        )
        return outcome
    outcome.data = data
    outcome.parts = len(sizes)
    return outcome


def _export_row(pack: StickerPack, code: str) -> StickerExport:
    export = pack.export_for(code)
    if export is None:
        export = StickerExport(platform=code, status=ExportStatus.PENDING, problems=[])
        pack.exports.append(export)
    return export


def _main_art(pack: StickerPack, storage: Storage) -> imaging.Art | None:
    main = pack.main_sticker
    if main is None or main.status != StickerStatus.READY or not main.master_key:
        return None
    with storage.open(main.master_key) as master:
        return imaging.decode_art(master.read())


def _pack_images(listing_id: int, main_art: imaging.Art | None, storage: Storage) -> dict:
    """The pack's own main and tab images, stored; their keys (None when there is no art or it cannot fit)."""
    keys = {"main_image_key": None, "tab_image_key": None}
    if main_art is None:
        return keys
    folder = f"{PRIVATE_PREFIX}stickers/{listing_id}"
    try:
        return {
            "main_image_key": storage.put(f"{folder}/main.png", imaging.render(main_art, PACK_MAIN)),
            "tab_image_key": storage.put(f"{folder}/tab.png", imaging.render(main_art, PACK_TAB)),
        }
    except StickerProblem:
        return keys  # the platform exports report the size problem


def _process_stickers(listing_id: int, storage: Storage, force: bool) -> None:
    pack = db.session.get(StickerPack, listing_id)
    if pack is None:
        return  # the listing was deleted meanwhile
    animated = pack.animated
    jobs = [StickerJob.of(s) for s in pack.stickers if force or s.status == StickerStatus.PENDING]
    db.session.rollback()  # nothing to write: end the read before rendering
    for job in jobs:
        try:
            values = render_sticker(job, animated, storage)
        except StickerProblem as problem:
            values = {"status": StickerStatus.FAILED, "problems": [problem.as_dict()]}
        except Exception:  # one broken sticker must not stop the pack
            log.exception("sticker %s of pack %s could not be processed", job.id, listing_id)
            problem = StickerProblem("sticker_failed", platform="Encore", position=job.position)
            values = {"status": StickerStatus.FAILED, "problems": [problem.as_dict()]}
        # only if the sticker is still there with the same art (the owner may have deleted or replaced it)
        _write_first(update(Sticker).where(Sticker.id == job.id, Sticker.source_digest == job.source_digest).values(**values))
        db.session.commit()


def _export_values(pack: StickerPack, code: str, rule: PlatformRule, main_art, storage: Storage) -> dict:
    """One platform's export row values; the zip is stored (or a stale one deleted) on the way."""
    if not pack.stickers:
        return {"status": ExportStatus.PENDING, "problems": []}
    outcome = build_export(pack, rule, main_art, storage)
    if outcome.data is None:
        storage.delete(export_key(pack.listing_id, code))
        return {"status": ExportStatus.FAILED, "problems": outcome.problems, "key": None, "size": None,
                "sha256": None, "part_count": 0}
    return {
        "status": ExportStatus.READY, "problems": [],
        "key": storage.put(export_key(pack.listing_id, code), outcome.data),
        "size": len(outcome.data), "sha256": hashlib.sha256(outcome.data).hexdigest(), "part_count": outcome.parts,
    }


def process_pack(listing_id: int, storage: Storage, *, force: bool = False) -> StickerPack | None:
    """Build what the pack's current art needs; `force` re-renders stickers that are already done."""
    pack = db.session.get(StickerPack, listing_id)
    if pack is None:
        return None
    revision, has_stickers = pack.revision, bool(pack.stickers)
    db.session.commit()  # ends the read (and commits what a caller such as the demo seeding left flushed)
    state = ProcessingState.PROCESSING if has_stickers else ProcessingState.EMPTY
    _write_first(update(StickerPack).where(StickerPack.listing_id == listing_id).values(processing_state=state))
    db.session.commit()

    _process_stickers(listing_id, storage, force)

    pack = db.session.get(StickerPack, listing_id)
    if pack is None or pack.revision != revision:
        db.session.rollback()
        return pack  # deleted, or the art changed meanwhile: the run queued by that change builds the exports
    main_art = _main_art(pack, storage)
    pack_values = _pack_images(listing_id, main_art, storage)
    exports = {code: _export_values(pack, code, rule, main_art, storage) for code, rule in PLATFORMS.items()}
    done = ProcessingState.DONE if pack.stickers else ProcessingState.EMPTY
    db.session.rollback()

    # only when no change came in meanwhile: a newer revision's run owns the state and the exports then
    stored = _write_first(
        update(StickerPack)
        .where(StickerPack.listing_id == listing_id, StickerPack.revision == revision)
        .values(processed_revision=revision, processed_at=utcnow(), processing_state=done, **pack_values)
    )
    pack = db.session.get(StickerPack, listing_id) if stored else None
    if pack is not None:
        for code, values in exports.items():
            export = _export_row(pack, code)
            for name, value in values.items():
                setattr(export, name, value)
    db.session.commit()
    return db.session.get(StickerPack, listing_id, populate_existing=True)
