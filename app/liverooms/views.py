"""The streamer's live rooms page: list, add, edit and delete the rooms where they go live."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.accounts.forms import ConfirmForm, apply_errors
from app.errors import ValidationFailed
from app.extensions import db
from app.liverooms import services
from app.liverooms.forms import LiveRoomForm

bp = Blueprint("liverooms", __name__, template_folder="templates")


def _not_a_streamer():
    """Fans have no live rooms: a 403 page that says how to become a streamer."""
    return render_template("liverooms/not_streamer.html"), 403


def _render_manage(form: LiveRoomForm, status: int = 200):
    profile = current_user.creator_profile
    return (
        render_template(
            "liverooms/manage.html",
            form=form,
            rooms=services.rooms_of(profile),
            platform_label=services.platform_label,
            max_rooms=services.MAX_ROOMS,
        ),
        status,
    )


@bp.route("/dashboard/live-rooms", methods=["GET", "POST"])
@login_required
def manage():
    if current_user.creator_profile is None:
        return _not_a_streamer()
    form = LiveRoomForm()
    if form.validate_on_submit():
        try:
            room = services.add_room(current_user, form.platform.data, form.url.data, form.title.data)
        except ValidationFailed as error:
            db.session.rollback()
            apply_errors(form, error)
        else:
            db.session.commit()
            flash(_("Live room “%(title)s” added.", title=room.title), "success")
            return redirect(url_for("liverooms.manage"))
    return _render_manage(form, 422 if form.errors else 200)


@bp.route("/dashboard/live-rooms/<int:room_id>/edit", methods=["GET", "POST"])
@login_required
def edit(room_id: int):
    if current_user.creator_profile is None:
        return _not_a_streamer()
    room = services.get_own_room(current_user, room_id)  # NotFound / PermissionDenied become 404 / 403
    form = LiveRoomForm(obj=room)
    if form.validate_on_submit():
        try:
            services.update_room(current_user, room.id, form.platform.data, form.url.data, form.title.data)
        except ValidationFailed as error:
            db.session.rollback()
            apply_errors(form, error)
        else:
            db.session.commit()
            flash(_("Live room “%(title)s” saved.", title=room.title), "success")
            return redirect(url_for("liverooms.manage"))
    return render_template("liverooms/edit.html", form=form, room=room), 422 if form.errors else 200


@bp.post("/dashboard/live-rooms/<int:room_id>/delete")
@login_required
def delete(room_id: int):
    if current_user.creator_profile is None:
        return _not_a_streamer()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    room = services.get_own_room(current_user, room_id)
    title = room.title
    services.delete_room(current_user, room.id)
    db.session.commit()
    flash(_("Live room “%(title)s” deleted.", title=title), "success")
    return redirect(url_for("liverooms.manage"))
