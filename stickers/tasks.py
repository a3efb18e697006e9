"""Celery tasks of the sticker package: they take a listing id and run inside the app context."""
from __future__ import annotations

import logging

from app.storage import get_storage
from app.tasks import celery_app
from stickers import processing

log = logging.getLogger(__name__)


@celery_app.task(name="stickers.process_pack", ignore_result=True)
def process_pack(listing_id: int, force: bool = False) -> None:
    """Build the pack's derivatives and platform exports for its current art."""
    processing.process_pack(listing_id, get_storage(), force=force)


def queue_processing(listing_id: int) -> bool:
    """Queue a processing run; call after the change is committed.

    The change is already stored, so a broker outage is logged and reported as False: the pack stays
    "queued" on its page and the next change (or `encore stickers process`) queues it again.
    """
    try:
        process_pack.delay(listing_id)
    except Exception:  # the broker is down or refused the message
        log.exception("could not queue processing of sticker pack %s", listing_id)
        return False
    return True
