"""`encore stickers process`: processing packs without the worker, e.g. after a broker outage."""
from __future__ import annotations

from app.extensions import db
from app.storage import get_storage
from stickers import services
from stickers.models import StickerPack


def queued_pack(make, count: int = 3) -> int:
    """A pack with uploads that no worker has processed (as when the broker was down)."""
    owner = make.streamer()
    listing = make.listing(owner, kind="sticker_pack")
    pack = services.own_pack(owner, listing.id)
    services.add_stickers(owner, pack, [(f"{n}.png", make.sticker_png(size=(96, 96), index=n)) for n in range(count)], get_storage())
    db.session.commit()
    return listing.id


def test_process_pending_builds_every_pack_left_queued(runner, make):
    first, second = queued_pack(make), queued_pack(make, count=8)

    result = runner.invoke(args=["stickers", "process", "--pending"])

    assert result.exit_code == 0, result.output
    for listing_id, ready in ((first, {"telegram", "whatsapp"}), (second, {"line", "telegram", "whatsapp"})):
        pack = db.session.get(StickerPack, listing_id, populate_existing=True)
        assert pack.processing_state == "done" and pack.processed_revision == pack.revision
        assert set(services.ready_platforms(pack)) == ready
    again = runner.invoke(args=["stickers", "process", "--pending"])
    assert again.exit_code == 2 and "name listing ids or pass --pending" in again.output  # nothing left


def test_process_names_a_listing_that_is_not_a_pack(runner, make):
    listing_id = queued_pack(make)

    result = runner.invoke(args=["stickers", "process", str(listing_id), "424242"])

    assert result.exit_code == 0, result.output
    assert "no sticker pack 424242" in result.output
    assert db.session.get(StickerPack, listing_id, populate_existing=True).processing_state == "done"


def test_process_without_ids_or_pending_is_a_usage_error(runner):
    result = runner.invoke(args=["stickers", "process"])

    assert result.exit_code == 2 and "name listing ids or pass --pending" in result.output
