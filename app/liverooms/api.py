"""Live rooms API: a streamer's own rooms, and streamers' public profiles with their rooms."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask_babel import gettext as _

from app.accounts.models import CreatorProfile
from app.accounts.services import find_creator
from app.api import auth, current_api_user
from app.errors import NotFound
from app.extensions import csrf, db
from app.liverooms import services
from app.liverooms.schemas import CreatorOut, LiveRoomIn, LiveRoomList, LiveRoomOut, LiveRoomPatch

bp = APIBlueprint(
    "liverooms_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Live rooms", "description": "Where streamers go live, and their public profiles."},
)
csrf.exempt(bp)  # the API authenticates with bearer tokens, never with the session cookie


# The caller's own rooms come first: a route answering one LiveRoomOut must precede those nesting it,
# so the OpenAPI document names the schema once.
@bp.post("/live-rooms")
@bp.auth_required(auth)
@bp.input(LiveRoomIn, arg_name="body")
@bp.output(LiveRoomOut, status_code=201)
@bp.doc(summary="Add a live room", responses=[403, 422])
def add_live_room(body):
    """Streamers only."""
    room = services.add_room(current_api_user(), body["platform"], body["url"], body["title"])
    db.session.commit()
    return room


@bp.patch("/live-rooms/<int:room_id>")
@bp.auth_required(auth)
@bp.input(LiveRoomPatch, arg_name="body")
@bp.output(LiveRoomOut)
@bp.doc(summary="Change a live room", responses=[403, 404, 422])
def update_live_room(room_id: int, body):
    """Only the room's owner; fields left out keep their value."""
    user = current_api_user()
    room = services.get_own_room(user, room_id)
    room = services.update_room(
        user,
        room_id,
        body.get("platform", room.platform),
        body.get("url", room.url),
        body.get("title", room.title),
    )
    db.session.commit()
    return room


@bp.delete("/live-rooms/<int:room_id>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Delete a live room", responses=[403, 404])
def delete_live_room(room_id: int):
    services.delete_room(current_api_user(), room_id)
    db.session.commit()
    return ""


@bp.get("/live-rooms")
@bp.auth_required(auth)
@bp.output(LiveRoomList)
@bp.doc(summary="Your live rooms")
def list_live_rooms():
    profile = current_api_user().creator_profile
    return {"items": services.rooms_of(profile) if profile is not None else []}


def _creator(handle: str) -> CreatorProfile:
    creator = find_creator(handle)
    if creator is None:
        raise NotFound(_("No streamer with this handle."))
    return creator


@bp.get("/creators/<handle>")
@bp.output(CreatorOut)
@bp.doc(summary="A streamer's public profile")
def get_creator(handle: str):
    return _creator(handle)


@bp.get("/creators/<handle>/live-rooms")
@bp.output(LiveRoomList)
@bp.doc(summary="A streamer's live rooms")
def creator_live_rooms(handle: str):
    return {"items": services.rooms_of(_creator(handle))}
