"""Royalties: split rules per listing, the double-entry ledger every sale, fee, refund and payout is posted
to, statements, payouts and the earnings dashboards.

marketplace.orders posts through `royalties.posting` inside the transaction that changes the order.
"""
from __future__ import annotations

#: the blueprints, one module each: split rules, earnings and statements, payouts
BLUEPRINT_MODULES = (
    "split_views", "split_api", "statement_views", "earnings_api", "earnings_views", "payout_views", "payout_api",
)


def init_app(app) -> None:
    import importlib

    from marketplace.catalog import services as catalog
    from marketplace.royalties import ledger, models, splits, tasks  # noqa: F401  (tables, session guards, tasks)

    catalog.register_submit_check(splits.submit_problems)
    for name in BLUEPRINT_MODULES:
        module = importlib.import_module(f"marketplace.royalties.{name}")
        app.register_blueprint(module.bp)
