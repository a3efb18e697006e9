"""Small field checks shared by the forms, the API and the services."""
from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from app.images import ImageRejected

from app.errors import Errors

HANDLE_PATTERN = re.compile(r"^[a-z0-9_]{3,30}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_HANDLES = {"admin", "api", "encore", "operator", "support", "static", "media", "settings"}


def clean_text(value, errors: Errors, field: str, *, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, _("Must be text."))
        return ""
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        errors.add(field, _("This field is required."))
    elif len(value) > max_length:
        errors.add(field, _("Must be at most %(max)d characters.", max=max_length))
    return value


def clean_email(value, errors: Errors, field: str = "email") -> str:
    if not isinstance(value, str) or not value.strip():
        errors.add(field, _("This field is required."))
        return ""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        errors.add(field, _("Enter a valid email address."))
        return ""
    return result.normalized.lower()


def clean_handle(value, errors: Errors, field: str = "handle") -> str:
    handle = (value or "").strip().lstrip("@").lower() if isinstance(value, str) else ""
    if not HANDLE_PATTERN.match(handle):
        errors.add(field, _("Use 3 to 30 lower-case letters, digits or underscores."))
    elif handle in RESERVED_HANDLES:
        errors.add(field, _("This handle is reserved."))
    return handle


def slugify(text: str, max_length: int = 60) -> str:
    """An ASCII slug from a title; empty for titles with no Latin letters or digits (e.g. Chinese)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def image_error(exc: ImageRejected) -> str:
    messages = {
        "empty": _("The file is empty."),
        "format": _("Upload a PNG, JPEG, WebP or GIF image."),
        "too_large": _("The image is too large to process."),
    }
    return messages.get(exc.reason, _("The file is not an image we can read."))
