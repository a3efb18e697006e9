"""Public pages load a page of listings with a fixed number of queries, however many listings it shows."""
from contextlib import contextmanager

from sqlalchemy import event

from app.extensions import db
from marketplace.catalog.models import ListingStatus


@contextmanager
def count_queries():
    counted = []

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        counted.append(statement)

    event.listen(db.engine, "before_cursor_execute", before_execute)
    try:
        yield counted
    finally:
        event.remove(db.engine, "before_cursor_execute", before_execute)


def _queries_for(client, path: str) -> int:
    with count_queries() as counted:
        assert client.get(path).status_code == 200
    return len(counted)


def test_browse_home_and_storefront_do_not_query_per_listing(client, make):
    make.brand_member(brand_name="Lumen Gear")
    owner = make.streamer(handle="mia")
    make.live_room(owner)
    make.listing(owner, status=ListingStatus.PUBLISHED, partners=["lumen-gear"])
    few = {path: _queries_for(client, path) for path in ("/", "/browse", "/@mia")}
    for _ in range(8):
        make.listing(owner, status=ListingStatus.PUBLISHED, partners=["lumen-gear"])
    many = {path: _queries_for(client, path) for path in ("/", "/browse", "/@mia")}
    assert many == few
