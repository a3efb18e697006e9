"""Packaged courses."""
from flask_babel import lazy_gettext as _l

from marketplace import kinds

COURSE = kinds.ProductKind(
    code="course",
    label=_l("Course"),
    blurb=_l("Lessons packaged by streamers who have done it"),
)


def init_app(app) -> None:
    kinds.register(COURSE)
