"""Accounts: users, streamers' creator profiles, brands, API tokens; login and settings pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.extensions import db, login_manager


def init_app(app) -> None:
    from app.accounts import api, views
    from app.accounts.models import User

    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(session_id: str):
        user_id, _, version = session_id.partition(":")
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or str(user.session_version) != version or not user.is_active_account:
            return None
        return user

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
