"""Stamping the buyer's copy: real PDFs drawn with reportlab and real images saved by Pillow go through
stamp_file, and what comes out is read back with pypdf and Pillow."""
from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ElementTree
import zipfile
import zlib

import pytest
from PIL import Image, ImageDraw, ImageSequence
from pypdf import PdfReader, PdfWriter
from pypdf.constants import UserAccessPermissions
from pypdf.generic import NameObject, NumberObject, RectangleObject
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.pdfgen.canvas import Canvas

from marketplace.downloads.stamping import STAMPED_TYPES, XMP_NAMESPACE, Stamp, StampError, stamp_file

ORDER = "EN-261124-7K3Q9P"
STAMP = Stamp(buyer_name="张伟", order_number=ORDER, text=f"Licensed to 张伟 · Order {ORDER}")


def stamped(data: bytes, content_type: str, stamp: Stamp = STAMP) -> bytes:
    target = io.BytesIO()
    assert stamp_file(io.BytesIO(data), content_type, stamp, target) is True
    return target.getvalue()


# ---------------------------------------------------------------- PDF

def drawn_pdf(page_sizes: list[tuple[float, float]]) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.setTitle("Lighting handout")
    for number, size in enumerate(page_sizes, start=1):
        canvas.setPageSize(size)
        canvas.setFont("Helvetica", 14)
        canvas.drawString(72, size[1] - 72, f"Handout page {number}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def edited_pdf(data: bytes, edit) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    edit(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def handout() -> bytes:
    """A4, Letter, A4 landscape, then pages shown turned by /Rotate 90, 180 and 270, one with a box off the
    origin."""
    data = drawn_pdf([A4, letter, landscape(A4), A4, letter, A4, A4])

    def rotate_and_shift(writer: PdfWriter) -> None:
        for index, rotation in ((3, 90), (4, 180), (5, 270)):
            writer.pages[index].rotation = rotation
        writer.pages[6].mediabox = RectangleObject((-100, 50, 495, 892))

    return edited_pdf(data, rotate_and_shift)


def stamp_positions(page) -> list[tuple[float, float, float, float]]:
    """Where the order number is drawn: (x, y) in page space and the direction of the baseline."""
    found = []

    def visit(text, cm, tm, font, size):
        if ORDER in text:
            a, b, c, d, e, f = tm
            ca, cb, cc, cd, ce, cf = cm
            x, y = e * ca + f * cc + ce, e * cb + f * cd + cf
            found.append((x, y, a * ca + b * cc, a * cb + b * cd))

    page.extract_text(visitor_text=visit)
    return found


def test_pdf_pages_carry_the_stamp_and_keep_their_count_sizes_and_text():
    original = PdfReader(io.BytesIO(handout()))
    copy = PdfReader(io.BytesIO(stamped(handout(), "application/pdf")))

    assert len(copy.pages) == len(original.pages) == 7
    for number, (before, after) in enumerate(zip(original.pages, copy.pages), start=1):
        assert after.mediabox == before.mediabox
        assert after.cropbox == before.cropbox
        assert after.rotation == before.rotation
        text = after.extract_text()
        assert f"Handout page {number}" in text
        assert STAMP.text in text  # the CID font extracts as Chinese too
    assert copy.metadata["/EncoreOrder"] == ORDER
    assert copy.metadata["/EncoreBuyer"] == "张伟"
    assert copy.metadata["/Title"] == "Lighting handout"


def test_pdf_stamp_runs_along_the_bottom_edge_the_reader_sees():
    copy = PdfReader(io.BytesIO(stamped(handout(), "application/pdf")))

    for page in copy.pages:
        box = page.cropbox
        [(x, y, dx, dy)] = stamp_positions(page)
        left, bottom, right, top = (float(v) for v in (box.left, box.bottom, box.right, box.top))
        assert left <= x <= right and bottom <= y <= top
        # the edge that is at the bottom once the viewer applies /Rotate, and text reading left to right there
        near_edge, direction = {
            0: (y - bottom, (1, 0)),
            90: (right - x, (0, 1)),
            180: (top - y, (-1, 0)),
            270: (x - left, (0, -1)),
        }[page.rotation]
        assert 0 < near_edge < 20
        assert (round(dx), round(dy)) == direction


def test_pdf_rotation_inherited_from_the_page_tree_is_respected():
    def rotate_tree(writer: PdfWriter) -> None:
        pages_root = writer.root_object["/Pages"]
        pages_root[NameObject("/Rotate")] = NumberObject(90)
        for page in writer.pages:
            del page["/Rotate"]

    data = edited_pdf(drawn_pdf([A4, A4]), rotate_tree)
    copy = PdfReader(io.BytesIO(stamped(data, "application/pdf")))

    for page in copy.pages:
        [(x, _, dx, dy)] = stamp_positions(page)
        assert float(page.cropbox.right) - x < 20
        assert (round(dx), round(dy)) == (0, 1)


def test_long_buyer_name_shrinks_the_line_to_fit_the_page():
    stamp = Stamp(buyer_name="很长的名字" * 30, order_number=ORDER, text=f"Licensed to {'很长的名字' * 30} · Order {ORDER}")
    copy = PdfReader(io.BytesIO(stamped(drawn_pdf([A4]), "application/pdf", stamp)))

    [(x, _, _, _)] = stamp_positions(copy.pages[0])
    assert x >= 0  # centred and shrunk, it starts on the page
    assert copy.metadata["/EncoreBuyer"] == "很长的名字" * 30


def test_buyer_name_outside_the_font_still_stamps():
    stamp = Stamp(buyer_name="Alex 🎮", order_number=ORDER, text=f"Licensed to Alex 🎮 · Order {ORDER}")
    copy = PdfReader(io.BytesIO(stamped(drawn_pdf([letter]), "application/pdf", stamp)))

    assert ORDER in copy.pages[0].extract_text()
    assert copy.metadata["/EncoreBuyer"] == "Alex 🎮"


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128"])
def test_pdf_encrypted_with_an_empty_password_is_stamped_and_keeps_its_restrictions(algorithm):
    if algorithm.startswith("AES"):
        pytest.importorskip("cryptography", reason="pypdf needs cryptography for AES")
    permissions = UserAccessPermissions.PRINT | UserAccessPermissions.R1 | UserAccessPermissions.R2

    def encrypt(writer: PdfWriter) -> None:
        writer.encrypt("", "the seller's owner password", permissions_flag=permissions, algorithm=algorithm)

    copy = PdfReader(io.BytesIO(stamped(edited_pdf(drawn_pdf([A4, letter]), encrypt), "application/pdf")))

    assert copy.is_encrypted
    assert copy.decrypt("")
    assert not copy.user_access_permissions & UserAccessPermissions.EXTRACT
    assert copy.user_access_permissions & UserAccessPermissions.PRINT
    assert len(copy.pages) == 2
    assert ORDER in copy.pages[1].extract_text()
    assert copy.metadata["/EncoreOrder"] == ORDER


def test_pdf_with_a_user_password_is_refused():
    def encrypt(writer: PdfWriter) -> None:
        writer.encrypt("secret", "owner", algorithm="RC4-128")

    with pytest.raises(StampError):
        stamped(edited_pdf(drawn_pdf([A4]), encrypt), "application/pdf")


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\nthis is not a PDF body at all",
    b"",
    b"PK\x03\x04 a zip named handout.pdf",
    drawn_pdf([A4, letter])[:1500],
], ids=["garbage", "empty", "zip-bytes", "truncated"])
def test_corrupt_pdf_is_refused_without_writing(data):
    target = io.BytesIO()

    with pytest.raises(StampError):
        stamp_file(io.BytesIO(data), "application/pdf", STAMP, target)
    assert target.getvalue() == b""


