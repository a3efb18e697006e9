"""Image intake: every upload is decoded, checked and re-encoded by Pillow before it is stored."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

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
