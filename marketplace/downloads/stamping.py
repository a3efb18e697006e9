"""The buyer's copy of a downloadable file, stamped with their name and order number like an ex-libris.

PDFs get a small grey line along the bottom of every page and the buyer and order in the document info. Images
keep their pixels byte for byte: the order and buyer go into the container's metadata (PNG iTXt chunks, a JPEG
COM segment, a GIF comment extension, a WebP XMP chunk), written at the byte level without decoding anything.

PNG, JPEG and GIF are copied in one pass and never held whole; WebP is walked twice when the source can seek (the
RIFF size at the top depends on what is found further down); PDFs are read whole because pypdf needs that.
On StampError the target may hold a partial copy: the caller discards it.
"""
from __future__ import annotations

import io
import secrets
import shutil
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

from pypdf import PdfReader, PdfWriter
from pypdf.constants import UserAccessPermissions
from pypdf.errors import DependencyError, PyPdfError
from pypdf.generic import RectangleObject
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

ORDER_KEY = "Encore-Order"
BUYER_KEY = "Encore-Buyer"
PDF_ORDER_KEY = "/EncoreOrder"
PDF_BUYER_KEY = "/EncoreBuyer"
XMP_NAMESPACE = "https://ns.encore.example/stamp/1.0/"

STAMPED_TYPES: frozenset[str] = frozenset({"application/pdf", "image/png", "image/jpeg", "image/webp", "image/gif"})

_COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Stamp:
    buyer_name: str
    order_number: str
    #: the line drawn on PDF pages, already translated by the caller
    text: str

    def comment(self) -> str:
        """The free-text comment for formats that have one: the human line, then the machine-readable keys."""
        return f"{self.text}\n{ORDER_KEY}: {self.order_number}\n{BUYER_KEY}: {self.buyer_name}"


class StampError(ValueError):
    """The file claims a stamped type but cannot be parsed (corrupt, truncated or password protected)."""


def stamp_file(source: BinaryIO, content_type: str, stamp: Stamp, target: BinaryIO) -> bool:
    """Writes the stamped copy to target and answers True; False (target untouched) for types not stamped."""
    stamper = _STAMPERS.get(content_type.split(";", 1)[0].strip().lower())
    if stamper is None:
        return False
    stamper(source, stamp, target)
    return True


# ---------------------------------------------------------------- byte helpers

def _read_exactly(source: BinaryIO, size: int, what: str) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise StampError(f"The {what} ends too early: the file is truncated.")
    return data


def _copy_exactly(source: BinaryIO, target: BinaryIO, size: int, what: str) -> None:
    while size:
        data = source.read(min(size, _COPY_CHUNK))
        if not data:
            raise StampError(f"The {what} ends too early: the file is truncated.")
        target.write(data)
        size -= len(data)


