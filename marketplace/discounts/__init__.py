"""Discounts: streamers' coupon codes for their listings, and the pricing rule checkout applies them with."""
from __future__ import annotations


def init_app(app) -> None:
    from marketplace.discounts import api, models, views  # noqa: F401  (models: the tables must be known to create_all and Alembic)

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
