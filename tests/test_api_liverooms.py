"""The live rooms API and streamers' public profiles: owners manage their rooms, anyone reads a streamer's."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.liverooms.models import LiveRoom
from tests.api_support import assert_problem, bearer_for

ROOM_KEYS = {"id", "platform", "url", "title", "created_at", "updated_at"}


def room_count() -> int:
    return db.session.scalar(select(func.count()).select_from(LiveRoom))


# ---------------------------------------------------------------- public

def test_anyone_reads_a_streamers_live_rooms(client, make):
    mia = make.streamer(handle="mia")
    room = make.live_room(mia, platform="bilibili", url="https://live.bilibili.com/42", title="Drawing night")
    make.live_room(make.streamer())

    response = client.get("/api/v1/creators/mia/live-rooms")

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert len(items) == 1 and set(items[0]) == ROOM_KEYS
    assert (items[0]["id"], items[0]["platform"], items[0]["url"], items[0]["title"]) == (
        room.id, "bilibili", "https://live.bilibili.com/42", "Drawing night")


def test_anyone_reads_a_streamers_public_profile(client, make):
    mia = make.streamer(handle="mia")
    make.live_room(mia)

    response = client.get("/api/v1/creators/MIA")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"handle", "display_name", "bio", "avatar_url", "live_rooms", "url"}
    assert body["handle"] == "mia" and body["bio"] == "Live every night." and body["avatar_url"] is None
    assert body["url"] == "http://localhost/@mia"
    assert [room["platform"] for room in body["live_rooms"]] == ["douyin"]


@pytest.mark.parametrize("path", ["/api/v1/creators/nobody_here", "/api/v1/creators/nobody_here/live-rooms"])
def test_unknown_streamer_is_404_problem(client, path):
    assert_problem(client.get(path), 404)


def test_a_fan_has_no_public_profile(client, make):
    make.user(email="fan@example.com")

    assert_problem(client.get("/api/v1/creators/fan"), 404)


# ---------------------------------------------------------------- own rooms

def test_streamer_lists_only_their_own_rooms(client, make):
    mia = make.streamer()
    mine = make.live_room(mia)
    make.live_room(make.streamer())

    items = client.get("/api/v1/live-rooms", headers=bearer_for(make, mia)).get_json()["items"]

    assert [item["id"] for item in items] == [mine.id]


def test_fan_has_no_rooms(client, make):
    response = client.get("/api/v1/live-rooms", headers=bearer_for(make, make.user()))

    assert response.status_code == 200 and response.get_json() == {"items": []}


def test_own_rooms_need_a_token(client):
    assert_problem(client.get("/api/v1/live-rooms"), 401)


def test_streamer_adds_a_room(client, make):
    mia = make.streamer(handle="mia")

    response = client.post(
        "/api/v1/live-rooms",
        json={"platform": "twitch", "url": "https://twitch.tv/mia", "title": "Late stream"},
        headers=bearer_for(make, mia),
    )

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == ROOM_KEYS and body["platform"] == "twitch"
    assert [room["id"] for room in client.get("/api/v1/creators/mia/live-rooms").get_json()["items"]] == [body["id"]]


def test_fan_cannot_add_a_room(client, make):
    response = client.post(
        "/api/v1/live-rooms", json={"platform": "twitch", "url": "https://twitch.tv/x", "title": "X"}, headers=bearer_for(make, make.user())
    )

    assert_problem(response, 403)
    assert room_count() == 0


def test_anonymous_cannot_add_a_room(client):
    assert_problem(client.post("/api/v1/live-rooms", json={"platform": "twitch", "url": "https://twitch.tv/x", "title": "X"}), 401)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"platform": "myspace", "url": "https://example.com/live", "title": "X"}, "platform"),
        ({"platform": "douyin", "url": "javascript:alert(1)", "title": "X"}, "url"),
        ({"platform": "douyin", "url": "live.douyin.com/1", "title": "X"}, "url"),
        ({"platform": "douyin", "url": "https://live.douyin.com/1"}, "title"),
        ({"platform": "douyin", "url": "https://live.douyin.com/1", "title": "x" * 121}, "title"),
        ({"platform": "douyin", "url": 12, "title": "X"}, "url"),
        ({"platform": "douyin", "url": "https://live.douyin.com/1", "title": "X", "pinned": True}, "pinned"),
    ],
)
def test_adding_a_room_with_bad_input_is_422_naming_the_field(client, make, body, field):
    response = client.post("/api/v1/live-rooms", json=body, headers=bearer_for(make, make.streamer()))

    assert field in assert_problem(response, 422)["errors"]
    assert room_count() == 0


def test_owner_changes_one_field_and_keeps_the_others(client, make):
    mia = make.streamer()
    room = make.live_room(mia, platform="douyin", url="https://live.douyin.com/1", title="Old")

    response = client.patch(f"/api/v1/live-rooms/{room.id}", json={"title": "New"}, headers=bearer_for(make, mia))

    assert response.status_code == 200
    body = response.get_json()
    assert (body["platform"], body["url"], body["title"]) == ("douyin", "https://live.douyin.com/1", "New")


def test_changing_a_room_with_a_bad_url_is_422_and_changes_nothing(client, make):
    mia = make.streamer()
    room = make.live_room(mia, url="https://live.douyin.com/1")

    response = client.patch(f"/api/v1/live-rooms/{room.id}", json={"url": "ftp://x", "title": "New"}, headers=bearer_for(make, mia))

    assert "url" in assert_problem(response, 422)["errors"]
    db.session.expire_all()
    stored = db.session.get(LiveRoom, room.id)
    assert stored.url == "https://live.douyin.com/1" and stored.title == "Night studio"


def test_changing_someone_elses_room_is_403(client, make):
    room = make.live_room(make.streamer(), title="Theirs")

    assert_problem(client.patch(f"/api/v1/live-rooms/{room.id}", json={"title": "Mine"}, headers=bearer_for(make, make.streamer())), 403)
    assert_problem(client.patch(f"/api/v1/live-rooms/{room.id}", json={"title": "Mine"}, headers=bearer_for(make, make.user())), 403)
    db.session.expire_all()
    assert db.session.get(LiveRoom, room.id).title == "Theirs"


def test_changing_a_missing_room_is_404(client, make):
    assert_problem(client.patch("/api/v1/live-rooms/999999", json={"title": "X"}, headers=bearer_for(make, make.streamer())), 404)


def test_owner_deletes_a_room(client, make):
    mia = make.streamer()
    room = make.live_room(mia)

    response = client.delete(f"/api/v1/live-rooms/{room.id}", headers=bearer_for(make, mia))

    assert response.status_code == 204
    assert room_count() == 0


def test_deleting_someone_elses_room_is_403_and_keeps_it(client, make):
    room = make.live_room(make.streamer())

    assert_problem(client.delete(f"/api/v1/live-rooms/{room.id}", headers=bearer_for(make, make.streamer())), 403)
    assert_problem(client.delete(f"/api/v1/live-rooms/{room.id}"), 401)
    assert room_count() == 1
