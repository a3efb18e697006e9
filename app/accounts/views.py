"""Account pages: register, log in, log out, the settings page with one form (and endpoint) per section,
and the operators' brand list."""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import services
from app.accounts.forms import (
    ApiTokenForm,
    AvatarForm,
    BecomeStreamerForm,
    ConfirmForm,
    CreatorProfileForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RegisterForm,
    apply_errors,
)
from app.errors import NotFound, PermissionDenied, ValidationFailed
from app.extensions import db, limiter
from app.mail import queue_welcome_email
from app.security import safe_local_path
from app.storage import get_storage

bp = Blueprint("accounts", __name__, template_folder="templates")

#: session key holding a just-created API token secret until the next settings page shows it
NEW_TOKEN_KEY = "accounts.new_api_token"
LOGIN_LIMIT = "10 per minute"


def _login_email_key() -> str:
    """The per-account login limit is keyed by the submitted email, lower-cased."""
    return (request.form.get("email") or "").strip().lower()


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("catalog.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_user(
                form.email.data, form.password.data, form.display_name.data, locale=session.get("locale")
            )
        except ValidationFailed as error:
            db.session.rollback()
            apply_errors(form, error)
        else:
            user_id = user.id
            db.session.commit()
            queue_welcome_email(user_id)
            login_user(user)
            flash(_("Welcome to Encore, %(name)s!", name=user.display_name), "success")
            return redirect(safe_local_path(request.args.get("next")) or url_for("catalog.home"))
    status = 422 if form.errors else 200
    return render_template("accounts/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"], key_func=get_remote_address, scope="login-ip")
@limiter.limit(LOGIN_LIMIT, methods=["POST"], key_func=_login_email_key, scope="login-account")
def login():
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_local_path(request.args.get("next")) or url_for("catalog.home"))
        form.next.data = safe_local_path(request.args.get("next")) or ""
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            db.session.rollback()
            form.form_errors.append(_("The email or password is not correct."))
        else:
            db.session.commit()  # an outdated password hash may have been upgraded
            login_user(user)
            flash(_("Welcome back, %(name)s.", name=user.display_name), "success")
            target = safe_local_path(form.next.data) or safe_local_path(request.args.get("next"))
            return redirect(target or url_for("catalog.home"))
    status = 422 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        logout_user()
        session.pop(NEW_TOKEN_KEY, None)
        flash(_("You have been logged out."), "info")
    return redirect(url_for("catalog.home"))


# ---------- settings ----------


def _forms(user) -> dict:
    """A fresh form for every settings section; the handler of a failed POST replaces its own."""
    forms = {
        "profile_form": ProfileForm(
            prefix="profile", formdata=None, data={"display_name": user.display_name, "locale": user.locale or ""}
        ),
        "password_form": PasswordChangeForm(prefix="password", formdata=None),
        "token_form": ApiTokenForm(prefix="token", formdata=None),
        "confirm_form": ConfirmForm(formdata=None),
    }
    profile = user.creator_profile
    if profile is None:
        forms["streamer_form"] = BecomeStreamerForm(prefix="streamer", formdata=None, data={"display_name": user.display_name})
    else:
        forms["creator_form"] = CreatorProfileForm(
            prefix="creator", formdata=None, data={"display_name": profile.display_name, "bio": profile.bio}
        )
        forms["avatar_form"] = AvatarForm(prefix="avatar", formdata=None)
    return forms


