"""Packaged courses."""
from flask_babel import lazy_gettext as _l

from marketplace import downloads, kinds

COURSE = kinds.ProductKind(
    code="course",
    label=_l("Course"),
    blurb=_l("Lessons packaged by streamers who have done it"),
    fulfil=downloads.grant_for_line,
    fulfil_lines=downloads.GRANT_FOR_LINES,
    revoke=downloads.revoke_for_line,
)


def init_app(app) -> None:
    kinds.register(COURSE)
