"""Sticker art on bytes: validate an upload, unpack a zip, decode once, render every derivative and export.

The only module of the sticker package that imports PIL. Every function is pure (bytes in, bytes out) and
deterministic: the same input gives byte-identical output, with no timestamps or metadata written.
Refusals raise StickerProblem with the codes and parameters of stickers.problems.
"""
from __future__ import annotations

import contextlib
import functools
import io
import math
import re
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from stickers.platforms import ImageSpec
from stickers.problems import StickerProblem

MAX_FILE_BYTES = 5 * 1024 * 1024  # one uploaded image
MIN_SIDE = 64
MAX_SIDE = 4096
MAX_FRAME_PIXELS = 4096 * 4096  # per frame, checked from the header before decoding (bomb)
MAX_TOTAL_PIXELS = 40_000_000  # all frames of an animation: ~160 MB decoded as RGBA
#: the longest side of a sticker's thumbnail (owners) and watermarked preview (everyone else)
THUMB_SIDE = 160
PREVIEW_SIDE = 320
MAX_FRAMES = 300
MAX_ZIP_BYTES = 60 * 1024 * 1024  # the zip upload itself
MAX_ZIP_MEMBERS = 200
MAX_ZIP_UNPACKED = 150 * 1024 * 1024  # sum of unpacked image members

#: Pillow plugins allowed to parse an upload; nothing else ever sees the bytes
ALLOWED_FORMATS = ("PNG", "WEBP", "GIF")
#: how the formats are named to people
FORMAT_NAMES = {"PNG": "PNG", "WEBP": "WebP", "GIF": "GIF"}
DEFAULT_DURATION = 100  # ms, for frames that give none (browsers also treat <= 10 ms as 100 ms)
ALPHA_TRANSPARENT = 32  # a border pixel with less alpha than this counts as transparent background
WATERMARK = "ENCORE"

_CLAIMED = {".png": "PNG", ".apng": "PNG", ".webp": "WEBP", ".gif": "GIF"}
#: image (or image-like) extensions we know and refuse, named as the message shows them
_REFUSED_EXTENSIONS = {
    ".svg": "SVG", ".svgz": "SVG", ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG",
    ".bmp": "BMP", ".dib": "BMP", ".tif": "TIFF", ".tiff": "TIFF", ".ico": "ICO", ".cur": "ICO",
    ".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF", ".jxl": "JPEG XL", ".jp2": "JPEG 2000",
    ".psd": "PSD", ".pdf": "PDF", ".eps": "EPS", ".tga": "TGA", ".pcx": "PCX", ".ppm": "PPM",
    ".pgm": "PGM", ".pbm": "PBM", ".pnm": "PNM", ".xbm": "XBM", ".xpm": "XPM", ".dds": "DDS",
    ".icns": "ICNS", ".mp4": "MP4", ".webm": "WebM", ".mov": "MOV", ".tgs": "TGS", ".zip": "ZIP",
}
#: magic bytes of formats we recognise but refuse
_REFUSED_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"), (b"%PDF", "PDF"), (b"8BPS", "PSD"), (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"), (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"), (b"PK\x03\x04", "ZIP"),
    (b"\x1a\x45\xdf\xa3", "WebM"), (b"%!PS", "EPS"),
)
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


# ---------------------------------------------------------------------------------------------------------
# one upload


@dataclass(frozen=True)
class ArtInfo:
    #: "PNG" | "APNG" | "WEBP" | "GIF"
    format: str
    width: int
    height: int
    frame_count: int

    @property
    def animated(self) -> bool:
        return self.frame_count > 1


