"""Co-branded merchandise."""
from flask_babel import lazy_gettext as _l

from marketplace import kinds

MERCH = kinds.ProductKind(
    code="merch",
    label=_l("Merch"),
    blurb=_l("Physical goods, often co-branded with a brand"),
    is_physical=True,
)


def init_app(app) -> None:
    from marketplace.merch import models  # noqa: F401  (tables)

    kinds.register(MERCH)
