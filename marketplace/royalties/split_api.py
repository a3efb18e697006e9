"""Split API: read a listing's whole split, propose a new version, answer the shares offered to you, and (operators)
set a listing's platform fee. Handlers parse, authorise through marketplace.royalties.splits, serialise, then commit."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import jsonify
from flask_babel import gettext as _
from sqlalchemy import select

from app.accounts.models import BrandMembership, User
from app.api import auth, current_api_user
from app.db import utcnow
from app.errors import NotFound, PermissionDenied
from app.extensions import csrf, db
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing
from marketplace.royalties import splits
from marketplace.royalties.models import BASIS_POINTS, FeeBearer, Fulfiller, RoyaltySplit, SplitParty, SplitRole, SplitStatus
from marketplace.royalties.split_schemas import (
    OfferAnswerIn,
    OffersOut,
    PlatformFeeIn,
    ShareOut,
    SplitIn,
    SplitOut,
)

bp = APIBlueprint(
    "royalties_split_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Royalty splits", "description": "Who shares in a listing's sales, and the shares offered to you."},
)
csrf.exempt(bp)


# ---------------------------------------------------------------- shapes

def party_payload(party: SplitParty) -> dict:
    return {"id": party.id, "user_id": party.user_id, "brand_id": party.brand_id, "name": party.name,
            "role": party.role, "bp": party.bp, "accepted": party.accepted_at is not None,
            "accepted_at": party.accepted_at}


def version_payload(split: RoyaltySplit) -> dict:
    return {"version": split.version, "status": split.status, "platform_fee_bp": split.platform_fee_bp,
            "gateway_fee_bearer": split.gateway_fee_bearer, "fulfilled_by": split.fulfilled_by,
            "created_at": split.created_at,
            "parties": [party_payload(party) for party in split.parties],
            "platform": {"role": "platform", "bp": split.platform_fee_bp}}


def split_payload(listing: Listing) -> dict:
    """The whole split of a listing: the version sales use now (or the default), and one waiting for answers."""
    active = splits.active_split(listing.id)
    pending = splits.proposed_split(listing.id)
    if active is not None:
        current = version_payload(active)
        is_default = False
    else:
        fee = splits.platform_fee_bp(listing.id)
        owner = listing.creator.user
        current = {"version": None, "status": SplitStatus.ACTIVE, "platform_fee_bp": fee,
                   "gateway_fee_bearer": FeeBearer.PLATFORM, "fulfilled_by": Fulfiller.CREATOR,
                   "platform": {"role": "platform", "bp": fee},
                   "parties": [{"id": None, "user_id": owner.id, "brand_id": None, "name": owner.display_name,
                                "role": SplitRole.CREATOR, "bp": BASIS_POINTS - fee, "accepted": True,
                                "accepted_at": None}]}
        # "default" means no split was ever set; one only proposed (or withdrawn) is still a split in the making
        is_default = pending is None and not splits.split_history(listing.id)
    current.pop("created_at", None)
    return {"listing_id": listing.id, **current, "pending": version_payload(pending) if pending else None,
            "default": is_default}


def _is_party_of_listing(user: User, listing_id: int) -> bool:
    """Whether the user (or one of their brands) is named in any version of this listing's split."""
    brand_ids = select(BrandMembership.brand_id).where(BrandMembership.user_id == user.id)
    return db.session.scalar(
        select(SplitParty.id).join(RoyaltySplit).where(
            RoyaltySplit.listing_id == listing_id,
            (SplitParty.user_id == user.id) | SplitParty.brand_id.in_(brand_ids),
        ).limit(1)
    ) is not None


def readable_listing(user: User, listing_id: int) -> Listing:
    """The listing if the user may read its split: its owner, an operator, or a party of any version.
    :raise 404: no such listing, or one hidden from the user :raise 403: visible, but none of the above"""
    listing = db.session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(_("No such listing."))
    if catalog.is_owner(user, listing) or catalog.is_operator(user) or _is_party_of_listing(user, listing.id):
        return listing
    if not catalog.can_view(user, listing):
        raise NotFound(_("No such listing."))
    raise PermissionDenied(_("Only the listing's streamer, its split's parties and operators see its split."))