def inspect_art(filename: str, data: bytes) -> ArtInfo:
    """Validate one upload completely (every frame decoded) and describe it.

    :raise StickerProblem: empty, format_not_allowed, file_too_big, not_image, type_mismatch, too_many_pixels,
        too_small, too_many_frames, truncated or not_transparent.
    """
    if not data:
        raise StickerProblem("empty")
    claimed = _claimed_format(filename)
    if len(data) > MAX_FILE_BYTES:
        raise StickerProblem("file_too_big", size=len(data), limit=MAX_FILE_BYTES)
    with _open(data) as image:
        actual = image.format
        if claimed and claimed != actual:
            raise StickerProblem("type_mismatch", claimed=FORMAT_NAMES[claimed], actual=FORMAT_NAMES[actual])
        width, height = image.size
        if min(width, height) < MIN_SIDE:
            raise StickerProblem("too_small", width=width, height=height, minimum=MIN_SIDE)
        indices = _frame_indices(image)
        _check_frames(width, height, len(indices))
        for index in indices:
            image.seek(index)
            if image.size != (width, height):  # a GIF frame may grow the canvas
                _check_pixels(*image.size)
            image.load()
            if index == indices[0]:
                _check_transparent_border(image)
        _check_complete(actual, data)
    kind = "APNG" if actual == "PNG" and len(indices) > 1 else actual
    return ArtInfo(kind, width, height, len(indices))


