"""The sticker pack API: upload art, manage stickers, read the processing report."""
from __future__ import annotations

from apiflask import APIBlueprint

from app.extensions import csrf

bp = APIBlueprint(
    "stickers_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Sticker packs", "description": "Sticker art, its processing and the platform exports."},
)
csrf.exempt(bp)  # the API authenticates with bearer tokens, never with the session cookie