def offer_payload(party: SplitParty) -> dict:
    split = party.split
    listing = db.session.get(Listing, split.listing_id)
    return {**party_payload(party),
            "listing": {"id": listing.id, "slug": listing.slug, "title": listing.title},
            "proposed_by": split.created_by.display_name if split.created_by else None,
            "split": version_payload(split)}


def share_payload(party: SplitParty) -> dict:
    return {**party_payload(party), "split_status": party.split.status}


# ---------------------------------------------------------------- routes

@bp.get("/listings/<int:listing_id>/split")
@bp.auth_required(auth)
@bp.output(SplitOut)
@bp.doc(summary="A listing's royalty split", responses=[403, 404])
def get_split(listing_id: int):
    """The version sales are split by now (or the default: the streamer takes all but the platform fee), the
    platform's fee, and a newer version still waiting for its parties (`pending`). For the listing's streamer,
    operators, and every party named in any version."""
    return split_payload(readable_listing(current_api_user(), listing_id))


@bp.put("/listings/<int:listing_id>/split")
@bp.auth_required(auth)
@bp.input(SplitIn, arg_name="body")
@bp.output(SplitOut)
@bp.doc(summary="Propose a new split for your listing", responses=[403, 404, 409, 422])
def put_split(listing_id: int, body):
    """Makes a new version. The server adds the platform fee: the parties' shares must make exactly 10000 bp with
    it. Parties other than you (and your own brands) must accept their share before the version is used; until
    then it shows as `pending` and sales keep using the active version. `fulfilled_by` says who ships merch:
    `co_brand` needs a party with the co_brand role and a brand_id (422 otherwise)."""
    user = current_api_user()
    listing = catalog.get_own_listing(user, listing_id)
    splits.set_split(user, listing, body["parties"], utcnow(), body.get("gateway_fee_bearer"), body.get("fulfilled_by"))
    payload = SplitOut().dump(split_payload(listing))  # serialised before the commit expires the rows
    db.session.commit()
    return jsonify(payload)


@bp.get("/splits/offers")
@bp.auth_required(auth)
@bp.output(OffersOut)
@bp.doc(summary="Shares waiting for your answer")
def list_offers():
    """Shares of proposed splits offered to you or to a brand you belong to, each with the whole split."""
    return {"items": [offer_payload(party) for party in splits.waiting_shares(current_api_user())]}


@bp.post("/splits/offers/<int:party_id>/accept")
@bp.auth_required(auth)
@bp.output(ShareOut)
@bp.doc(summary="Accept a share offered to you", responses=[404, 409])
def accept_offer(party_id: int):
    """The version becomes active (and is used for later sales) once every party has accepted."""
    party = splits.accept_share(current_api_user(), party_id, utcnow())
    payload = ShareOut().dump(share_payload(party))
    db.session.commit()
    return jsonify(payload)


@bp.post("/splits/offers/<int:party_id>/decline")
@bp.auth_required(auth)
@bp.input(OfferAnswerIn, arg_name="body")
@bp.output(ShareOut)
@bp.doc(summary="Decline a share offered to you", responses=[404, 409, 422])
def decline_offer(party_id: int, body):
    """The proposed version is withdrawn with your reason; the streamer proposes another."""
    party = splits.decline_share(current_api_user(), party_id, utcnow(), body.get("reason"))
    payload = ShareOut().dump(share_payload(party))
    db.session.commit()
    return jsonify(payload)


@bp.put("/listings/<int:listing_id>/platform-fee")
@bp.auth_required(auth)
@bp.input(PlatformFeeIn, arg_name="body")
@bp.output(SplitOut)
@bp.doc(summary="Set a listing's platform fee (operators)", responses=[403, 404, 409, 422])
def put_platform_fee(listing_id: int, body):
    """Overrides ENCORE_PLATFORM_FEE_BP for this listing. A split already set gets a new version in which the
    streamer's own share absorbs the difference."""
    user = current_api_user()
    if not catalog.is_operator(user):
        raise PermissionDenied(_("Only operators set a listing's platform fee."))
    listing = db.session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(_("No such listing."))
    splits.set_platform_fee(user, listing, body["bp"], utcnow())
    payload = SplitOut().dump(split_payload(listing))
    db.session.commit()
    return jsonify(payload)