def _claimed_format(filename: str) -> str | None:
    """The format the file's name claims; refuses known formats other than PNG/WebP/GIF by extension."""
    name = (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower()
    dot = name.rfind(".")
    extension = name[dot:] if dot > 0 else ""
    if extension in _REFUSED_EXTENSIONS:
        raise StickerProblem("format_not_allowed", format=_REFUSED_EXTENSIONS[extension])
    return _CLAIMED.get(extension)


def _sniff_refusal(data: bytes) -> StickerProblem:
    """Why bytes that no allowed plugin accepts are refused: a named format, or not an image at all."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n\f")
    if head.startswith(b"<"):
        lowered = head.lower()
        if b"<svg" in lowered:
            return StickerProblem("format_not_allowed", format="SVG")
        return StickerProblem("not_image")
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftypheif"):
        return StickerProblem("format_not_allowed", format="HEIC")
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return StickerProblem("format_not_allowed", format="AVIF")
    for magic, name in _REFUSED_MAGIC:
        if data.startswith(magic):
            return StickerProblem("format_not_allowed", format=name)
    return StickerProblem("not_image")


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height as the PNG, GIF or WebP header declares them, read without Pillow."""
    if data.startswith(_PNG_MAGIC) and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _check_pixels(width: int, height: int) -> None:
    """Refuse a frame too large to decode safely (a side over MAX_SIDE counts as too many pixels)."""
    if width * height > MAX_FRAME_PIXELS or max(width, height) > MAX_SIDE:
        raise StickerProblem("too_many_pixels", width=width, height=height, limit_pixels=MAX_FRAME_PIXELS)


def _check_frames(width: int, height: int, frames: int) -> None:
    limit = min(MAX_FRAMES, MAX_TOTAL_PIXELS // max(1, width * height))
    if frames > limit:
        raise StickerProblem("too_many_frames", frames=frames, limit_frames=limit)


@contextlib.contextmanager
def _open(data: bytes):
    """Open with the allow-list after a header check; Pillow's errors become StickerProblems."""
    declared = _header_size(data)
    if declared:
        _check_pixels(*declared)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and struct.unpack("<I", data[4:8])[0] + 8 > len(data):
        raise StickerProblem("truncated")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except UnidentifiedImageError:
            raise _sniff_refusal(data) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bomb(declared) from None
        except _PILLOW_ERRORS:
            raise StickerProblem("truncated") from None
        try:
            with image:
                _check_pixels(*image.size)
                yield image
        except StickerProblem:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bomb(declared) from None
        except _PILLOW_ERRORS:
            raise StickerProblem("truncated") from None


#: what Pillow raises on damaged or cut data
_PILLOW_ERRORS = (OSError, SyntaxError, EOFError, ValueError, IndexError, TypeError, KeyError, struct.error, zlib.error)


def _bomb(declared: tuple[int, int] | None) -> StickerProblem:
    width, height = declared or (0, 0)
    return StickerProblem("too_many_pixels", width=width, height=height, limit_pixels=MAX_FRAME_PIXELS)


def _frame_indices(image: Image.Image) -> range:
    """The frames of the animation; an APNG's default image that is not part of it is left out."""
    count = getattr(image, "n_frames", 1)
    if image.format == "PNG" and count > 1 and getattr(image, "default_image", False):
        return range(1, count)
    return range(count)


def _check_complete(fmt: str, data: bytes) -> None:
    """Refuse cut files even if Pillow was told to pad truncated images (ImageFile.LOAD_TRUNCATED_IMAGES)."""
    if fmt == "PNG" and data.rfind(_PNG_IEND) == -1:
        raise StickerProblem("truncated")
    if fmt == "GIF" and not data.rstrip(b"\x00").endswith(b";"):
        raise StickerProblem("truncated")


def _check_transparent_border(image: Image.Image) -> None:
    """At least half of the 1-pixel border ring must be (nearly) transparent; looks at the ring only."""
    width, height = image.size
    strips = [(0, 0, width, 1), (0, height - 1, width, height)]
    if height > 2:
        strips += [(0, 1, 1, height - 1), (width - 1, 1, width, height - 1)]
    transparent = total = 0
    for box in strips:
        strip = image.crop(box)
        try:
            alpha = strip.getchannel("A") if strip.mode == "RGBA" else strip.convert("RGBA").getchannel("A")
        except ValueError:  # modes without an alpha conversion (16-bit grey) cannot be transparent
            raise StickerProblem("not_transparent") from None
        histogram = alpha.histogram()
        transparent += sum(histogram[:ALPHA_TRANSPARENT])
        total += sum(histogram)
    if transparent * 2 < total:
        raise StickerProblem("not_transparent")


# ---------------------------------------------------------------------------------------------------------
# zips


def is_zip(filename: str, data: bytes) -> bool:
    """A zip by its magic bytes (or, for a damaged one, by its name)."""
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06") or (filename or "").lower().endswith(".zip")


def unpack_zip(data: bytes) -> list[tuple[str, bytes]]:
    """The zip's files as (base name, bytes), naturally sorted, junk (folders, dotfiles, __MACOSX) left out.

    Members that are not images are returned too, so that inspect_art refuses them by name.
    :raise StickerProblem: file_too_big, zip_unreadable, unsafe_path, zip_too_many_files, zip_too_big or
        zip_empty; each refuses the whole zip.
    """
    if len(data) > MAX_ZIP_BYTES:
        raise StickerProblem("file_too_big", size=len(data), limit=MAX_ZIP_BYTES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error):
        raise StickerProblem("zip_unreadable") from None
    if len(members) > 4 * MAX_ZIP_MEMBERS:
        raise StickerProblem("zip_too_many_files", limit_files=MAX_ZIP_MEMBERS)
    kept = []
    for member in members:
        parts = _safe_parts(member.filename)
        if member.is_dir() or _is_junk(parts):
            continue
        if member.flag_bits & 0x1 or member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise StickerProblem("zip_unreadable")
        kept.append((parts[-1], member))
    if len(kept) > MAX_ZIP_MEMBERS:
        raise StickerProblem("zip_too_many_files", limit_files=MAX_ZIP_MEMBERS)
    if sum(member.file_size for _, member in kept) > MAX_ZIP_UNPACKED:
        raise StickerProblem("zip_too_big", limit=MAX_ZIP_UNPACKED)
    kept.sort(key=lambda item: (_natural_key(item[0]), _natural_key(item[1].filename)))
    files, budget = [], MAX_ZIP_UNPACKED
    for name, member in kept:
        content = _read_member(archive, member, budget)
        budget -= len(content)
        files.append((name, content))
    if not files:
        raise StickerProblem("zip_empty")
    return files


def _safe_parts(name: str) -> list[str]:
    """The member path's parts; refuses absolute paths, drive letters, backslashes and '..' (zip slip)."""
    if not name or name.startswith("/") or "\\" in name or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        raise StickerProblem("unsafe_path", member=name)
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise StickerProblem("unsafe_path", member=name)
    return parts


def _is_junk(parts: list[str]) -> bool:
    if not parts:
        return True
    return (
        parts[0] == "__MACOSX"
        or any(part.startswith(".") for part in parts)
        or parts[-1].lower() in ("thumbs.db", "desktop.ini")
    )


def _natural_key(name: str) -> tuple:
    """'2.png' before '10.png'; case-insensitive."""
    return tuple((0, int(piece), "") if piece.isdigit() else (1, 0, piece.casefold())
                 for piece in re.split(r"(\d+)", name) if piece)


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int) -> bytes:
    """Read one member in bounded chunks: the whole zip may unpack to at most `budget` more bytes."""
    chunks, size = [], 0
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(min(1 << 20, budget - size + 1)):
                size += len(chunk)
                if size > budget:
                    raise StickerProblem("zip_too_big", limit=MAX_ZIP_UNPACKED)
                chunks.append(chunk)
    except StickerProblem:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, zlib.error, RuntimeError):
        raise StickerProblem("zip_unreadable") from None
    return b"".join(chunks)


