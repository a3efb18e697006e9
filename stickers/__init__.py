"""Sticker packs."""
from flask_babel import lazy_gettext as _l

from marketplace import kinds

STICKER_PACK = kinds.ProductKind(
    code="sticker_pack",
    label=_l("Sticker pack"),
    blurb=_l("Emotes and stickers for chats and live rooms"),
)


def init_app(app) -> None:
    kinds.register(STICKER_PACK)
