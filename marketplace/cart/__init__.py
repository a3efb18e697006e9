"""The cart: signed-in fans' carts in the database, anonymous visitors' in the session, merged on sign-in."""
from __future__ import annotations

from flask import current_app, session
from flask_login import user_logged_in


def _merge_on_login(sender, user, **extra) -> None:
    """Move the anonymous session cart into the user's cart as they sign in (after the login view's commit)."""
    from app.extensions import db
    from marketplace.cart import services

    session_cart = services.SessionCart(session)
    if not session_cart.lines and session_cart.currency is None:
        return
    try:
        services.merge_session_cart(user, session_cart)
        db.session.commit()
    except Exception:  # a cart that cannot be merged must never keep a fan from signing in
        db.session.rollback()
        current_app.logger.exception("could not merge the session cart of user %s", user.id)


def init_app(app) -> None:
    from marketplace.cart import api, models, views  # noqa: F401  (models: the tables must be known to create_all and Alembic)

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.context_processor(views.cart_badge)
    user_logged_in.connect(_merge_on_login, app)
