"""Sticker imaging on real files made with Pillow here: every refusal with a hostile file, every accepted
kind of art, and renditions that meet every platform's ImageSpec in PLATFORMS."""
import io
import random
import struct
import time
import tracemalloc
import zipfile
import zlib

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFile

from stickers import imaging
from stickers.imaging import Art, decode_art, inspect_art
from stickers.platforms import PACK_MAIN, PACK_TAB, PLATFORMS, ImageSpec
from stickers.problems import StickerProblem, message


# ---------------------------------------------------------------------------------------------------------
# art made in the tests


def sticker_frame(size=(200, 160), color=(220, 40, 90, 255), shift=0) -> Image.Image:
    """A blob in the middle of a transparent canvas: the shape of real sticker art."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    width, height = size
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 5 + shift, height // 5, width * 4 // 5 + shift, height * 4 // 5), fill=color,
                 outline=(30, 20, 40, 255), width=max(1, width // 40))
    return image


def animation(size=(200, 160), count=4) -> list[Image.Image]:
    colors = [(220, 40, 90, 255), (40, 160, 220, 255), (250, 200, 40, 255), (90, 200, 90, 255)]
    return [sticker_frame(size, colors[i % len(colors)], shift=i * 3) for i in range(count)]


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def encode_animation(frames, fmt: str, **options) -> bytes:
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=80, loop=0, **options)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def with_actl(png: bytes, frames: int) -> bytes:
    """A real PNG whose animation-control chunk claims `frames` frames (a cheap animated bomb)."""
    return png[:33] + png_chunk(b"acTL", struct.pack(">II", frames, 0)) + png[33:]


def problem(excinfo) -> tuple[str, dict]:
    """The refusal's code and params, after checking stickers.problems words it with exactly those params."""
    code, params = excinfo.value.code, excinfo.value.params
    worded = message(code, params)
    assert worded != code and "%(" not in worded
    return code, params


def refused(filename: str, data: bytes) -> tuple[str, dict]:
    with pytest.raises(StickerProblem) as excinfo:
        inspect_art(filename, data)
    return problem(excinfo)


def zip_refused(data: bytes) -> tuple[str, dict]:
    with pytest.raises(StickerProblem) as excinfo:
        imaging.unpack_zip(data)
    return problem(excinfo)


def zip_of(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return out.getvalue()


def zip_of_zeros(name: str, megabytes: int, declared: int | None = None) -> bytes:
    """A real zip bomb built in milliseconds: one member of `megabytes` MB of zeros, deflated.

    The deflate stream is one fully flushed 1 MB block repeated; `declared` lies about the unpacked size.
    """
    block = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = piece * megabytes + compressor.flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    size = megabytes << 20 if declared is None else declared
    raw_name = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 33, crc, len(body), size, len(raw_name), 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 33, crc, len(body), size,
                          len(raw_name), 0, 0, 0, 0, 0o644 << 16, 0)
    head = local + raw_name + body
    directory = central + raw_name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), len(head), 0)
    return head + directory + end


STICKER_PNG = encode(sticker_frame())


# ---------------------------------------------------------------------------------------------------------
# inspect_art: accepted art


def test_a_static_png_with_a_transparent_background_is_accepted():
    info = inspect_art("cat.png", STICKER_PNG)
    assert info == imaging.ArtInfo("PNG", 200, 160, 1)
    assert not info.animated


def test_a_webp_with_alpha_is_accepted():
    info = inspect_art("cat.webp", encode(sticker_frame(), "WEBP", quality=90))
    assert (info.format, info.width, info.height, info.animated) == ("WEBP", 200, 160, False)


def test_an_animated_gif_with_palette_transparency_is_accepted():
    data = encode_animation(animation(), "GIF", disposal=2)
    assert Image.open(io.BytesIO(data)).mode == "P"
    info = inspect_art("wave.gif", data)
    assert (info.format, info.frame_count, info.animated) == ("GIF", 4, True)


def test_an_apng_is_accepted_under_either_extension():
    data = encode_animation(animation(count=3), "PNG")
    assert inspect_art("wave.apng", data) == imaging.ArtInfo("APNG", 200, 160, 3)
    assert inspect_art("wave.png", data).format == "APNG"


def test_an_apng_default_image_outside_the_animation_is_not_a_frame():
    still, *frames = animation(count=4)
    data = encode(still, "PNG", save_all=True, append_images=frames, default_image=True, duration=60)
    assert Image.open(io.BytesIO(data)).n_frames == 4
    assert inspect_art("wave.png", data).frame_count == 3
    art = decode_art(data)
    assert len(art.frames) == 3 and art.durations == [60, 60, 60]
    assert art.frames[0].tobytes() == frames[0].tobytes()


