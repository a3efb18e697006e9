"""Co-branding API: a streamer invites a brand to co-brand a merch listing; the brand's members list the invitations
and accept or decline them. Handlers parse, authorise through marketplace.merch.cobranding, serialise, commit."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import jsonify

from app.api import auth, current_api_user
from app.db import utcnow
from app.extensions import csrf, db
from marketplace.catalog import services as catalog
from marketplace.merch import cobranding
from marketplace.merch.cobranding_schemas import (
    CobrandingAnswerIn,
    CobrandingAnswerOut,
    CobrandingIn,
    CobrandingInvitationsOut,
)
from marketplace.royalties.split_api import party_payload, split_payload, version_payload
from marketplace.royalties.split_schemas import SplitOut

bp = APIBlueprint(
    "merch_cobranding_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Co-branding", "description": "Streamers invite brands to co-brand merch; brands answer."},
)
csrf.exempt(bp)


def invitation_payload(invitation: cobranding.Invitation) -> dict:
    listing = invitation.listing
    return {**party_payload(invitation.share), "state": invitation.state, "comment": invitation.comment,
            "listing": {"id": listing.id, "slug": listing.slug, "title": listing.title,
                        "streamer": listing.creator.display_name},
            "split": version_payload(invitation.split)}


def _answer_payload(party) -> dict:
    return {**party_payload(party), "split_status": party.split.status}


@bp.post("/listings/<int:listing_id>/cobranding")
@bp.auth_required(auth)
@bp.input(CobrandingIn, arg_name="body")
@bp.output(SplitOut, status_code=201)
@bp.doc(summary="Invite a brand to co-brand your merch listing", responses=[403, 404, 409, 422])
def invite(listing_id: int, body):
    """Proposes a new version of the listing's split naming the brand as co-brand with `brand_bp`; the streamer
    keeps the rest less the platform fee (and other parties' shares). The brand's members accept or decline;
    the listing cannot be submitted for review until they accept."""
    user = current_api_user()
    listing = catalog.get_own_listing(user, listing_id)
    cobranding.invite(user, listing, body["brand_id"], body["brand_bp"], body.get("fulfilled_by"), utcnow())
    payload = SplitOut().dump(split_payload(listing))
    db.session.commit()
    response = jsonify(payload)
    response.status_code = 201
    return response


@bp.get("/brands/<int:brand_id>/cobranding-invitations")
@bp.auth_required(auth)
@bp.output(CobrandingInvitationsOut)
@bp.doc(summary="A brand's co-branding invitations", responses=[403, 404])
def brand_invitations(brand_id: int):
    """Waiting and answered invitations, newest first; for the brand's members only."""
    return {"items": [invitation_payload(inv) for inv in cobranding.invitations_for_brand(current_api_user(), brand_id)]}


@bp.post("/cobranding-invitations/<int:party_id>/accept")
@bp.auth_required(auth)
@bp.output(CobrandingAnswerOut)
@bp.doc(summary="Accept a co-branding invitation for your brand", responses=[404, 409])
def accept(party_id: int):
    """Once every party has accepted, the split is active and the brand shows beside the streamer."""
    party = cobranding.accept(current_api_user(), party_id, utcnow())
    payload = CobrandingAnswerOut().dump(_answer_payload(party))
    db.session.commit()
    return jsonify(payload)


@bp.post("/cobranding-invitations/<int:party_id>/decline")
@bp.auth_required(auth)
@bp.input(CobrandingAnswerIn, arg_name="body")
@bp.output(CobrandingAnswerOut)
@bp.doc(summary="Decline a co-branding invitation for your brand", responses=[404, 409, 422])
def decline(party_id: int, body):
    """The proposed split is withdrawn with your comment; the streamer may propose another."""
    party = cobranding.decline(current_api_user(), party_id, utcnow(), body.get("comment"))
    payload = CobrandingAnswerOut().dump(_answer_payload(party))
    db.session.commit()
    return jsonify(payload)
