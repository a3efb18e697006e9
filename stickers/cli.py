"""`encore stickers ...`: operator commands for sticker packs."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.storage import get_storage
from stickers import processing
from stickers.models import ProcessingState, StickerPack

stickers_cli = AppGroup("stickers", help="Sticker pack processing.")


@stickers_cli.command("process")
@click.argument("listing_ids", nargs=-1, type=int)
@click.option("--pending", is_flag=True, help="Every pack whose latest art is not processed yet.")
@click.option("--force", is_flag=True, help="Render stickers again even if they are done.")
def process_command(listing_ids: tuple[int, ...], pending: bool, force: bool) -> None:
    """Process sticker packs here and now (without the worker), e.g. after a broker outage."""
    ids = list(listing_ids)
    if pending:
        ids += db.session.scalars(
            select(StickerPack.listing_id).where(StickerPack.processed_revision != StickerPack.revision)
        ).all()
    if not ids:
        raise click.UsageError("name listing ids or pass --pending")
    storage = get_storage()
    with click.progressbar(ids, label="Processing sticker packs", show_pos=True) as bar:
        for listing_id in bar:
            pack = processing.process_pack(listing_id, storage, force=force)
            if pack is None:
                click.echo(f"\nno sticker pack {listing_id}", err=True)
            elif pack.processing_state != ProcessingState.DONE and pack.stickers:
                click.echo(f"\npack {listing_id} changed while processing; run again", err=True)