def test_an_animated_webp_is_accepted():
    info = inspect_art("wave.webp", encode_animation(animation(count=5), "WEBP"))
    assert (info.format, info.frame_count) == ("WEBP", 5)


def test_a_file_without_a_known_extension_is_judged_by_its_bytes():
    assert inspect_art("sticker", STICKER_PNG).format == "PNG"
    assert inspect_art("", encode(sticker_frame(), "GIF")).format == "GIF"


def test_art_touching_the_border_on_less_than_half_of_it_is_accepted():
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((0, 0, 99, 40), fill=(10, 200, 10, 255))  # top row and part of the sides
    assert inspect_art("banner.png", encode(image)).width == 100


# ---------------------------------------------------------------------------------------------------------
# inspect_art: hostile and wrong files


def test_a_zero_byte_file_is_empty():
    assert refused("empty.png", b"") == ("empty", {})


def test_a_file_over_the_size_limit_is_refused_before_parsing():
    data = STICKER_PNG + bytes(imaging.MAX_FILE_BYTES)
    assert refused("huge.png", data) == ("file_too_big", {"size": len(data), "limit": imaging.MAX_FILE_BYTES})


def test_a_pixel_bomb_is_refused_from_its_header_before_any_decoding():
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 6, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(bytes(1 << 20), 9)) + png_chunk(b"IEND", b""))
    assert refused("bomb.png", bomb) == (
        "too_many_pixels", {"width": 20000, "height": 20000, "limit_pixels": imaging.MAX_FRAME_PIXELS})


def test_gif_and_webp_pixel_bombs_are_refused_from_their_headers():
    gif = b"GIF89a" + struct.pack("<HHBBB", 60000, 60000, 0, 0, 0) + b";"
    assert refused("bomb.gif", gif)[0] == "too_many_pixels"
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (16000 - 1).to_bytes(3, "little") * 2
    webp = b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x
    assert refused("bomb.webp", webp) == (
        "too_many_pixels", {"width": 16000, "height": 16000, "limit_pixels": imaging.MAX_FRAME_PIXELS})


def test_a_gif_frame_that_grows_the_canvas_past_the_limit_is_refused():
    screen = b"GIF89a" + struct.pack("<HHBBB", 64, 64, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, 5000, 5000, 0) + b"\x02\x02\x4c\x01\x00"
    assert refused("grow.gif", screen + frame + b";") == (
        "too_many_pixels", {"width": 5000, "height": 5000, "limit_pixels": imaging.MAX_FRAME_PIXELS})


def test_a_side_longer_than_the_limit_is_refused():
    image = Image.new("RGBA", (imaging.MAX_SIDE + 1, 64), (0, 0, 0, 0))
    assert refused("long.png", encode(image))[0] == "too_many_pixels"


def test_too_many_frames_are_refused_from_the_animation_header():
    small = encode(sticker_frame((64, 64)))
    assert refused("long.apng", with_actl(small, 301)) == ("too_many_frames", {"frames": 301, "limit_frames": 300})