def _utf8_at_most(text: str, limit: int) -> bytes:
    """Cut on a character boundary, so a long buyer name cannot leave half a character behind."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore").encode("utf-8")


# ---------------------------------------------------------------- PNG: iTXt chunks before IEND

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_itxt(keyword: str, text: str) -> bytes:
    # keyword NUL, uncompressed (flag 0, method 0), empty language tag NUL, empty translated keyword NUL, UTF-8 text
    return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def _stamp_png(source: BinaryIO, stamp: Stamp, target: BinaryIO) -> None:
    if source.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
        raise StampError("Not a PNG file.")
    target.write(PNG_SIGNATURE)
    first = True
    while True:
        header = _read_exactly(source, 8, "PNG")
        length, kind = struct.unpack(">I4s", header)
        if length > 0x7FFFFFFF or (first and kind != b"IHDR"):
            raise StampError("The PNG file is corrupt.")
        first = False
        if kind == b"IEND":
            target.write(_png_itxt(ORDER_KEY, stamp.order_number))
            target.write(_png_itxt(BUYER_KEY, stamp.buyer_name))
            target.write(header)
            _copy_exactly(source, target, length + 4, "PNG")
            return
        target.write(header)
        _copy_exactly(source, target, length + 4, "PNG")  # the data and its CRC, untouched


# ---------------------------------------------------------------- JPEG: a COM segment after the APPn headers

_JPEG_SOI = b"\xff\xd8"
_JPEG_COM = 0xFE
_JPEG_SOS = 0xDA
_JPEG_EOI = 0xD9
#: SOF0-SOF15, except DHT (C4), JPG (C8) and DAC (CC) which share the range
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: markers without a length field
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_MAX_SEGMENT = 0xFFFF - 2


def _read_jpeg_marker(source: BinaryIO) -> int:
    if _read_exactly(source, 1, "JPEG") != b"\xff":
        raise StampError("The JPEG file is corrupt.")
    marker = _read_exactly(source, 1, "JPEG")[0]
    while marker == 0xFF:  # fill bytes may pad a marker
        marker = _read_exactly(source, 1, "JPEG")[0]
    if marker == 0x00:
        raise StampError("The JPEG file is corrupt.")
    return marker


def _stamp_jpeg(source: BinaryIO, stamp: Stamp, target: BinaryIO) -> None:
    """The comment goes just before the frame header: after APP0 (JFIF) and APP1 (Exif), which must come first,
    and after any comment already there, so readers that keep the last comment (Pillow) show ours."""
    if source.read(2) != _JPEG_SOI:
        raise StampError("Not a JPEG file.")
    target.write(_JPEG_SOI)
    comment = _utf8_at_most(stamp.comment(), _JPEG_MAX_SEGMENT)
    while True:
        marker = _read_jpeg_marker(source)
        if marker in (_JPEG_SOS, _JPEG_EOI):
            raise StampError("The JPEG file is corrupt: it has no frame header.")
        if marker in _JPEG_FRAME_MARKERS:
            target.write(bytes((0xFF, _JPEG_COM)) + struct.pack(">H", len(comment) + 2) + comment)
            target.write(bytes((0xFF, marker)))
            shutil.copyfileobj(source, target, _COPY_CHUNK)  # the frame and entropy-coded scans, untouched
            return
        target.write(bytes((0xFF, marker)))
        if marker in _JPEG_STANDALONE:
            continue
        length_field = _read_exactly(source, 2, "JPEG")
        length = struct.unpack(">H", length_field)[0]
        if length < 2:
            raise StampError("The JPEG file is corrupt.")
        target.write(length_field)
        _copy_exactly(source, target, length - 2, "JPEG")


# ---------------------------------------------------------------- GIF: a comment extension after the colour table

def _gif_sub_blocks(data: bytes) -> bytes:
    return b"".join(bytes((len(part),)) + part for part in (data[i:i + 255] for i in range(0, len(data), 255))) + b"\0"


def _copy_gif_sub_blocks(source: BinaryIO, target: BinaryIO) -> None:
    while True:
        size = _read_exactly(source, 1, "GIF")
        target.write(size)
        if size == b"\0":
            return
        _copy_exactly(source, target, size[0], "GIF")


def _stamp_gif(source: BinaryIO, stamp: Stamp, target: BinaryIO) -> None:
    """Every block is walked so a truncated file is refused; comments need GIF89a, which reads like GIF87a."""
    if source.read(6) not in (b"GIF87a", b"GIF89a"):
        raise StampError("Not a GIF file.")
    screen = _read_exactly(source, 7, "GIF")
    target.write(b"GIF89a" + screen)
    if screen[4] & 0x80:
        _copy_exactly(source, target, 3 << ((screen[4] & 0x07) + 1), "GIF")
    target.write(b"\x21\xfe" + _gif_sub_blocks(stamp.comment().encode("utf-8")))
    while True:
        introducer = source.read(1)
        if introducer == b"":
            # Some encoders omit the trailer and viewers accept that; a cut inside a block is caught below.
            target.write(b"\x3b")
            return
        target.write(introducer)
        if introducer == b"\x3b":
            shutil.copyfileobj(source, target, _COPY_CHUNK)
            return
        if introducer == b"\x21":
            target.write(_read_exactly(source, 1, "GIF"))  # the extension label
        elif introducer == b"\x2c":
            descriptor = _read_exactly(source, 9, "GIF")
            target.write(descriptor)
            if descriptor[8] & 0x80:
                _copy_exactly(source, target, 3 << ((descriptor[8] & 0x07) + 1), "GIF")
            target.write(_read_exactly(source, 1, "GIF"))  # the LZW minimum code size
        else:
            raise StampError("The GIF file is corrupt.")
        _copy_gif_sub_blocks(source, target)


# ---------------------------------------------------------------- WebP: an XMP chunk in the RIFF container

_VP8X_XMP = 0x04
_VP8X_ALPHA = 0x10


@dataclass
class _RiffChunk:
    kind: bytes
    offset: int  # of the payload in the source
    size: int
    #: the payload, read only for the chunks we look into
    payload: bytes | None = None


def _xmp_description(stamp: Stamp) -> str:
    return (
        f'<rdf:Description rdf:about="" xmlns:encore={quoteattr(XMP_NAMESPACE)}>'
        f"<encore:Order>{escape(stamp.order_number)}</encore:Order>"
        f"<encore:Buyer>{escape(stamp.buyer_name)}</encore:Buyer>"
        f"<encore:Notice>{escape(stamp.text)}</encore:Notice>"
        "</rdf:Description>"
    )


def _xmp_packet(stamp: Stamp, existing: bytes | None) -> bytes:
    """Our description is added beside the file's own ones (rdf:RDF holds any number), so nothing is lost. A packet
    without rdf:RDF (not UTF-8, or not XMP at all) cannot be extended and is replaced."""
    description = _xmp_description(stamp).encode("utf-8")
    if existing is not None:
        end = existing.rfind(b"</rdf:RDF>")
        if end >= 0:
            return existing[:end] + description + existing[end:]
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    ).encode("utf-8") + description + b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'


def _riff_chunks(source: BinaryIO) -> list[_RiffChunk]:
    """The chunks of the RIFF container, positions relative to its start; a container that claims more bytes than
    the file holds is truncated."""
    start = source.tell()
    available = source.seek(0, io.SEEK_END) - start
    source.seek(start)
    header = _read_exactly(source, 12, "WebP")
    if header[:4] != b"RIFF" or header[8:] != b"WEBP":
        raise StampError("Not a WebP file.")
    end = 8 + struct.unpack("<I", header[4:8])[0]
    if end > available:
        raise StampError("The WebP file ends too early: the file is truncated.")
    position, chunks = 12, []
    while position + 8 <= end:
        kind, size = struct.unpack("<4sI", _read_exactly(source, 8, "WebP"))
        if position + 8 + size > end:
            raise StampError("The WebP file is corrupt.")
        chunk = _RiffChunk(kind, position + 8, size)
        if kind in (b"VP8X", b"VP8 ", b"VP8L", b"XMP "):
            chunk.payload = _read_exactly(source, size, "WebP")
        position += 8 + size + (size & 1)
        source.seek(start + position)
        chunks.append(chunk)
    if not chunks or chunks[0].kind not in (b"VP8X", b"VP8 ", b"VP8L"):
        raise StampError("The WebP file is corrupt.")
    return chunks


def _vp8x_for_simple(chunk: _RiffChunk) -> bytes:
    """A simple (VP8/VP8L-only) file needs an extended header to carry metadata; it states the canvas size, read
    from the bitstream header, and whether a lossless image uses alpha."""
    payload = chunk.payload or b""
    if chunk.kind == b"VP8 ":
        if len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a":
            raise StampError("The WebP file is corrupt.")
        width, height = (value & 0x3FFF for value in struct.unpack("<HH", payload[6:10]))
        flags = 0
    else:
        if len(payload) < 5 or payload[0] != 0x2F:
            raise StampError("The WebP file is corrupt.")
        bits = struct.unpack("<I", payload[1:5])[0]
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        flags = _VP8X_ALPHA if bits >> 28 & 1 else 0
    if not width or not height:
        raise StampError("The WebP file is corrupt.")
    return bytes((flags, 0, 0, 0)) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")


def _riff_chunk_bytes(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _stamp_webp(source: BinaryIO, stamp: Stamp, target: BinaryIO) -> None:
    if not source.seekable():
        source = io.BytesIO(source.read())
    start = source.tell()
    chunks = _riff_chunks(source)
    # Chunks we rewrite, by position; the rest are copied from the source.
    replaced: dict[int, bytes] = {}
    prefix = b""
    if chunks[0].kind == b"VP8X":
        vp8x = bytearray(chunks[0].payload or b"")
        if len(vp8x) < 10:
            raise StampError("The WebP file is corrupt.")
        vp8x[0] |= _VP8X_XMP
        replaced[0] = _riff_chunk_bytes(b"VP8X", bytes(vp8x))
    else:
        vp8x = bytearray(_vp8x_for_simple(chunks[0]))
        vp8x[0] |= _VP8X_XMP
        prefix = _riff_chunk_bytes(b"VP8X", bytes(vp8x))
    xmp_index = next((i for i, chunk in enumerate(chunks) if chunk.kind == b"XMP "), None)
    suffix = b""
    if xmp_index is None:
        suffix = _riff_chunk_bytes(b"XMP ", _xmp_packet(stamp, None))
    else:
        replaced[xmp_index] = _riff_chunk_bytes(b"XMP ", _xmp_packet(stamp, chunks[xmp_index].payload))
    body_size = len(prefix) + len(suffix) + sum(
        len(replaced[i]) if i in replaced else 8 + chunk.size + (chunk.size & 1) for i, chunk in enumerate(chunks)
    )
    target.write(b"RIFF" + struct.pack("<I", 4 + body_size) + b"WEBP" + prefix)
    for i, chunk in enumerate(chunks):
        if i in replaced:
            target.write(replaced[i])
            continue
        source.seek(start + chunk.offset - 8)
        _copy_exactly(source, target, 8 + chunk.size, "WebP")
        target.write(b"\0" * (chunk.size & 1))  # the pad byte, which a last chunk sometimes lacks
    target.write(suffix)


# ---------------------------------------------------------------- PDF: a line on every page and the document info

_PDF_FONT = "STSong-Light"
_PDF_FONT_SIZE = 7.0
_PDF_SMALLEST_FONT_SIZE = 3.0
_PDF_GREY = 0.45
#: pypdf raises these plain errors, besides its own, on malformed files
_PDF_PARSE_ERRORS = (PyPdfError, KeyError, IndexError, TypeError, AttributeError, AssertionError, RecursionError)


@cache
def _register_pdf_font() -> None:
    # A standard Adobe CID font: reportlab needs no font file, and Chinese and Latin both draw with it.
    pdfmetrics.registerFont(UnicodeCIDFont(_PDF_FONT))


def _drawable(text: str) -> str:
    """The CID font's Unicode map covers the Basic Multilingual Plane only; anything past it (emoji) becomes '?'
    on the page (the metadata keeps the exact name)."""
    return "".join(char if ord(char) <= 0xFFFF else "?" for char in text)


def _page_geometry(page) -> tuple[int, tuple[float, float, float, float]]:
    box = page.cropbox  # what viewers show; it lies within the mediabox and defaults to it
    rotation = (round(int(page.rotation or 0) / 90) * 90) % 360
    return rotation, (float(box.left), float(box.bottom), float(box.right), float(box.top))


def _draw_stamp_line(canvas: Canvas, text: str, rotation: int, box: tuple[float, float, float, float]) -> None:
    """Along the bottom edge as the reader sees the page: /Rotate turns the page clockwise when shown, so the
    visible bottom is the right, top or left edge of the unrotated box for 90, 180 and 270."""
    left, bottom, right, top = box
    origin, visible_width, visible_height = {
        0: ((left, bottom), right - left, top - bottom),
        90: ((right, bottom), top - bottom, right - left),
        180: ((right, top), right - left, top - bottom),
        270: ((left, top), top - bottom, right - left),
    }[rotation]
    margin = max(2.0, min(12.0, visible_height * 0.015))
    size = _PDF_FONT_SIZE
    width = pdfmetrics.stringWidth(text, _PDF_FONT, size)
    if width > visible_width - 2 * margin > 0:
        size = max(_PDF_SMALLEST_FONT_SIZE, size * (visible_width - 2 * margin) / width)
    canvas.saveState()
    canvas.translate(*origin)
    canvas.rotate(rotation)
    canvas.setFillGray(_PDF_GREY)
    canvas.setFont(_PDF_FONT, size)
    canvas.drawCentredString(visible_width / 2, margin, text)
    canvas.restoreState()


def _overlay_pages(text: str, geometries: Iterable[tuple[int, tuple[float, float, float, float]]]) -> dict:
    """One overlay page per distinct page geometry, drawn in a single reportlab document: a 300-page handout of
    one size costs one overlay."""
    _register_pdf_font()
    geometries = list(dict.fromkeys(geometries))
    buffer = io.BytesIO()
    canvas = Canvas(buffer, initialFontName=_PDF_FONT, pageCompression=1)
    for rotation, box in geometries:
        canvas.setPageSize((max(box[2], 1.0), max(box[3], 1.0)))
        _draw_stamp_line(canvas, text, rotation, box)
        canvas.showPage()
    canvas.save()
    overlays = PdfReader(io.BytesIO(buffer.getvalue())).pages
    pages = {}
    for (rotation, box), overlay in zip(geometries, overlays):
        # merge_page clips the overlay to its own box, so it must be the page's box, origin included
        overlay.mediabox = RectangleObject(box)
        pages[rotation, box] = overlay
    return pages


def _open_pdf(source: BinaryIO) -> tuple[PdfReader, UserAccessPermissions | None]:
    reader = PdfReader(io.BytesIO(source.read()))
    if not reader.is_encrypted:
        return reader, None
    try:
        opened = reader.decrypt("")
    except DependencyError as error:
        raise StampError("The PDF file uses an encryption this server cannot open.") from error
    if not opened:
        raise StampError("The PDF file is protected by a password.")
    return reader, reader.user_access_permissions


def _reencrypt(writer: PdfWriter, permissions: UserAccessPermissions) -> None:
    """An encrypted source opened with the empty password keeps its restrictions (printing, copying) in the copy;
    the owner password that could lift them is one nobody knows."""
    owner_password = secrets.token_urlsafe(24)
    try:
        writer.encrypt("", owner_password, permissions_flag=permissions, algorithm="AES-256")
    except DependencyError:
        writer.encrypt("", owner_password, permissions_flag=permissions, algorithm="RC4-128")


def _stamp_pdf(source: BinaryIO, stamp: Stamp, target: BinaryIO) -> None:
    try:
        reader, permissions = _open_pdf(source)
        writer = PdfWriter(clone_from=reader)
        geometries = [_page_geometry(page) for page in writer.pages]
        overlays = _overlay_pages(_drawable(stamp.text), geometries)
        for page, geometry in zip(writer.pages, geometries):
            page.merge_page(overlays[geometry])
            # merging leaves the page's streams decoded, and the overlay's bytes unset until serialised (which
            # encryption does not wait for): compressing sets them, and keeps the copy near the original's size
            page.compress_content_streams()
        writer.add_metadata({PDF_ORDER_KEY: stamp.order_number, PDF_BUYER_KEY: stamp.buyer_name})
        if permissions is not None:
            _reencrypt(writer, permissions)
        buffer = io.BytesIO()
        writer.write(buffer)
    except StampError:
        raise
    except (*_PDF_PARSE_ERRORS, ValueError) as error:
        raise StampError("The PDF file is corrupt.") from error
    target.write(buffer.getvalue())


_STAMPERS = {
    "application/pdf": _stamp_pdf,
    "image/png": _stamp_png,
    "image/jpeg": _stamp_jpeg,
    "image/gif": _stamp_gif,
    "image/webp": _stamp_webp,
}