def test_three_hundred_page_pdf_is_stamped():
    data = drawn_pdf([A4] * 150 + [letter] * 150)

    copy = PdfReader(io.BytesIO(stamped(data, "application/pdf")))

    assert len(copy.pages) == 300
    assert ORDER in copy.pages[299].extract_text()


# ---------------------------------------------------------------- images

def picture(mode: str = "RGB", size: tuple[int, int] = (48, 32), shade: int = 0) -> Image.Image:
    image = Image.new(mode, size, (30 + shade, 120, 200, 255)[: len(mode)] if mode != "P" else 3)
    draw = ImageDraw.Draw(image)
    draw.ellipse((4 + shade % 10, 4, 30, 28), fill=(250, 200 - shade, 10, 128)[: len(mode)] if mode != "P" else 7)
    draw.line((0, 31, 47, 0), fill=(0, 0, 0, 255)[: len(mode)] if mode != "P" else 1, width=2)
    return image


def saved(images: list[Image.Image], format: str, **options) -> bytes:
    buffer = io.BytesIO()
    if len(images) > 1:
        options.update(save_all=True, append_images=images[1:], duration=80, loop=0)
    images[0].save(buffer, format=format, **options)
    return buffer.getvalue()


def frames(data: bytes) -> list[bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return [frame.copy().tobytes() for frame in ImageSequence.Iterator(image)]


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        payload = data[position + 8:position + 8 + length]
        crc = struct.unpack(">I", data[position + 8 + length:position + 12 + length])[0]
        assert crc == zlib.crc32(kind + payload), kind
        chunks.append((kind, payload))
        position += 12 + length
    return chunks


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P"])
def test_png_carries_order_and_buyer_in_itxt_with_the_same_pixels(mode):
    original = saved([picture(mode)], "PNG")

    copy = stamped(original, "image/png")

    assert frames(copy) == frames(original)
    with Image.open(io.BytesIO(copy)) as image:
        image.load()
        assert image.text["Encore-Order"] == ORDER
        assert image.text["Encore-Buyer"] == "张伟"
    kinds = [kind for kind, _ in png_chunks(copy)]
    assert kinds[-3:] == [b"iTXt", b"iTXt", b"IEND"]
    # everything else is the original, byte for byte
    assert [chunk for chunk in png_chunks(copy) if chunk[0] != b"iTXt"] == png_chunks(original)


def test_animated_png_keeps_every_frame():
    original = saved([picture("RGBA", shade=shade) for shade in (0, 20, 40)], "PNG")

    copy = stamped(original, "image/png")

    assert len(frames(original)) == 3
    assert frames(copy) == frames(original)


@pytest.mark.parametrize("cut", [20, 60, -13, -5], ids=["in-header", "in-data", "before-iend", "in-iend"])
def test_truncated_png_is_refused(cut):
    original = saved([picture()], "PNG")

    with pytest.raises(StampError):
        stamped(original[:cut], "image/png")


def test_jpeg_carries_a_comment_after_its_jfif_and_exif_headers_with_the_same_pixels():
    exif = Image.Exif()
    exif[0x010F] = "Studio camera"  # Make
    original = saved([picture()], "JPEG", quality=90, exif=exif.tobytes(), comment=b"shot at the studio")

    copy = stamped(original, "image/jpeg")

    assert frames(copy) == frames(original)
    with Image.open(io.BytesIO(copy)) as image:
        assert ORDER in image.info["comment"].decode()
        assert "Encore-Buyer: 张伟" in image.info["comment"].decode()
        assert image.getexif()[0x010F] == "Studio camera"
        assert [name for name, _ in image.applist][:2] == ["APP0", "APP1"]
        assert ("COM", b"shot at the studio") in image.applist


def test_progressive_jpeg_keeps_its_pixels():
    original = saved([picture()], "JPEG", quality=75, progressive=True)

    copy = stamped(original, "image/jpeg")

    assert frames(copy) == frames(original)
    with Image.open(io.BytesIO(copy)) as image:
        assert ORDER in image.info["comment"].decode()


@pytest.mark.parametrize("data", [b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\xff\xd8\x00\x00", b"\xff\xd8\xff\xd9", b"GIF89a"],
                         ids=["header-cut", "no-marker", "no-frame", "not-jpeg"])
def test_broken_jpeg_is_refused(data):
    with pytest.raises(StampError):
        stamped(data, "image/jpeg")


def test_animated_gif_carries_a_comment_and_keeps_every_frame():
    original = saved([picture("RGB", shade=shade) for shade in (0, 20, 40)], "GIF")

    copy = stamped(original, "image/gif")

    assert len(frames(original)) == 3
    assert frames(copy) == frames(original)
    with Image.open(io.BytesIO(copy)) as image:
        assert ORDER in image.info["comment"].decode()
        assert "张伟" in image.info["comment"].decode()
        assert image.info["loop"] == 0
        assert image.n_frames == 3


def test_gif87a_becomes_gif89a_to_hold_the_comment():
    original = saved([picture("P")], "GIF")
    assert original[:6] == b"GIF87a"

    copy = stamped(original, "image/gif")

    assert copy[:6] == b"GIF89a"
    assert frames(copy) == frames(original)
    with Image.open(io.BytesIO(copy)) as image:
        assert ORDER in image.info["comment"].decode()


def test_truncated_gif_is_refused():
    original = saved([picture("RGB", shade=shade) for shade in (0, 20)], "GIF")

    with pytest.raises(StampError):
        stamped(original[: len(original) // 2], "image/gif")


def xmp_descriptions(data: bytes) -> list[ElementTree.Element]:
    with Image.open(io.BytesIO(data)) as image:
        root = ElementTree.fromstring(image.info["xmp"])
    return root.findall(".//{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description")


@pytest.mark.parametrize("options", [
    {"quality": 80},
    {"lossless": True},
    {"lossless": True, "mode": "RGBA"},
    {"quality": 80, "mode": "RGBA"},
], ids=["lossy", "lossless", "lossless-alpha", "lossy-alpha"])
def test_webp_carries_an_xmp_packet_with_the_same_pixels(options):
    mode = options.pop("mode", "RGB")
    original = saved([picture(mode)], "WEBP", **options)

    copy = stamped(original, "image/webp")

    assert frames(copy) == frames(original)
    with Image.open(io.BytesIO(copy)) as image, Image.open(io.BytesIO(original)) as before:
        assert image.mode == before.mode
    [description] = xmp_descriptions(copy)
    assert description.find(f"{{{XMP_NAMESPACE}}}Order").text == ORDER
    assert description.find(f"{{{XMP_NAMESPACE}}}Buyer").text == "张伟"
    assert struct.unpack("<I", copy[4:8])[0] == len(copy) - 8


def test_animated_webp_keeps_every_frame_and_its_own_xmp():
    own_xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Mia</dc:creator>'
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    original = saved([picture("RGBA", shade=shade) for shade in (0, 20, 40)], "WEBP", lossless=True, xmp=own_xmp)

    copy = stamped(original, "image/webp")

    assert len(frames(original)) == 3
    assert frames(copy) == frames(original)
    creators, ours = xmp_descriptions(copy)
    assert creators.find("{http://purl.org/dc/elements/1.1/}creator").text == "Mia"
    assert ours.find(f"{{{XMP_NAMESPACE}}}Order").text == ORDER
    assert struct.unpack("<I", copy[4:8])[0] == len(copy) - 8


def test_truncated_webp_is_refused():
    original = saved([picture()], "WEBP", quality=80)

    with pytest.raises(StampError):
        stamped(original[:-10], "image/webp")


def test_types_that_are_not_stamped_leave_the_target_untouched():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("readme.txt", "stickers")
    target = io.BytesIO()

    assert stamp_file(io.BytesIO(archive.getvalue()), "application/zip", STAMP, target) is False
    assert target.getvalue() == b""
    assert "application/zip" not in STAMPED_TYPES
    assert STAMPED_TYPES == {"application/pdf", "image/png", "image/jpeg", "image/webp", "image/gif"}