def _render_settings(status: int = 200, **bound_forms):
    user = current_user._get_current_object()
    forms = _forms(user)
    forms.update(bound_forms)
    new_token = session.pop(NEW_TOKEN_KEY, None)
    response = current_app.make_response(
        (
            render_template(
                "accounts/settings.html",
                user=user,
                profile=user.creator_profile,
                memberships=user.memberships,
                tokens=services.list_api_tokens(user),
                new_token=new_token,
                **forms,
            ),
            status,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/settings")
@login_required
def settings():
    return _render_settings()


def _save_settings_section(form, form_key: str, anchor: str, save: Callable, done: Callable[[object], None]):
    """One settings section: validate its form, call the service, commit once, then `done(result)`.

    A ValidationFailed from the service puts its messages at the form's fields and re-renders the
    whole settings page with 422, keeping what was typed.
    """
    if form.validate_on_submit():
        try:
            result = save()
        except ValidationFailed as error:
            db.session.rollback()
            apply_errors(form, error)
        else:
            db.session.commit()
            done(result)
            return redirect(url_for("accounts.settings") + anchor)
    return _render_settings(422, **{form_key: form})


@bp.post("/settings/profile")
@login_required
def settings_profile():
    def done(_result):
        if current_user.locale:
            session["locale"] = current_user.locale
        flash(_("Your profile has been saved."), "success")

    form = ProfileForm(prefix="profile")
    return _save_settings_section(
        form,
        "profile_form",
        "#profile",
        lambda: services.update_user(
            current_user, form.display_name.data, form.locale.data, tuple(current_app.config["ENCORE_LOCALES"])
        ),
        done,
    )


@bp.post("/settings/password")
@login_required
def settings_password():
    user = current_user._get_current_object()

    def done(_result):
        login_user(user)  # this session carries the new session version; the others stop working
        flash(_("Your password has been changed. Your other sessions have been signed out."), "success")

    form = PasswordChangeForm(prefix="password")
    return _save_settings_section(
        form,
        "password_form",
        "#password",
        lambda: services.change_password(user, form.current_password.data, form.new_password.data),
        done,
    )


@bp.post("/settings/streamer")
@login_required
def settings_become_streamer():
    if current_user.creator_profile is not None:
        return redirect(url_for("accounts.settings") + "#streamer")
    form = BecomeStreamerForm(prefix="streamer")
    return _save_settings_section(
        form,
        "streamer_form",
        "#streamer",
        lambda: services.become_streamer(current_user, form.handle.data, form.display_name.data, form.bio.data),
        lambda profile: flash(
            _("You are now a streamer: your storefront is @%(handle)s.", handle=profile.handle), "success"
        ),
    )


def _own_profile():
    profile = current_user.creator_profile
    if profile is None:
        abort(403, description=_("Become a streamer first."))
    return profile


@bp.post("/settings/creator")
@login_required
def settings_creator():
    profile = _own_profile()
    form = CreatorProfileForm(prefix="creator")
    return _save_settings_section(
        form,
        "creator_form",
        "#streamer",
        lambda: services.update_creator_profile(profile, form.display_name.data, form.bio.data),
        lambda _result: flash(_("Your streamer profile has been saved."), "success"),
    )


@bp.post("/settings/avatar")
@login_required
def settings_avatar():
    profile = _own_profile()
    form = AvatarForm(prefix="avatar")
    return _save_settings_section(
        form,
        "avatar_form",
        "#streamer",
        lambda: services.set_avatar(profile, form.avatar.data.read(), get_storage()),
        lambda _result: flash(_("Your avatar has been updated."), "success"),
    )


@bp.post("/settings/tokens")
@login_required
def settings_create_token():
    def done(created):
        session[NEW_TOKEN_KEY] = created[1]  # the secret: shown once by the next settings page, then dropped

    form = ApiTokenForm(prefix="token")
    return _save_settings_section(
        form, "token_form", "#tokens", lambda: services.create_api_token(current_user, form.name.data), done
    )


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def settings_revoke_token(token_id: int):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.revoke_api_token(current_user, token_id)
    except NotFound:
        db.session.rollback()
        abort(404)
    db.session.commit()
    flash(_("The token has been revoked; programs using it can no longer sign in."), "success")
    return redirect(url_for("accounts.settings") + "#tokens")


# ---------- operators: brands ----------


def _require_operator() -> None:
    if not current_user.is_operator:
        raise PermissionDenied(_("Only operators can verify brands."))


@bp.get("/operator/brands")
@login_required
def brands():
    _require_operator()
    return render_template("accounts/brands.html", brands=services.list_brands(), confirm_form=ConfirmForm(formdata=None))


@bp.post("/operator/brands/<slug>/<action>")
@login_required
def brand_action(slug: str, action: str):
    _require_operator()
    if action not in ("verify", "unverify"):
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    brand = services.find_brand(slug)
    if brand is None:
        abort(404)
    services.set_brand_verified(current_user, brand, action == "verify")
    db.session.commit()
    if brand.verified:
        flash(_("%(name)s is now verified.", name=brand.name), "success")
    else:
        flash(_("%(name)s is no longer verified.", name=brand.name), "success")
    return redirect(url_for("accounts.brands"))
