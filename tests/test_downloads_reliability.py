"""The download limit under concurrency, over real HTTP on PostgreSQL: many clients racing for the last downloads
of one file get exactly the allowed number served, the rest a clear 403, and every attempt logged."""
from __future__ import annotations

import io
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.extensions import db
from marketplace.downloads.models import DownloadCount, DownloadLog
from tests.api_support import bearer_for
from tests.conftest import ON_POSTGRES
from tests.order_support import buy

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not ON_POSTGRES, reason="row locks under concurrency: set ENCORE_TEST_DATABASE_URL to PostgreSQL"),
]

LIMIT = 3
ATTEMPTS = 16


def fetch(url: str, headers: dict[str, str]) -> tuple[int, int]:
    """GET over a real socket: the status and how many bytes came back."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, len(response.read())
    except urllib.error.HTTPError as error:
        return error.code, 0


def test_racing_clients_never_get_more_than_the_limit(client, make, app, live_server):
    seller, fan = make.streamer(), make.user()
    seller_headers, fan_headers = bearer_for(make, seller), bearer_for(make, fan)
    listing = make.listing(seller, status="published", kind="course", prices=[{"currency": "CNY", "amount": 1200}])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("setup.txt", "x" * 50_000)
    data = archive.getvalue()
    response = client.post(f"/api/v1/listings/{listing.id}/files", headers=seller_headers,
                           data={"file": (io.BytesIO(data), "setup.zip")}, content_type="multipart/form-data")
    assert response.status_code == 201
    app.config["ENCORE_DOWNLOADS_PER_FILE"] = LIMIT
    try:
        buy(client, fan_headers, listing)
    finally:
        app.config["ENCORE_DOWNLOADS_PER_FILE"] = 10
    (item,) = client.get("/api/v1/library", headers=fan_headers).get_json()["items"]
    path = item["files"][0]["download_url"].split("://", 1)[1].split("/", 1)[1]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _n: fetch(f"{live_server}/{path}", fan_headers), range(ATTEMPTS)))

    served = [size for status, size in answers if status == 200]
    assert len(served) == LIMIT and all(size == len(data) for size in served)
    assert sorted(status for status, _size in answers) == [200] * LIMIT + [403] * (ATTEMPTS - LIMIT)
    db.session.expire_all()
    assert db.session.scalar(select(DownloadCount.used)) == LIMIT
    outcomes = dict(db.session.execute(select(DownloadLog.outcome, func.count()).group_by(DownloadLog.outcome)).all())
    assert outcomes == {"served": LIMIT, "limit_reached": ATTEMPTS - LIMIT}
