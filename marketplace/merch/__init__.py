"""Co-branded merchandise: variants (size, colour) with their own SKU, stock and prices; stock reserved at
checkout so it never oversells."""
from flask_babel import lazy_gettext as _l

from marketplace import kinds


def _listing_section(listing, viewer):
    from marketplace.merch.views import variants_section

    return variants_section(listing, viewer)


def _prepare_demo(listing, owner) -> None:
    from marketplace.merch.services import prepare_demo

    prepare_demo(listing, owner)


def _reserve(line) -> None:
    from marketplace.merch.services import reserve

    reserve(line)


def _release(line) -> None:
    from marketplace.merch.services import release

    release(line)


def _revoke(line) -> None:
    from marketplace.merch.services import revoke

    revoke(line)


def _allocate(line) -> bool:
    from marketplace.merch.services import allocate

    return allocate(line)


MERCH = kinds.ProductKind(
    code="merch",
    label=_l("Merch"),
    blurb=_l("Physical goods, often co-branded with a brand"),
    is_physical=True,
    # A merch listing without variants is sold as one item without stock tracking (print on demand), so
    # review does not insist on variants; services.submit_problems is what a stricter store would wire here.
    submit_checks=(),
    listing_section=_listing_section,
    manage_endpoint="merch.manage_variants",
    manage_label=_l("Variants and stock"),
    prepare_demo=_prepare_demo,
    reserve=_reserve,
    release=_release,
    allocate=_allocate,
    revoke=_revoke,
)


def init_app(app) -> None:
    from marketplace.merch import api, models, views  # noqa: F401  (models: the tables)

    kinds.register(MERCH)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    from marketplace.merch import shipping_api, shipping_views  # shipping profiles (pages and API)

    app.register_blueprint(shipping_views.bp)
    app.register_blueprint(shipping_api.bp)
    from marketplace.merch import cobranding_api, cobranding_views, fulfilment_api, fulfilment_views  # co-branding, shipping orders

    for module in (cobranding_views, cobranding_api, fulfilment_views, fulfilment_api):
        app.register_blueprint(module.bp)
