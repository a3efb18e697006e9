"""Orders: checkout, the payment states, fulfilment through each line's product kind, refunds."""
from __future__ import annotations


def init_app(app) -> None:
    from marketplace.orders import api, models, tasks, views  # noqa: F401  (models: tables; tasks: task names)

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
