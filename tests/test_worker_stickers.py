"""Sticker processing through a real Celery worker thread and a real broker (Redis in CI, else the SQLAlchemy
transport on a SQLite file) — not eager mode: the upload answers at once, the worker builds the pack later."""
from __future__ import annotations

import io
import time

from tests.api_support import bearer_for
from tests.worker_support import worker  # noqa: F401  (fixture)

TIMEOUT = 60.0


def _upload(client, listing_id: int, files: list[tuple[str, bytes]], headers):
    return client.post(
        f"/api/v1/sticker-packs/{listing_id}/stickers",
        data={"files": [(io.BytesIO(data), name) for name, data in files]},
        headers=headers,
        content_type="multipart/form-data",
    )


def _art(make, count: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [(f"{n + 1:02d}.png", make.sticker_png(size=(96, 96), index=n)) for n in range(start, start + count)]


def _report(client, listing_id: int, headers) -> dict:
    response = client.get(f"/api/v1/sticker-packs/{listing_id}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _wait_until_done(client, listing_id: int, headers, total: int) -> list[dict]:
    """Poll the API, as a client would, while the worker writes; returns every report seen."""
    deadline = time.monotonic() + TIMEOUT
    seen = []
    while True:
        report = _report(client, listing_id, headers)
        seen.append(report)
        if report["processing"] == {"state": "done", "done": total, "total": total}:
            return seen
        assert time.monotonic() < deadline, f"not processed within {TIMEOUT}s: {report['processing']}"
        time.sleep(0.05)


def test_upload_is_queued_and_a_real_worker_builds_the_exports(worker, client, make):
    owner = make.streamer()
    listing_id = make.listing(owner, kind="sticker_pack").id
    headers = bearer_for(make, owner)

    response = _upload(client, listing_id, _art(make, 8), headers)

    assert response.status_code == 201, response.get_data(as_text=True)
    pack = response.get_json()["pack"]
    assert pack["processing"] == {"state": "queued", "done": 0, "total": 8}
    assert {s["status"] for s in pack["stickers"]} == {"pending"}
    assert {e["status"] for e in pack["exports"].values()} == {"pending"}
    seen = _wait_until_done(client, listing_id, headers, 8)
    report = seen[-1]
    progress = [r["processing"]["done"] for r in seen]
    assert progress == sorted(progress)  # the count of processed stickers only grows while the worker runs
    assert {r["processing"]["state"] for r in seen} <= {"queued", "processing", "done"}
    assert report["processing"] == {"state": "done", "done": 8, "total": 8}
    assert {s["status"] for s in report["stickers"]} == {"ready"}
    assert {code: e["status"] for code, e in report["exports"].items()} == {
        "line": "ready", "telegram": "ready", "whatsapp": "ready",
    }


def test_a_change_after_processing_is_queued_and_processed_again(worker, client, make):
    owner = make.streamer()
    listing_id = make.listing(owner, kind="sticker_pack").id
    headers = bearer_for(make, owner)
    assert _upload(client, listing_id, _art(make, 3), headers).status_code == 201
    _wait_until_done(client, listing_id, headers, 3)
    first, second, third = [s["id"] for s in _report(client, listing_id, headers)["stickers"]]

    deleted = client.delete(f"/api/v1/sticker-packs/{listing_id}/stickers/{first}", headers=headers)
    _wait_until_done(client, listing_id, headers, 2)

    assert deleted.status_code == 204
    report = _report(client, listing_id, headers)
    assert [s["id"] for s in report["stickers"]] == [second, third]
    assert report["exports"]["telegram"]["status"] == "ready"
    assert report["exports"]["whatsapp"]["status"] == "failed"  # two stickers: below WhatsApp's three
    assert report["exports"]["whatsapp"]["errors"][0]["code"] == "count_not_allowed"
