"""Sticker packs: one upload of art, checked and processed into watermarked previews and exports for
LINE, Telegram and WhatsApp (the platform rules are one table in stickers.platforms)."""
from flask_babel import lazy_gettext as _l

from marketplace import downloads, kinds


def _submit_problems(listing) -> list[str]:
    from stickers.services import submit_problems

    return submit_problems(listing)


def _listing_section(listing, viewer):
    from stickers.views import public_pack_section

    return public_pack_section(listing, viewer)


def _export_files(listing):
    from stickers.services import export_files

    return export_files(listing)


def _prepare_demo(listing, owner) -> None:
    from stickers.demo import fill_demo_pack

    fill_demo_pack(listing, owner)


STICKER_PACK = kinds.ProductKind(
    code="sticker_pack",
    label=_l("Sticker pack"),
    blurb=_l("Emotes and stickers for chats and live rooms"),
    submit_checks=(_submit_problems,),
    listing_section=_listing_section,
    manage_endpoint="stickers.edit_pack",
    manage_label=_l("Stickers"),
    prepare_demo=_prepare_demo,
    fulfil=downloads.grant_for_line,
    fulfil_lines=downloads.GRANT_FOR_LINES,
    revoke=downloads.revoke_for_line,
    downloadable_files=_export_files,
)


def init_app(app) -> None:
    from stickers import api, models, tasks, views  # noqa: F401  (models: the tables must be known to Alembic)
    from stickers.cli import stickers_cli

    kinds.register(STICKER_PACK)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.cli.add_command(stickers_cli)
