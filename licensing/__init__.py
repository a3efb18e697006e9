"""Licensable studio setups."""
from flask_babel import lazy_gettext as _l

from marketplace import downloads, kinds

STUDIO_SETUP = kinds.ProductKind(
    code="studio_setup",
    label=_l("Studio setup"),
    blurb=_l("The look and kit of a stream room, licensed to brands"),
    fulfil=downloads.grant_for_line,
    fulfil_lines=downloads.GRANT_FOR_LINES,
    revoke=downloads.revoke_for_line,
)


def init_app(app) -> None:
    kinds.register(STUDIO_SETUP)
