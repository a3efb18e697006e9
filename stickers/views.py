"""Sticker pack pages: the streamer's sticker editor and the public pack section of a listing page."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("stickers", __name__, template_folder="templates")


def public_pack_section(listing, viewer):
    return None