def build_zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A deterministic zip: fixed dates and permissions, entries in the given order; images stored as they are."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        seen = set()
        for name, content in entries:
            if name in seen:
                raise ValueError(f"duplicate zip entry {name!r}")
            seen.add(name)
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o644 << 16
            compressed = name.lower().endswith((".png", ".apng", ".webp", ".gif", ".zip"))
            info.compress_type = zipfile.ZIP_STORED if compressed else zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=None if compressed else 6)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# decoded art


@dataclass
class Art:
    #: RGBA frames, all the same size, without metadata
    frames: list
    #: milliseconds per frame
    durations: list[int]

    @property
    def width(self) -> int:
        return self.frames[0].width

    @property
    def height(self) -> int:
        return self.frames[0].height

    @property
    def animated(self) -> bool:
        return len(self.frames) > 1


def decode_art(data: bytes) -> Art:
    """Every frame composited to a full RGBA image, with its duration; same limits as inspect_art."""
    frames, durations = [], []
    with _open(data) as image:
        size = image.size
        indices = _frame_indices(image)
        _check_frames(*size, len(indices))
        for index in indices:
            image.seek(index)
            if image.size != size:
                _check_pixels(*image.size)
            image.load()
            frame = image.convert("RGBA")  # a copy even when already RGBA: seeking reuses the buffer
            if frame.size != size:
                frame = frame.crop((0, 0, *size))
            frame.info = {}
            frames.append(frame)
            duration = image.info.get("duration") or 0
            durations.append(int(round(duration)) if duration > 10 else DEFAULT_DURATION)
    return Art(frames, durations)


def encode_master(art: Art) -> tuple[bytes, str]:
    """The full-resolution art owners download: PNG when still, lossy (q90) animated WebP when animated."""
    if art.animated:
        return _webp(art.frames, art.durations, quality=90), "webp"
    return _png(art.frames[0]), "png"


def render_thumb(art: Art, side: int = THUMB_SIDE) -> bytes:
    """A still WebP of the first frame that fits in side x side (never enlarged)."""
    return _webp([_shrink(art.frames[0], side)], [0], quality=80)


def render_preview(art: Art, side: int = PREVIEW_SIDE) -> bytes:
    """A still WebP of the first frame under a repeated diagonal ENCORE watermark and a central band."""
    frame = _shrink(art.frames[0], side)
    return _webp([Image.alpha_composite(frame, _watermark(frame.size))], [0], quality=80)


def render(art: Art, spec: ImageSpec) -> bytes:
    """The art meeting `spec`: format, size, margin and byte limit.

    :raise StickerProblem: too_heavy(limit) when no encoding gets under spec.max_bytes (the caller adds the
        platform and position).
    """
    animated = art.animated and spec.format in ("APNG", "WEBP")
    frames = art.frames if animated else art.frames[:1]
    durations = art.durations if animated else art.durations[:1]
    canvas, art_size, offset = _layout(art.width, art.height, spec)
    frames = [_place(frame, canvas, art_size, offset) for frame in frames]
    for attempt in _attempts(spec.format, frames, durations, spec.max_bytes):
        data = attempt()
        if len(data) <= spec.max_bytes:
            return data
    raise StickerProblem("too_heavy", limit=spec.max_bytes)


