"""Digital downloads: files attached to listings, entitlements from paid order lines, signed expiring links,
per-file limits, stamping with the buyer, and the library where fans find what they own.

Product packages deliver through `grant_for_line` / `revoke_for_line` (their ProductKind's fulfil and revoke
hooks); this module stays light to import because they import it while registering.
"""
from __future__ import annotations

from marketplace.kinds import FulfilLines


def grant_for_line(line) -> None:
    from marketplace.downloads.services import grant_for_line as grant

    grant(line)


def _grant_for_lines_statement():
    from marketplace.downloads.services import GRANT_FOR_LINES_STATEMENT

    return GRANT_FOR_LINES_STATEMENT


def _grant_params(line_ids: tuple[int, ...]) -> dict:
    from marketplace.downloads.services import grant_params

    return {**grant_params(), "fulfil_line_ids": list(line_ids)}


#: the digital kinds' ProductKind.fulfil_lines: grant_for_line for all the lines the fulfilment task delivers at once,
#: inside its statement moving the order to fulfilled (PostgreSQL)
GRANT_FOR_LINES = FulfilLines(_grant_for_lines_statement, _grant_params)


def revoke_for_line(line) -> None:
    from marketplace.downloads.services import revoke_for_line as revoke

    revoke(line)


def owns_listing(user, listing_id: int) -> bool:
    from marketplace.downloads.services import owns_listing as owns

    return owns(user, listing_id)


def init_app(app) -> None:
    from marketplace.downloads import api, models, views  # noqa: F401  (models: the tables must be known to Alembic)

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
