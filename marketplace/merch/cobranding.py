"""Co-branding: a streamer invites a brand to co-brand a merch listing, and a member of the brand answers.

An invitation is not a table of its own: it is a version of the listing's royalty split (marketplace.royalties.
splits) naming the brand with the co_brand role. The brand's members accept or decline it like any share
offered to them; once every party has accepted the version becomes active, and the brand is recorded as the
listing's co-brand partner (shown beside the streamer on the listing page). A listing whose newest version is
still waiting cannot be submitted for review (splits.submit_problems).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app.accounts.models import Brand, BrandMembership, User
from app.errors import NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from marketplace import kinds
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing
from marketplace.royalties import splits
from marketplace.royalties.models import BASIS_POINTS, Fulfiller, RoyaltySplit, SplitParty, SplitRole, SplitStatus

#: the most invitations a brand's page lists
MAX_LISTED = 200


class InvitationState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    #: the streamer proposed another version before the brand answered
    REPLACED = "replaced"


def state_label(state: str) -> str:
    return {
        InvitationState.PENDING: _("Waiting for your answer"),
        InvitationState.ACCEPTED: _("Accepted"),
        InvitationState.DECLINED: _("Declined"),
        InvitationState.REPLACED: _("Replaced by a newer proposal"),
    }.get(state, state)


@dataclass
class Invitation:
    """A co-brand share offered to a brand, with the split version and listing it belongs to."""

    share: SplitParty
    split: RoyaltySplit
    listing: Listing

    @property
    def state(self) -> str:
        if self.share.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.split.status == SplitStatus.PROPOSED:
            return InvitationState.PENDING
        if self.split.status == SplitStatus.WITHDRAWN and self.split.note != "replaced":
            return InvitationState.DECLINED
        return InvitationState.REPLACED

    @property
    def comment(self) -> str | None:
        """The reason given with a decline (None when nobody gave one)."""
        if self.state != InvitationState.DECLINED or self.split.note in (None, "declined"):
            return None
        return self.split.note


# ---------------------------------------------------------------- the streamer invites

def _is_merch(listing: Listing) -> bool:
    kind = kinds.get(listing.kind)
    return kind is not None and kind.is_physical


def find_brand(text: str) -> Brand | None:
    """A brand by id, slug or name as someone types it ("12", "acme-lights", "Acme Lights")."""
    text = (text or "").strip()
    if not text:
        return None
    if text.isdigit():
        return db.session.get(Brand, int(text))
    return db.session.scalar(select(Brand).where(
        or_(func.lower(Brand.slug) == text.lower(), func.lower(Brand.name) == text.lower())).limit(1))


def _parties_with(listing: Listing, brand_id: int, brand_bp: int) -> list[dict]:
    """The newest split's parties (the one waiting, else the active one) with the brand as co-brand at
    `brand_bp`; the streamer keeps what is left after the platform fee and the other parties."""
    owner_id = listing.creator.user_id
    current = splits.proposed_split(listing.id) or splits.active_split(listing.id)
    others = [
        {"user_id": p.user_id, "brand_id": p.brand_id, "role": p.role, "bp": p.bp}
        for p in (current.parties if current else [])
        if p.user_id != owner_id and p.brand_id != brand_id
    ]
    fee = splits.platform_fee_bp(listing.id)
    owner_bp = BASIS_POINTS - fee - brand_bp - sum(p["bp"] for p in others)
    if owner_bp < 0:
        raise ValidationFailed.one("brand_bp", _(
            "With the platform fee and the other parties' shares, the brand can have at most %(most)d bp.",
            most=max(0, BASIS_POINTS - fee - sum(p["bp"] for p in others))))
    return [{"user_id": owner_id, "brand_id": None, "role": SplitRole.CREATOR, "bp": owner_bp},
            {"user_id": None, "brand_id": brand_id, "role": SplitRole.CO_BRAND, "bp": brand_bp}, *others]


def invite(streamer: User, listing: Listing, brand_id, brand_bp, fulfilled_by: str | None, now: datetime,
           parties=None) -> RoyaltySplit:
    """Invite a brand to co-brand the streamer's merch listing: proposes a new split version naming the brand as
    co-brand with `brand_bp` (the streamer keeps the rest less the platform fee and other parties), or exactly
    `parties` when given (they must name the brand as co-brand). The brand's members then accept or decline.

    :raise 403: not the listing's streamer :raise 409: the listing is archived
    :raise 422: not a merch listing, no such brand, a share that does not fit, the co-brand shipping without one
    """
    if not catalog.is_owner(streamer, listing):
        raise PermissionDenied(_("Only the listing's streamer invites a brand to co-brand it."))
    if not _is_merch(listing):
        raise ValidationFailed.one("listing", _("Only merch listings are co-branded."))
    if isinstance(brand_id, bool) or not isinstance(brand_id, int) or db.session.get(Brand, brand_id) is None:
        raise ValidationFailed.one("brand_id", _("There is no such brand."))
    if parties is None:
        if isinstance(brand_bp, bool) or not isinstance(brand_bp, int) or not 0 < brand_bp <= BASIS_POINTS:
            raise ValidationFailed.one("brand_bp", _("The brand's share is between 1 and 10000 basis points."))
        parties = _parties_with(listing, brand_id, brand_bp)
    elif not any(isinstance(p, dict) and p.get("brand_id") == brand_id and p.get("role") == SplitRole.CO_BRAND
                 for p in (parties if isinstance(parties, list) else [])):
        raise ValidationFailed.one("parties", _("Name the invited brand as a co-brand party."))
    return splits.set_split(streamer, listing, parties, now, None, fulfilled_by or Fulfiller.CREATOR)


# ---------------------------------------------------------------- the brand answers

def member_brand(user: User, brand_id) -> Brand:
    """The brand, when the user is one of its members (operators may look too).
    :raise 404: no such brand :raise 403: not a member"""
    brand = db.session.get(Brand, brand_id) if isinstance(brand_id, int) and not isinstance(brand_id, bool) else None
    if brand is None:
        raise NotFound(_("No such brand."))
    is_member = db.session.scalar(select(BrandMembership.id).where(
        BrandMembership.brand_id == brand.id, BrandMembership.user_id == user.id)) is not None
    if not is_member and not catalog.is_operator(user):
        raise PermissionDenied(_("Only the brand's members see its co-branding invitations."))
    return brand


def brands_of(user: User) -> list[Brand]:
    return list(db.session.scalars(select(Brand).join(BrandMembership).where(BrandMembership.user_id == user.id)
                                   .order_by(Brand.name)))


def invitations_for_brand(user: User, brand_id: int) -> list[Invitation]:
    """The brand's co-branding invitations, newest first: waiting and answered.
    :raise 404: no such brand :raise 403: the user is not its member"""
    brand = member_brand(user, brand_id)
    shares = list(db.session.scalars(
        select(SplitParty).join(RoyaltySplit).where(SplitParty.brand_id == brand.id, SplitParty.role == SplitRole.CO_BRAND)
        .options(selectinload(SplitParty.split).selectinload(RoyaltySplit.parties).selectinload(SplitParty.user),
                 selectinload(SplitParty.split).selectinload(RoyaltySplit.parties).selectinload(SplitParty.brand))
        .order_by(RoyaltySplit.created_at.desc(), SplitParty.id.desc()).limit(MAX_LISTED)))
    listing_ids = {share.split.listing_id for share in shares}
    listings = {listing.id: listing for listing in db.session.scalars(
        select(Listing).where(Listing.id.in_(listing_ids)))} if listing_ids else {}
    return [Invitation(share, share.split, listings[share.split.listing_id]) for share in shares]


def invitations_for(user: User) -> list[Invitation]:
    """The invitations of every brand the user belongs to."""
    return [inv for brand in brands_of(user) for inv in invitations_for_brand(user, brand.id)]


def _invitation_share(user: User, party_id) -> SplitParty:
    """A co-brand share of a brand the user belongs to. :raise 404: anything else"""
    party = db.session.get(SplitParty, party_id) if isinstance(party_id, int) and not isinstance(party_id, bool) else None
    if party is None or party.brand_id is None or party.role != SplitRole.CO_BRAND or not splits.speaks_for(user, party):
        raise NotFound(_("There is no such co-branding invitation for your brands."))
    return party


def accept(user: User, party_id: int, now: datetime) -> SplitParty:
    """A member accepts the co-branding for their brand; once every party has, the split is active and the brand
    is the listing's partner. :raise 404: not an invitation of the user's brands :raise 409: no longer waiting"""
    _invitation_share(user, party_id)
    return splits.accept_share(user, party_id, now)


def decline(user: User, party_id: int, now: datetime, comment: str | None = None) -> SplitParty:
    """A member declines the co-branding with a comment (shown to the streamer as the version's note).
    :raise 404: not an invitation of the user's brands :raise 409: no longer waiting"""
    _invitation_share(user, party_id)
    return splits.decline_share(user, party_id, now, comment)