def _layout(width: int, height: int, spec: ImageSpec) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(canvas size, art size, art offset) for a width x height art under spec."""
    if spec.fit == "one_side":
        side = max(spec.width, spec.height)
        size = _fit(width, height, side, side)
        return size, size, (0, 0)
    margin = spec.margin
    art_w, art_h = _fit(width, height, spec.width - 2 * margin, spec.height - 2 * margin)
    if spec.fit == "exact":
        canvas = (spec.width, spec.height)
    elif spec.fit == "within":
        if spec.even:  # even art plus two equal margins: an even canvas with the full margin kept
            art_w, art_h = max(2, art_w - art_w % 2), max(2, art_h - art_h % 2)
        canvas = (art_w + 2 * margin, art_h + 2 * margin)
    else:
        raise ValueError(f"unknown fit {spec.fit!r}")
    if spec.even:
        canvas = (canvas[0] - canvas[0] % 2, canvas[1] - canvas[1] % 2)
    return canvas, (art_w, art_h), ((canvas[0] - art_w) // 2, (canvas[1] - art_h) // 2)


def _fit(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """width x height scaled (up or down) to touch box_w x box_h, aspect kept, in integers."""
    if width * box_h <= height * box_w:  # height is the limit
        return max(1, min(box_w, (width * box_h + height // 2) // height)), box_h
    return box_w, max(1, min(box_h, (height * box_w + width // 2) // width))


def _resize(frame: Image.Image, size: tuple[int, int]) -> Image.Image:
    if frame.size == size:
        return frame
    return frame.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _shrink(frame: Image.Image, side: int) -> Image.Image:
    if frame.width <= side and frame.height <= side:
        return frame
    return _resize(frame, _fit(frame.width, frame.height, side, side))


def _place(frame: Image.Image, canvas: tuple[int, int], size: tuple[int, int], offset: tuple[int, int]) -> Image.Image:
    scaled = _resize(frame, size)
    if canvas == size:
        return scaled
    out = Image.new("RGBA", canvas, (0, 0, 0, 0))
    out.paste(scaled, offset)
    return out


#: WebP (quality, alpha_quality) from best to lightest; the alpha plane is often most of a sticker's bytes
_WEBP_RUNGS = ((80, 100), (75, 80), (65, 60), (50, 40), (35, 25), (20, 10))
#: below this many bytes per canvas pixel the first rung rarely fits, so encoding starts one rung lighter
_TIGHT_BUDGET = 1.0


def _attempts(fmt: str, frames: list, durations: list[int], max_bytes: int):
    """Encodings from best to lightest, each a thunk: tried in order until one is light enough."""
    if fmt == "PNG" or (fmt == "APNG" and len(frames) == 1):
        yield lambda: _png(frames[0])
        for colors in (256, 128, 64):
            yield lambda c=colors: _png(_quantize(frames, c)[0], optimize=True)
        return
    if fmt == "APNG":
        yield lambda: _apng(frames, durations)
        current, current_durations = frames, durations
        for colors in (256, 256, 128, 64):
            yield lambda f=current, d=current_durations, c=colors: _apng(_quantize(f, c), d, optimize=True)
            if len(current) > 1:
                current, current_durations = _halve(current, current_durations)
        return
    if fmt != "WEBP":
        raise ValueError(f"unknown format {fmt!r}")
    width, height = frames[0].size
    first = 1 if max_bytes < _TIGHT_BUDGET * width * height * len(frames) ** 0.5 else 0
    current, current_durations = frames, durations
    rungs = _WEBP_RUNGS[first:]
    while True:
        for quality, alpha in rungs:
            yield lambda f=current, d=current_durations, q=quality, a=alpha: _webp(f, d, q, a)
        if len(current) < 2:
            break
        current, current_durations = _halve(current, current_durations)
        rungs = _WEBP_RUNGS[2:]
    for colors in (256, 64):  # flat cartoon art: few colours compress well losslessly
        yield lambda f=current, d=current_durations, c=colors: _webp(_quantize(f, c, rgba=True), d, lossless=True)


def _halve(frames: list, durations: list[int]) -> tuple[list, list[int]]:
    """Every other frame, each lasting as long as the two it replaces."""
    pairs = range(0, len(frames), 2)
    return [frames[i] for i in pairs], [sum(durations[i:i + 2]) for i in pairs]


def _quantize(frames: list, colors: int, rgba: bool = False) -> list:
    """All frames on one shared palette of `colors` colours with alpha (stacked, quantized once, cut apart)."""
    width, height = frames[0].size
    if len(frames) == 1:
        sheet = frames[0]
    else:
        sheet = Image.new("RGBA", (width, height * len(frames)))
        for i, frame in enumerate(frames):
            sheet.paste(frame, (0, i * height))
    paletted = sheet.quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
    if rgba:
        paletted = paletted.convert("RGBA")
    return [paletted.crop((0, i * height, width, (i + 1) * height)) for i in range(len(frames))]


def _png(image: Image.Image, optimize: bool = False) -> bytes:
    out = io.BytesIO()
    if optimize:
        image.save(out, format="PNG", optimize=True)
    else:
        image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def _apng(frames: list, durations: list[int], optimize: bool = False) -> bytes:
    out = io.BytesIO()
    frames[0].save(
        out, format="PNG", save_all=True, append_images=frames[1:], duration=durations, loop=0,
        disposal=0, blend=0, default_image=False, **({"optimize": True} if optimize else {"compress_level": 6}),
    )
    return out.getvalue()


def _webp(frames: list, durations: list[int], quality: int = 80, alpha_quality: int = 100,
          lossless: bool = False) -> bytes:
    out = io.BytesIO()
    options = {"quality": quality, "alpha_quality": alpha_quality, "lossless": lossless, "method": 4}
    if len(frames) == 1:
        frames[0].save(out, format="WEBP", **options)
    else:
        frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                       background=(0, 0, 0, 0), **options)
    return out.getvalue()


@functools.lru_cache(maxsize=32)
def _watermark(size: tuple[int, int]) -> Image.Image:
    """A transparent layer of diagonal rows of ENCORE with a band across the middle, for a canvas of `size`."""
    width, height = size
    small = min(width, height)
    diagonal = int(math.hypot(width, height)) + 2
    font = ImageFont.load_default(size=max(10, small // 9))
    layer = Image.new("RGBA", (diagonal, diagonal), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), WATERMARK, font=font)
    step_x, step_y = (right - left) * 3 // 2, (bottom - top) * 3
    stroke = max(1, small // 160)
    for row, y in enumerate(range(-step_y // 2, diagonal, step_y)):
        for x in range(-step_x + (row % 2) * step_x // 2, diagonal, step_x):
            draw.text((x, y), WATERMARK, font=font, fill=(255, 255, 255, 130), stroke_width=stroke,
                      stroke_fill=(0, 0, 0, 110))
    layer = layer.rotate(30, resample=Image.Resampling.BICUBIC)
    crop_x, crop_y = (diagonal - width) // 2, (diagonal - height) // 2
    layer = layer.crop((crop_x, crop_y, crop_x + width, crop_y + height))
    band = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    band_h = max(12, height // 5)
    draw.rectangle((0, (height - band_h) // 2, width, (height + band_h) // 2), fill=(20, 20, 30, 110))
    big = ImageFont.load_default(size=max(10, band_h * 2 // 3))
    draw.text((width / 2, height / 2), WATERMARK, font=big, anchor="mm", fill=(255, 255, 255, 190),
              stroke_width=stroke, stroke_fill=(0, 0, 0, 140))
    return Image.alpha_composite(layer, band)
