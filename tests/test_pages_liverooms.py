"""The streamer's live rooms page: list, add, edit, delete, and who may do it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.liverooms.models import LiveRoom
from app.liverooms.services import MAX_ROOMS


def _room_count() -> int:
    return db.session.scalar(select(func.count()).select_from(LiveRoom))


def _errors_near(html: str, field_id: str) -> str:
    match = re.search(rf'<ul class="errors" id="{re.escape(field_id)}-errors">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


@pytest.fixture
def streamer(client, make):
    user = make.streamer(handle="mia", email="mia@example.com")
    make.login(client, "mia@example.com")
    return user


def test_anonymous_is_sent_to_login(client):
    response = client.get("/dashboard/live-rooms")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_fan_gets_403_with_hint_to_become_a_streamer(client, make):
    make.user(email="fan@example.com")
    make.login(client, "fan@example.com")
    page = client.get("/dashboard/live-rooms")
    assert page.status_code == 403
    assert "/settings#streamer" in page.text
    response = client.post("/dashboard/live-rooms", data={"platform": "douyin", "url": "https://live.douyin.com/1", "title": "T"})
    assert response.status_code == 403
    assert _room_count() == 0


def test_streamer_sees_rooms_with_translated_platform_labels(client, make, streamer):
    make.live_room(streamer, platform="taobao_live", url="https://live.taobao.com/room/9", title="Studio B")
    page = client.get("/dashboard/live-rooms", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Studio B" in page.text and "https://live.taobao.com/room/9" in page.text
    assert "Taobao Live" in page.text
    assert '<option value="bilibili">Bilibili</option>' in page.text


def test_streamer_adds_a_room(client, streamer):
    response = client.post(
        "/dashboard/live-rooms", data={"platform": "bilibili", "url": "https://live.bilibili.com/42", "title": "Late show"}
    )
    assert response.status_code == 302
    room = db.session.scalar(select(LiveRoom))
    assert (room.platform, room.url, room.title) == ("bilibili", "https://live.bilibili.com/42", "Late show")
    assert room.creator_id == streamer.creator_profile.id
    assert "Late show" in client.get("/dashboard/live-rooms").text


@pytest.mark.parametrize(
    "data, field",
    [
        ({"platform": "bilibili", "url": "ftp://live.bilibili.com/42", "title": "T"}, "url"),
        ({"platform": "bilibili", "url": "javascript:alert(1)", "title": "T"}, "url"),
        ({"platform": "bilibili", "url": "", "title": "T"}, "url"),
        ({"platform": "myspace", "url": "https://example.com/x", "title": "T"}, "platform"),
        ({"platform": "bilibili", "url": "https://live.bilibili.com/42", "title": ""}, "title"),
        ({"platform": "bilibili", "url": "https://live.bilibili.com/42", "title": "x" * 121}, "title"),
    ],
)
def test_add_room_with_bad_input_shows_field_error(client, streamer, data, field):
    response = client.post("/dashboard/live-rooms", data=data)
    assert response.status_code == 422
    assert _errors_near(response.text, field)
    assert _room_count() == 0


def test_add_room_keeps_what_was_typed_on_error(client, streamer):
    response = client.post("/dashboard/live-rooms", data={"platform": "twitch", "url": "twitch.tv/mia", "title": "Morning"})
    assert response.status_code == 422
    assert 'value="twitch.tv/mia"' in response.text and 'value="Morning"' in response.text
    assert '<option selected value="twitch">' in response.text


def test_add_room_beyond_the_limit_is_refused(client, make, streamer):
    for n in range(MAX_ROOMS):
        make.live_room(streamer, url=f"https://live.douyin.com/{n}", title=f"Room {n}")
    response = client.post("/dashboard/live-rooms", data={"platform": "douyin", "url": "https://live.douyin.com/x", "title": "One more"})
    assert response.status_code == 422
    assert "at most" in _errors_near(response.text, "url")
    assert _room_count() == MAX_ROOMS


def test_streamer_edits_own_room(client, make, streamer):
    room = make.live_room(streamer)
    page = client.get(f"/dashboard/live-rooms/{room.id}/edit")
    assert page.status_code == 200 and 'value="Night studio"' in page.text
    response = client.post(
        f"/dashboard/live-rooms/{room.id}/edit",
        data={"platform": "youtube", "url": "https://youtube.com/@mia/live", "title": "Night studio (YouTube)"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    room = db.session.get(LiveRoom, room.id)
    assert (room.platform, room.url, room.title) == ("youtube", "https://youtube.com/@mia/live", "Night studio (YouTube)")


def test_edit_with_bad_url_keeps_room_unchanged(client, make, streamer):
    room = make.live_room(streamer)
    response = client.post(f"/dashboard/live-rooms/{room.id}/edit", data={"platform": "douyin", "url": "not a url", "title": "X"})
    assert response.status_code == 422
    assert _errors_near(response.text, "url")
    db.session.expire_all()
    assert db.session.get(LiveRoom, room.id).title == "Night studio"


def test_streamer_deletes_own_room(client, make, streamer):
    room = make.live_room(streamer)
    response = client.post(f"/dashboard/live-rooms/{room.id}/delete")
    assert response.status_code == 302
    assert _room_count() == 0


def test_delete_needs_post(client, make, streamer):
    room = make.live_room(streamer)
    assert client.get(f"/dashboard/live-rooms/{room.id}/delete").status_code == 405
    assert _room_count() == 1


def test_another_streamers_room_cannot_be_edited_or_deleted(client, make, streamer):
    other = make.streamer(handle="leo")
    room = make.live_room(other, title="Leo's room")
    assert client.get(f"/dashboard/live-rooms/{room.id}/edit").status_code == 403
    response = client.post(
        f"/dashboard/live-rooms/{room.id}/edit", data={"platform": "douyin", "url": "https://evil.example/", "title": "Mine now"}
    )
    assert response.status_code == 403
    assert client.post(f"/dashboard/live-rooms/{room.id}/delete").status_code == 403
    db.session.expire_all()
    room = db.session.get(LiveRoom, room.id)
    assert room.title == "Leo's room" and room.url == "https://live.douyin.com/123456"
    assert "Leo&#39;s room" not in client.get("/dashboard/live-rooms").text


def test_missing_room_is_404(client, streamer):
    assert client.get("/dashboard/live-rooms/999/edit").status_code == 404
    assert client.post("/dashboard/live-rooms/999/delete").status_code == 404


def test_delete_without_csrf_token_is_refused_when_csrf_enabled(app, client, make, streamer):
    room = make.live_room(streamer)
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(f"/dashboard/live-rooms/{room.id}/delete").status_code == 400
    assert _room_count() == 1
