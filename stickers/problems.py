"""Why a file, a sticker or a platform export was refused: stable codes with parameters, worded on demand.

Problems are stored as `{"code": ..., "params": {...}}` so a page shows them in its reader's language.
"""
from __future__ import annotations

from flask_babel import gettext as _

from stickers.platforms import describe_counts


class StickerProblem(ValueError):
    """Raised by imaging and the pack services; `file` names the upload it concerns, if any."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params

    def as_dict(self) -> dict:
        return {"code": self.code, "params": dict(self.params)}


def _kb(n) -> str:
    return f"{int(n) // 1024} KB" if int(n) < 1024 * 1024 else f"{int(n) / (1024 * 1024):.0f} MB"


def message(code: str, params: dict) -> str:
    """The problem in words, in the current locale."""
    p = dict(params)
    for name in ("limit", "size"):
        if name in p:
            p[name] = _kb(p[name])
    if isinstance(p.get("allowed"), dict):
        p["allowed"] = describe_counts(range(p["allowed"]["min"], p["allowed"]["max"] + 1))
    elif isinstance(p.get("allowed"), list):
        p["allowed"] = describe_counts(tuple(p["allowed"]))
    if "image" in p:
        p["image"] = {"main": _("main"), "tab": _("tab")}.get(p["image"], p["image"])
    messages = {
        # one uploaded file
        "empty": lambda: _("The file is empty."),
        "file_too_big": lambda: _("The file is %(size)s; the limit is %(limit)s.", **p),
        "not_image": lambda: _("This is not an image Encore can read."),
        "format_not_allowed": lambda: _("%(format)s files are not accepted: upload PNG, WebP, GIF or APNG.", **p),
        "type_mismatch": lambda: _("The file is named like a %(claimed)s image but its bytes are %(actual)s.", **p),
        "truncated": lambda: _("The image is damaged or cut short."),
        "too_many_pixels": lambda: _("The image is %(width)s×%(height)s pixels; the limit is %(limit_pixels)s pixels (a likely decompression bomb).", **p),
        "too_small": lambda: _("The image is %(width)s×%(height)s pixels; each side must be at least %(minimum)s.", **p),
        "too_many_frames": lambda: _("The animation has %(frames)s frames; the limit is %(limit_frames)s.", **p),
        "not_transparent": lambda: _("The background is not transparent: stickers need a transparent background (PNG or WebP with alpha)."),
        "animated_in_static_pack": lambda: _("The file is animated but the pack is static: upload a still image or make the pack animated."),
        "still_in_animated_pack": lambda: _("The pack is animated but the file is a still image: upload an animated GIF, APNG or WebP."),
        "unsafe_path": lambda: _("The zip holds a file outside its own folder (%(member)s); the whole zip was refused.", **p),
        "zip_too_big": lambda: _("The zip unpacks to more than %(limit)s; the whole zip was refused.", **p),
        "zip_too_many_files": lambda: _("The zip holds more than %(limit_files)s files; the whole zip was refused.", **p),
        "zip_unreadable": lambda: _("The zip is damaged or not a zip file."),
        "zip_empty": lambda: _("The zip holds no PNG, WebP or GIF files."),
        "pack_full": lambda: _("The pack already has %(limit_stickers)s stickers, the most a pack can hold.", **p),
        "no_file": lambda: _("Choose at least one file."),
        # processing a stored sticker
        "source_missing": lambda: _("The uploaded file is no longer in storage; upload it again."),
        # one platform's export
        "too_heavy": lambda: _("%(platform)s: sticker %(position)s cannot be made smaller than %(limit)s.", **p),
        "image_too_heavy": lambda: _("%(platform)s: the %(image)s image cannot be made smaller than %(limit)s.", **p),
        "count_not_allowed": lambda: _("%(platform)s needs %(allowed)s stickers; this pack has %(count)s.", **p),
        "animation_unsupported": lambda: _("%(platform)s takes animated stickers only as video, which Encore cannot make yet; it exports static packs.", **p),
        "sticker_failed": lambda: _("%(platform)s: sticker %(position)s could not be processed.", **p),
        "zip_too_heavy": lambda: _("%(platform)s: the export is %(size)s; the limit is %(limit)s.", **p),
    }
    render = messages.get(code)
    return render() if render else code


def describe(problem: dict) -> str:
    return message(problem["code"], problem.get("params", {}))