def test_an_animated_bomb_is_refused_by_its_total_pixels():
    big = encode(sticker_frame((1024, 1024)))
    code, params = refused("heavy.apng", with_actl(big, 200))
    assert code == "too_many_frames"
    assert params == {"frames": 200, "limit_frames": imaging.MAX_TOTAL_PIXELS // (1024 * 1024)}


def test_a_truncated_png_is_refused_even_when_pillow_is_told_to_pad_cut_images(monkeypatch):
    noise = Image.frombytes("RGBA", (128, 128), random.Random(3).randbytes(128 * 128 * 4))
    noise.putalpha(0)
    data = encode(noise)
    assert refused("cut.png", data[: len(data) // 2]) == ("truncated", {})
    assert refused("cut.png", data[:-12]) == ("truncated", {})  # only IEND missing
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert refused("cut.png", data[: len(data) // 2]) == ("truncated", {})


def test_truncated_gif_and_webp_are_refused():
    gif = encode_animation(animation(), "GIF")
    assert refused("cut.gif", gif[: len(gif) * 2 // 3]) == ("truncated", {})
    webp = encode(sticker_frame(), "WEBP")
    assert refused("cut.webp", webp[: len(webp) // 2]) == ("truncated", {})


def test_html_renamed_to_png_is_not_an_image():
    html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    assert refused("cat.png", html) == ("not_image", {})


def test_random_bytes_are_not_an_image():
    assert refused("noise.png", random.Random(1).randbytes(4096)) == ("not_image", {})


def test_an_svg_is_refused_by_name_and_by_its_bytes():
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"></svg>'
    assert refused("logo.svg", svg) == ("format_not_allowed", {"format": "SVG"})
    assert refused("logo.png", svg) == ("format_not_allowed", {"format": "SVG"})
    assert refused("logo", svg) == ("format_not_allowed", {"format": "SVG"})


def test_a_jpeg_is_refused_by_name_and_by_its_bytes():
    jpeg = encode(Image.new("RGB", (100, 100), (200, 10, 10)), "JPEG")
    assert refused("photo.jpg", jpeg) == ("format_not_allowed", {"format": "JPEG"})
    assert refused("photo.png", jpeg) == ("format_not_allowed", {"format": "JPEG"})
    assert refused("photo", jpeg) == ("format_not_allowed", {"format": "JPEG"})


def test_a_bmp_is_refused():
    bmp = encode(Image.new("RGB", (100, 100)), "BMP")
    assert refused("old.bmp", bmp) == ("format_not_allowed", {"format": "BMP"})
    assert refused("old.gif", bmp) == ("format_not_allowed", {"format": "BMP"})


def test_a_gif_named_png_is_a_type_mismatch():
    gif = encode(sticker_frame(), "GIF")
    assert refused("cat.png", gif) == ("type_mismatch", {"claimed": "PNG", "actual": "GIF"})
    png = STICKER_PNG
    assert refused("cat.webp", png) == ("type_mismatch", {"claimed": "WebP", "actual": "PNG"})


def test_an_opaque_image_is_refused():
    opaque = encode(Image.new("RGB", (128, 128), (255, 255, 255)))
    assert refused("photo.png", opaque) == ("not_transparent", {})


def test_an_rgba_image_filled_edge_to_edge_is_refused():
    filled = sticker_frame()
    filled = Image.alpha_composite(Image.new("RGBA", filled.size, (255, 255, 255, 255)), filled)
    assert refused("filled.png", encode(filled)) == ("not_transparent", {})
    assert refused("filled.webp", encode(filled, "WEBP")) == ("not_transparent", {})


def test_a_too_small_image_is_refused():
    assert refused("tiny.png", encode(sticker_frame((32, 100)))) == (
        "too_small", {"width": 32, "height": 100, "minimum": imaging.MIN_SIDE})


# ---------------------------------------------------------------------------------------------------------
# zips


def test_is_zip_by_magic_bytes_or_name():
    assert imaging.is_zip("stickers.bin", zip_of([("a.png", STICKER_PNG)]))
    assert imaging.is_zip("stickers.ZIP", b"garbage")
    assert not imaging.is_zip("cat.png", STICKER_PNG)


def test_a_zip_unpacks_to_its_images_naturally_sorted_by_base_name_without_junk():
    data = zip_of([
        ("pack/10.png", STICKER_PNG), ("pack/2.png", b"two"), ("pack/1.webp", b"one"),
        ("pack/", b""), ("__MACOSX/pack/._2.png", b"junk"), ("pack/.DS_Store", b"junk"),
        ("pack/Thumbs.db", b"junk"), (".hidden/3.png", b"junk"), ("pack/notes.txt", b"hello"),
    ])
    files = imaging.unpack_zip(data)
    assert [name for name, _ in files] == ["1.webp", "2.png", "10.png", "notes.txt"]
    assert dict(files)["10.png"] == STICKER_PNG
    assert refused("notes.txt", dict(files)["notes.txt"]) == ("not_image", {})


@pytest.mark.parametrize("member", ["../evil.png", "pack/../../evil.png", "/etc/evil.png", "C:/evil.png",
                                    "pack\\..\\evil.png"])
def test_a_zip_slip_refuses_the_whole_zip(member):
    data = zip_of([("ok.png", STICKER_PNG), (member, STICKER_PNG)])
    assert zip_refused(data) == ("unsafe_path", {"member": member})


def test_a_one_gigabyte_zip_bomb_is_refused_quickly_with_little_memory():
    bomb = zip_of_zeros("zeros.png", 1024)
    assert len(bomb) < 2 << 20
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(StickerProblem) as excinfo:
            imaging.unpack_zip(bomb)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problem(excinfo) == ("zip_too_big", {"limit": imaging.MAX_ZIP_UNPACKED})
    assert elapsed < 1
    assert peak < 16 << 20


def test_a_zip_bomb_that_lies_about_its_size_is_refused():
    bomb = zip_of_zeros("zeros.png", 200, declared=1000)
    assert zip_refused(bomb) == ("zip_unreadable", {})  # reading stops at the declared size; the CRC fails


def test_many_members_whose_sizes_add_up_past_the_limit_are_refused():
    members = [(f"{i}.png", bytes(5 << 20)) for i in range(31)]
    assert zip_refused(zip_of(members)) == ("zip_too_big", {"limit": imaging.MAX_ZIP_UNPACKED})


def test_reading_a_member_stops_at_the_unpacked_budget():
    archive = zipfile.ZipFile(io.BytesIO(zip_of([("a.png", bytes(4096))])))
    with pytest.raises(StickerProblem) as excinfo:
        imaging._read_member(archive, archive.infolist()[0], budget=1000)
    assert excinfo.value.code == "zip_too_big"


def test_a_zip_with_too_many_files_is_refused():
    data = zip_of([(f"{i}.png", b"x") for i in range(imaging.MAX_ZIP_MEMBERS + 1)])
    assert zip_refused(data) == ("zip_too_many_files", {"limit_files": imaging.MAX_ZIP_MEMBERS})


def test_a_zip_upload_over_the_size_limit_is_refused():
    data = b"PK\x03\x04" + bytes(imaging.MAX_ZIP_BYTES)
    assert zip_refused(data) == ("file_too_big", {"size": len(data), "limit": imaging.MAX_ZIP_BYTES})


def test_damaged_encrypted_and_junk_only_zips_are_refused():
    def code_of(data):
        return zip_refused(data)[0]

    assert code_of(b"PK\x03\x04 not really a zip") == "zip_unreadable"
    stored = zip_of([("a.png", STICKER_PNG)], zipfile.ZIP_STORED)
    at = stored.index(STICKER_PNG) + 100
    assert code_of(stored[:at] + bytes([stored[at] ^ 0xFF]) + stored[at + 1:]) == "zip_unreadable"  # bad CRC
    directory = stored.index(b"PK\x01\x02")
    encrypted = bytearray(stored)
    encrypted[directory + 8] |= 0x1
    assert code_of(bytes(encrypted)) == "zip_unreadable"
    assert code_of(zip_of([("__MACOSX/._a.png", b"x"), (".DS_Store", b"x"), ("pack/", b"")])) == "zip_empty"
    assert code_of(zip_of([])) == "zip_empty"


def test_build_zip_is_deterministic_and_readable():
    entries = [("b.png", STICKER_PNG), ("a.webp", b"webp"), ("meta.json", b'{"name": "pack"}' * 20)]
    first, second = imaging.build_zip(entries), imaging.build_zip(list(entries))
    assert first == second
    archive = zipfile.ZipFile(io.BytesIO(first))
    assert archive.testzip() is None
    assert [(info.filename, info.date_time) for info in archive.infolist()] == [
        ("b.png", (1980, 1, 1, 0, 0, 0)), ("a.webp", (1980, 1, 1, 0, 0, 0)), ("meta.json", (1980, 1, 1, 0, 0, 0))]
    assert [info.compress_type for info in archive.infolist()] == [
        zipfile.ZIP_STORED, zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]
    assert {name: archive.read(name) for name, _ in entries} == dict(entries)


# ---------------------------------------------------------------------------------------------------------
# decoding and derivatives


def test_decode_art_composites_every_frame_to_rgba_with_durations():
    gif = encode(animation()[0], "GIF", save_all=True, append_images=animation()[1:], duration=[0, 50, 120, 80],
                 disposal=2)
    art = decode_art(gif)
    assert len(art.frames) == 4 and art.animated
    assert all(frame.mode == "RGBA" and frame.size == (200, 160) for frame in art.frames)
    assert art.durations == [100, 50, 120, 80]
    assert art.frames[0].getpixel((0, 0))[3] == 0 and art.frames[0].getpixel((100, 80))[3] == 255
    for data in (encode_animation(animation(), "PNG"), encode_animation(animation(), "WEBP")):
        art = decode_art(data)
        assert (len(art.frames), art.width, art.height, art.durations) == (4, 200, 160, [80] * 4)


def test_decode_art_refuses_what_inspect_art_refuses():
    with pytest.raises(StickerProblem) as excinfo:
        decode_art(STICKER_PNG[: len(STICKER_PNG) // 2])
    assert excinfo.value.code == "truncated"


def test_the_master_is_png_when_still_and_animated_webp_when_animated():
    data, extension = imaging.encode_master(decode_art(STICKER_PNG))
    image = Image.open(io.BytesIO(data))
    assert (extension, image.format, image.size, image.mode) == ("png", "PNG", (200, 160), "RGBA")
    data, extension = imaging.encode_master(decode_art(encode_animation(animation(), "GIF")))
    image = Image.open(io.BytesIO(data))
    assert (extension, image.format, image.n_frames) == ("webp", "WEBP", 4)


def test_the_thumbnail_is_a_still_webp_that_fits():
    art = decode_art(encode_animation(animation((400, 300)), "PNG"))
    image = Image.open(io.BytesIO(imaging.render_thumb(art)))
    assert (image.format, image.size, getattr(image, "n_frames", 1)) == ("WEBP", (160, 120), 1)


def test_the_preview_carries_a_visible_watermark_everywhere():
    art = decode_art(encode(sticker_frame((640, 480))))
    preview = Image.open(io.BytesIO(imaging.render_preview(art))).convert("RGBA")
    plain = Image.open(io.BytesIO(imaging.render_thumb(art, side=320))).convert("RGBA")
    assert preview.size == plain.size == (320, 240)
    red, green, blue, alpha = ImageChops.difference(preview, plain).split()
    largest = ImageChops.lighter(ImageChops.lighter(red, green), ImageChops.lighter(blue, alpha))
    changed = sum(largest.histogram()[41:])
    assert changed > preview.width * preview.height // 10
    # the watermark covers the transparent background too, so cropping to the art keeps it
    for box in [(0, 0, 64, 48), (256, 192, 320, 240), (100, 80, 220, 160)]:
        region = preview.crop(box).getchannel("A")
        assert region.getextrema()[1] > 60, box
    assert imaging.render_preview(art) == imaging.render_preview(decode_art(encode(sticker_frame((640, 480)))))


# ---------------------------------------------------------------------------------------------------------
# render(): every spec of every platform


def _specs(animated: bool):
    """Every ImageSpec in the platform table (so a new platform is covered), plus the pack's own images."""
    for code, rule in PLATFORMS.items():
        for role, spec in (("sticker", rule.sticker_spec(animated)), ("main", rule.main), ("tab", rule.tab)):
            if spec is not None:
                yield pytest.param(spec, id=f"{code}-{role}")
    yield pytest.param(PACK_MAIN, id="pack-main")
    yield pytest.param(PACK_TAB, id="pack-tab")


def _check_rendition(data: bytes, spec: ImageSpec, art: Art) -> Image.Image:
    assert len(data) <= spec.max_bytes
    image = Image.open(io.BytesIO(data), formats=["PNG", "WEBP"])
    assert image.format == ("PNG" if spec.format == "APNG" else spec.format)
    frames = getattr(image, "n_frames", 1)
    if spec.format == "PNG" or not art.animated:
        assert frames == 1
    else:
        assert frames > 1
    width, height = image.size
    if spec.fit == "exact":
        assert image.size == (spec.width, spec.height)
    elif spec.fit == "within":
        assert width <= spec.width and height <= spec.height
        assert width >= spec.width - 1 or height >= spec.height - 1  # touches the box (less an odd pixel)
    else:
        assert max(width, height) == max(spec.width, spec.height)
    if spec.even:
        assert width % 2 == 0 and height % 2 == 0
    rgba = image.convert("RGBA")
    assert rgba.getpixel((0, 0))[3] == 0
    if spec.margin:
        left, top, right, bottom = rgba.getchannel("A").getbbox()
        assert left >= spec.margin and top >= spec.margin
        assert right <= width - spec.margin and bottom <= height - spec.margin
    return image


@pytest.mark.parametrize("spec", list(_specs(animated=False)))
@pytest.mark.parametrize("size", [(600, 400), (300, 700)], ids=["landscape", "portrait"])
def test_still_art_meets_every_platform_spec(spec, size):
    art = decode_art(encode(sticker_frame(size)))
    _check_rendition(imaging.render(art, spec), spec, art)


@pytest.mark.parametrize("spec", list(_specs(animated=True)))
def test_animated_art_meets_every_platform_spec(spec):
    art = decode_art(encode_animation(animation((300, 240), count=6), "GIF"))
    _check_rendition(imaging.render(art, spec), spec, art)


def test_line_stickers_have_even_sides_and_the_margin():
    spec = PLATFORMS["line"].sticker
    art = decode_art(encode(sticker_frame((333, 333))))
    image = Image.open(io.BytesIO(imaging.render(art, spec)))
    assert image.size == (320, 320)  # 300x300 art + 10 px each side, within 370x320
    art = decode_art(encode(sticker_frame((701, 203))))
    image = Image.open(io.BytesIO(imaging.render(art, spec)))
    assert image.size[0] == 370 and image.size[1] % 2 == 0


def test_whatsapp_stickers_are_exactly_512_square_and_telegram_ones_have_one_side_of_512():
    for size in [(900, 300), (300, 900)]:
        art = decode_art(encode(sticker_frame(size)))
        whatsapp = Image.open(io.BytesIO(imaging.render(art, PLATFORMS["whatsapp"].sticker)))
        assert whatsapp.size == (512, 512)
        telegram = Image.open(io.BytesIO(imaging.render(art, PLATFORMS["telegram"].sticker)))
        assert telegram.size == ((512, 171) if size[0] > size[1] else (171, 512))


def test_small_art_is_scaled_up_to_the_platform_size():
    art = decode_art(encode(sticker_frame((64, 64))))
    image = Image.open(io.BytesIO(imaging.render(art, PLATFORMS["telegram"].sticker)))
    assert image.size == (512, 512)


def test_an_animated_line_sticker_is_an_apng_with_the_durations():
    art = decode_art(encode_animation(animation(count=4), "GIF"))
    image = Image.open(io.BytesIO(imaging.render(art, PLATFORMS["line"].animated_sticker)))
    assert image.format == "PNG" and image.n_frames == 4
    image.seek(2)
    assert image.info["duration"] == 80


def test_art_that_cannot_get_under_a_tiny_limit_is_too_heavy():
    noise = Image.frombytes("RGBA", (128, 128), random.Random(5).randbytes(128 * 128 * 4))
    art = Art([noise], [100])
    for fmt in ("WEBP", "PNG"):
        with pytest.raises(StickerProblem) as excinfo:
            imaging.render(art, ImageSpec(fmt, 128, 128, "exact", 3000))
        assert (excinfo.value.code, excinfo.value.params) == ("too_heavy", {"limit": 3000})  # caller adds where
    animated = Art([noise, noise.transpose(Image.Transpose.ROTATE_90)] * 2, [100] * 4)
    for fmt in ("WEBP", "APNG"):
        with pytest.raises(StickerProblem) as excinfo:
            imaging.render(animated, ImageSpec(fmt, 96, 96, "exact", 3000))
        assert (excinfo.value.code, excinfo.value.params) == ("too_heavy", {"limit": 3000})  # caller adds where


def test_heavy_art_is_made_lighter_before_giving_up():
    noise = Image.frombytes("RGBA", (256, 256), random.Random(6).randbytes(256 * 256 * 4))
    art = Art([noise], [100])
    full = imaging.render(art, ImageSpec("PNG", 256, 256, "exact", 10 << 20))
    lighter = imaging.render(art, ImageSpec("PNG", 256, 256, "exact", len(full) - 1))
    assert len(lighter) < len(full)
    assert Image.open(io.BytesIO(lighter)).mode == "P"  # quantized, transparency kept



def test_an_animation_too_heavy_at_every_quality_drops_every_other_frame():
    frames = animation((256, 256), count=8)
    animated = Art(frames, [50] * 8)
    lightest_with_every_frame = len(imaging._webp(frames, [50] * 8, *imaging._WEBP_RUNGS[-1]))
    data = imaging.render(animated, ImageSpec("WEBP", 256, 256, "exact", lightest_with_every_frame - 1))
    image = Image.open(io.BytesIO(data))
    assert image.n_frames < 8
    total = 0
    for index in range(image.n_frames):
        image.seek(index)
        image.load()
        total += image.info["duration"]
    assert total == 400


def test_renditions_are_byte_identical_run_after_run():
    for source in (encode(sticker_frame((500, 400))), encode_animation(animation(), "GIF")):
        runs = []
        for _ in range(2):
            art = decode_art(source)
            outputs = [imaging.encode_master(art)[0], imaging.render_thumb(art), imaging.render_preview(art)]
            for rule in PLATFORMS.values():
                for spec in (rule.sticker_spec(art.animated), rule.main, rule.tab):
                    if spec is not None:
                        outputs.append(imaging.render(art, spec))
            runs.append(outputs)
        assert runs[0] == runs[1]
