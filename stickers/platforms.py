"""What each messaging platform accepts, in one table: adding a platform is adding one entry to PLATFORMS.

The processing task renders every sticker to each platform's ImageSpec and builds one zip per platform;
nothing else in the package names a platform.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class ImageSpec:
    #: PNG, WEBP, or APNG (an animated PNG); animated WEBP is WEBP with several frames
    format: str
    width: int
    height: int
    #: "exact": the canvas is width x height, the art centred in it;
    #: "within": the art scaled to fit inside width x height (never enlarged past it);
    #: "one_side": scaled so the longer side is exactly the size and the other at most it
    fit: str
    #: the file must be at most this many bytes
    max_bytes: int
    #: transparent pixels kept around the art on every side
    margin: int = 0
    #: both dimensions rounded down to an even number of pixels
    even: bool = False

    @property
    def extension(self) -> str:
        return "png" if self.format in ("PNG", "APNG") else self.format.lower()


@dataclass(frozen=True)
class PlatformRule:
    code: str
    #: the platform's own name (a brand, not translated)
    name: str
    sticker: ImageSpec
    #: None when the platform takes no animated stickers we can make
    animated_sticker: ImageSpec | None
    #: the sticker counts a pack may have: a tuple of allowed counts, or a (minimum, maximum) range
    counts: tuple[int, ...] | range
    animated_counts: tuple[int, ...] | range
    #: larger packs are split into packs of at most this many stickers (each still meeting `counts`)
    split_at: int | None = None
    main: ImageSpec | None = None
    tab: ImageSpec | None = None
    zip_max_bytes: int | None = None

    def allowed_counts(self, animated: bool) -> tuple[int, ...] | range:
        return self.animated_counts if animated else self.counts

    def sticker_spec(self, animated: bool) -> ImageSpec | None:
        return self.animated_sticker if animated else self.sticker


#: the pack's own main and tab images, shown on Encore's pages (the platforms' own sizes are in their rules)
PACK_MAIN = ImageSpec("PNG", 240, 240, "exact", 1 * MB, margin=10)
PACK_TAB = ImageSpec("PNG", 96, 74, "exact", 1 * MB, margin=2)

PLATFORMS: dict[str, PlatformRule] = {
    rule.code: rule
    for rule in (
        PlatformRule(
            code="line",
            name="LINE",
            sticker=ImageSpec("PNG", 370, 320, "within", 1 * MB, margin=10, even=True),
            animated_sticker=ImageSpec("APNG", 320, 270, "within", 300 * KB, margin=10, even=True),
            counts=(8, 16, 24, 32, 40),
            animated_counts=(8, 16, 24),
            main=ImageSpec("PNG", 240, 240, "exact", 1 * MB, margin=10),
            tab=ImageSpec("PNG", 96, 74, "exact", 1 * MB, margin=2),
            zip_max_bytes=20 * MB,
        ),
        PlatformRule(
            code="telegram",
            name="Telegram",
            sticker=ImageSpec("WEBP", 512, 512, "one_side", 512 * KB),
            # Telegram's animated stickers are WEBM video or Lottie, which Pillow cannot write
            animated_sticker=None,
            counts=range(1, 121),
            animated_counts=range(1, 51),
            tab=ImageSpec("PNG", 100, 100, "exact", 32 * KB),
        ),
        PlatformRule(
            code="whatsapp",
            name="WhatsApp",
            # "less than 100 KB": at most one byte under
            sticker=ImageSpec("WEBP", 512, 512, "exact", 100 * KB - 1, margin=16),
            animated_sticker=ImageSpec("WEBP", 512, 512, "exact", 500 * KB, margin=16),
            counts=range(3, 31),
            animated_counts=range(3, 31),
            split_at=30,
            tab=ImageSpec("PNG", 96, 96, "exact", 50 * KB, margin=4),
        ),
    )
}


def describe_counts(counts: tuple[int, ...] | range) -> str:
    """'8, 16, 24, 32 or 40' / '3–30', in the current locale."""
    if isinstance(counts, range):
        return f"{counts.start}–{counts.stop - 1}"
    if len(counts) == 1:
        return str(counts[0])
    return _("%(first)s or %(last)s", first=", ".join(str(n) for n in counts[:-1]), last=counts[-1])


def split_sizes(count: int, rule: PlatformRule) -> list[int]:
    """How many stickers go into each platform pack: one pack, or near-equal parts of at most split_at."""
    if rule.split_at is None or count <= rule.split_at:
        return [count]
    parts = -(-count // rule.split_at)
    base, extra = divmod(count, parts)
    return [base + 1 if i < extra else base for i in range(parts)]
