"""Image intake: every upload is decoded, checked and re-encoded by Pillow before it is stored."""
from __future__ import annotations

import functools
import hashlib
import io
import random
import warnings
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

#: the largest image we decode, in pixels; more is refused as a likely decompression bomb
MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}


class ImageRejected(ValueError):
    """Raised with a reason code: empty, format, too_large or unreadable."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    width: int
    height: int
    extension: str = "webp"
    content_type: str = "image/webp"


def load_image(data: bytes) -> Image.Image:
    """Decode an upload, refusing non-images, unknown formats and decompression bombs."""
    if not data:
        raise ImageRejected("empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ImageRejected("format")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageRejected("too_large")
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("too_large")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRejected("unreadable")
    return ImageOps.exif_transpose(image)


def _encode(image: Image.Image, max_side: int) -> EncodedImage:
    image = image.copy()
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
    image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=85, method=4)  # re-encoding drops metadata and payloads
    return EncodedImage(out.getvalue(), image.width, image.height)


def cover_renditions(data: bytes, *, full_side: int = 1600, thumb_side: int = 480) -> tuple[EncodedImage, EncodedImage]:
    """A listing cover and its thumbnail."""
    image = load_image(data)
    return _encode(image, full_side), _encode(image, thumb_side)


def avatar_rendition(data: bytes, *, side: int = 256) -> EncodedImage:
    """A square avatar, centre-cropped."""
    image = load_image(data)
    square = ImageOps.fit(image.convert("RGBA"), (side, side), Image.Resampling.LANCZOS)
    return _encode(square, side)


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    vertical = Image.linear_gradient("L")
    mask = ImageChops.add(vertical, vertical.transpose(Image.Transpose.ROTATE_90), scale=2).resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def placeholder_cover_png(seed: str, label: str, text: str, colors, size: tuple[int, int] = (800, 800)) -> bytes:
    """Generated cover art (demo data): a diagonal gradient, translucent shapes, a label and a title."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    top, bottom = colors
    image = _gradient(size, top, bottom).convert("RGBA")
    shapes = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    width, height = size
    for _ in range(7):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(40, 220)
        fill = (255, 255, 255, rng.randrange(25, 80))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        else:
            draw.rounded_rectangle((x - r, y - r // 2, x + r, y + r // 2), radius=r // 4, fill=fill)
    image = Image.alpha_composite(image, shapes)
    draw = ImageDraw.Draw(image)
    label_font = ImageFont.load_default(size=34)
    title_font = ImageFont.load_default(size=48)
    box = draw.textbbox((48, 48), label, font=label_font)
    draw.rounded_rectangle((box[0] - 16, box[1] - 12, box[2] + 16, box[3] + 12), radius=14, fill=(0, 0, 0, 150))
    draw.text((48, 48), label, font=label_font, fill=(255, 255, 255, 255))
    lines = _wrap(draw, text, title_font, width - 96)
    draw.multiline_text((48, height - 64 - 58 * len(lines)), "\n".join(lines), font=title_font, fill=(255, 255, 255, 255), spacing=10)
    return _png(image.convert("RGB"))


def placeholder_avatar_png(initial: str, colors, size: int = 512) -> bytes:
    """Generated avatar art (demo data): a gradient disc with an initial."""
    image = _gradient((size, size), *colors)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size - 1, size - 1), fill=255)
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    out.paste(image, (0, 0), mask)
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=size // 2)
    draw.text((size / 2, size / 2), initial.upper(), font=font, fill=(255, 255, 255, 255), anchor="mm")
    return _png(out)


def placeholder_sticker_png(seed: str, label: str, colors, size: int = 512) -> bytes:
    """Generated sticker art (demo data): a rounded blob with a face and a word, on a transparent background."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    inset = size // 10
    wobble = rng.randrange(size // 40, size // 12)
    body = (inset + wobble, inset, size - inset, size - inset - wobble)
    fill = colors[rng.randrange(len(colors))]
    draw.rounded_rectangle(body, radius=size // 4, fill=fill + (255,), outline=(40, 30, 50, 255), width=size // 48)
    eye_y = size * 2 // 5
    for eye_x in (size * 2 // 5, size * 3 // 5):
        r = size // 22
        draw.ellipse((eye_x - r, eye_y - r, eye_x + r, eye_y + r), fill=(40, 30, 50, 255))
    mouth = (size * 2 // 5, size // 2, size * 3 // 5, size * 3 // 5)
    draw.arc(mouth, start=10, end=170, fill=(40, 30, 50, 255), width=size // 40)
    font = ImageFont.load_default(size=size // 8)
    draw.text((size / 2, size * 3 // 4), label, font=font, fill=(255, 255, 255, 255), anchor="mm",
              stroke_width=size // 64, stroke_fill=(40, 30, 50, 255))
    return _png(image)


def _wrap(draw, text: str, font, max_width: int, max_lines: int = 3) -> list[str]:
    """Break text into lines that fit max_width pixels in this font."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and draw.textlength(candidate, font=font) > max_width:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    return lines[:max_lines]
