"""Split rules: who shares in a listing's sales, in basis points, and who has agreed to it.

A listing without a split gives its streamer everything but the platform fee. A split names parties (users
and brands, each with a role and a share); with the platform fee they add up to exactly 10,000 bp. Every
change makes a new version: parties other than the owner accept their share before the version becomes
active (and before the listing can be submitted); sales use the active version at the time they are paid,
so a change to a published listing applies to later sales only.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import selectinload

from app.accounts.models import Brand, BrandMembership, CreatorProfile, User
from app.db import DirectStatement
from app.errors import Conflict, Errors, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing, ListingPartner, ListingStatus
from marketplace.royalties.models import (
    BASIS_POINTS,
    FeeBearer,
    Fulfiller,
    ListingPlatformFee,
    RoyaltySplit,
    SplitParty,
    SplitRole,
    SplitStatus,
)

MAX_PARTIES = 20
#: a share as people type it on the split page ("12.5" % = 1250 bp)
PERCENT_TO_BP = 100


def role_label(role: str) -> str:
    return {
        SplitRole.CREATOR: _("Creator"),
        SplitRole.CO_BRAND: _("Co-brand"),
        SplitRole.DESIGNER: _("Designer"),
        SplitRole.COLLABORATOR: _("Collaborator"),
    }.get(role, role)


def fulfiller_label(fulfilled_by: str) -> str:
    return {
        Fulfiller.CREATOR: _("The streamer ships"),
        Fulfiller.CO_BRAND: _("The co-brand ships"),
    }.get(fulfilled_by, fulfilled_by)


def status_label(status: str) -> str:
    return {
        SplitStatus.PROPOSED: _("Waiting for acceptance"),
        SplitStatus.ACTIVE: _("Active"),
        SplitStatus.SUPERSEDED: _("Replaced"),
        SplitStatus.WITHDRAWN: _("Withdrawn"),
    }.get(status, status)


# ---------------------------------------------------------------- reading

def default_fee_bp() -> int:
    return current_app.config["ENCORE_PLATFORM_FEE_BP"]


def platform_fee_bp(listing_id: int) -> int:
    """The platform fee new split versions of this listing carry: the operator's override or the default."""
    override = db.session.get(ListingPlatformFee, listing_id)
    return override.bp if override is not None else default_fee_bp()


def _versions(listing_id: int):
    return select(RoyaltySplit).where(RoyaltySplit.listing_id == listing_id).options(
        selectinload(RoyaltySplit.parties).selectinload(SplitParty.user),
        selectinload(RoyaltySplit.parties).selectinload(SplitParty.brand),
    )


def active_split(listing_id: int) -> RoyaltySplit | None:
    return db.session.scalar(_versions(listing_id).where(RoyaltySplit.status == SplitStatus.ACTIVE)
                             .order_by(RoyaltySplit.version.desc()).limit(1))


def proposed_split(listing_id: int) -> RoyaltySplit | None:
    return db.session.scalar(_versions(listing_id).where(RoyaltySplit.status == SplitStatus.PROPOSED)
                             .order_by(RoyaltySplit.version.desc()).limit(1))


def split_history(listing_id: int) -> list[RoyaltySplit]:
    return list(db.session.scalars(_versions(listing_id).order_by(RoyaltySplit.version.desc())))


@dataclass(frozen=True)
class RuleParty:
    user_id: int | None
    brand_id: int | None
    role: str
    bp: int


@dataclass(frozen=True)
class Rule:
    """How one listing's sales are split right now: the parties, then the platform's fee."""

    split_id: int | None
    platform_fee_bp: int
    gateway_fee_bearer: str
    parties: tuple[RuleParty, ...] = field(default_factory=tuple)
    #: who ships the listing's merch and is paid its shipping (models.Fulfiller)
    fulfilled_by: str = "creator"

    def shipper(self) -> RuleParty | None:
        """The party paid a line's shipping: the co-brand when it ships, else the creator (the owner)."""
        role = SplitRole.CO_BRAND if self.fulfilled_by == "co_brand" else SplitRole.CREATOR
        return next((party for party in self.parties if party.role == role), None)


#: what a rule is read from, per listing: its owner, its fee override and its active versions' parties (a listing
#: without an active version has one row with no split)
_RULE_COLUMNS = (Listing.id, CreatorProfile.user_id, ListingPlatformFee.bp, RoyaltySplit.id, RoyaltySplit.platform_fee_bp,
                 RoyaltySplit.gateway_fee_bearer, RoyaltySplit.fulfilled_by, SplitParty.user_id, SplitParty.brand_id,
                 SplitParty.role, SplitParty.bp)
#: the rows of a rule oldest version first (rules_from_rows lets the newest win)
_RULE_ORDER = (Listing.id, RoyaltySplit.version, SplitParty.position, SplitParty.id)


def _rule_rows(*columns):
    return (
        select(*columns)
        .join(CreatorProfile, CreatorProfile.id == Listing.creator_id)
        .outerjoin(ListingPlatformFee, ListingPlatformFee.listing_id == Listing.id)
        .outerjoin(RoyaltySplit, (RoyaltySplit.listing_id == Listing.id) & (RoyaltySplit.status == SplitStatus.ACTIVE))
        .outerjoin(SplitParty, SplitParty.split_id == RoyaltySplit.id)
    )


#: built once (a cached statement is not compiled again)
_RULES = DirectStatement(
    _rule_rows(*_RULE_COLUMNS).where(Listing.id.in_(bindparam("listing_ids", expanding=True))).order_by(*_RULE_ORDER)
)


def rule_rows_as_json(listing_id):
    """PostgreSQL: a scalar subquery answering, as one JSON array, the rows rules_from_rows reads for the listing
    whose id `listing_id` (a column of the enclosing statement) gives: a statement that reads an order's lines
    reads the rules their sale is split by with them, a round trip fewer than rules_for after it."""
    row = func.json_build_array(*_RULE_COLUMNS)
    return (
        _rule_rows(func.coalesce(func.json_agg(aggregate_order_by(row, *_RULE_ORDER)), text("'[]'::json")))
        .where(Listing.id == listing_id)
        .scalar_subquery()
        .label("rule_rows")
    )


def rules_from_rows(rows) -> dict[int, Rule]:
    """The rules rows of _RULE_COLUMNS (oldest version first per listing) describe: a listing's active version,
    else the default (the streamer takes everything but the platform fee)."""
    rules: dict[int, Rule] = {}
    default = None
    for (listing_id, owner_id, override, split_id, fee_bp, bearer, fulfilled_by, party_user_id, party_brand_id,
         role, bp) in rows:
        if split_id is None:  # no active version: the streamer takes everything but the platform fee
            if override is None and default is None:
                default = default_fee_bp()
            fee = default if override is None else override
            rules[listing_id] = Rule(None, fee, FeeBearer.PLATFORM,
                                     (RuleParty(owner_id, None, SplitRole.CREATOR, BASIS_POINTS - fee),))
            continue
        rule = rules.get(listing_id)
        if rule is None or rule.split_id != split_id:  # a newer active version (rows come oldest first) wins
            rule = Rule(split_id, fee_bp, bearer, (), fulfilled_by)
        if role is not None:
            rule = replace(rule, parties=(*rule.parties, RuleParty(party_user_id, party_brand_id, role, bp)))
        rules[listing_id] = rule
    return rules


def rules_for(listing_ids) -> dict[int, Rule]:
    """The rule each listing's sales are split by now (see rules_from_rows). Listings that no longer exist are
    left out."""
    listing_ids = {i for i in listing_ids if i is not None}
    if not listing_ids:
        return {}
    return rules_from_rows(_RULES.run(db.session, {"listing_ids": sorted(listing_ids)}))


# ---------------------------------------------------------------- who may act

def _owner_user_id(listing: Listing) -> int:
    return listing.creator.user_id


def _brand_ids_of(user: User) -> set[int]:
    return set(db.session.scalars(select(BrandMembership.brand_id).where(BrandMembership.user_id == user.id)))


def speaks_for(user: User, party: SplitParty) -> bool:
    """Whether `user` may accept or decline this party's share: the user themself, or a member of the brand."""
    if party.user_id is not None:
        return party.user_id == user.id
    return party.brand_id in _brand_ids_of(user)


# ---------------------------------------------------------------- changing a split

def _clean_parties(raw, fee_bp: int) -> list[dict]:
    errors = Errors()
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed.one("parties", _("Name at least one party."))
    if len(raw) > MAX_PARTIES:
        raise ValidationFailed.one("parties", _("A split has at most %(max)d parties.", max=MAX_PARTIES))
    cleaned, seen = [], set()
    for index, item in enumerate(raw):
        where = f"parties.{index}"
        if not isinstance(item, dict):
            errors.add(where, _("Each party is an object with user_id or brand_id, role and bp."))
            continue
        user_id, brand_id = item.get("user_id"), item.get("brand_id")
        ids = [value for value in (user_id, brand_id) if value is not None]
        if len(ids) != 1 or any(isinstance(v, bool) or not isinstance(v, int) for v in ids):
            errors.add(where, _("Give either a user_id or a brand_id."))
            continue
        role = item.get("role")
        if role not in tuple(SplitRole):
            errors.add(f"{where}.role", _("Choose a role: %(roles)s.", roles=", ".join(SplitRole)))
        bp = item.get("bp")
        if isinstance(bp, bool) or not isinstance(bp, int):
            errors.add(f"{where}.bp", _("A share is a whole number of basis points (100 bp = 1%)."))
            continue
        if bp < 0 or bp > BASIS_POINTS:
            errors.add(f"{where}.bp", _("A share is between 0 and 10000 basis points."))
            continue
        key = ("brand", brand_id) if brand_id is not None else ("user", user_id)
        if key in seen:
            errors.add(where, _("Each party appears once."))
            continue
        seen.add(key)
        cleaned.append({"user_id": user_id, "brand_id": brand_id, "role": role, "bp": bp, "where": where})
    errors.raise_if_any()
    user_ids = {p["user_id"] for p in cleaned if p["user_id"] is not None}
    brand_ids = {p["brand_id"] for p in cleaned if p["brand_id"] is not None}
    known_users = set(db.session.scalars(select(User.id).where(User.id.in_(user_ids), User.is_active_account.is_(True))))
    known_brands = set(db.session.scalars(select(Brand.id).where(Brand.id.in_(brand_ids))))
    for party in cleaned:
        if party["user_id"] is not None and party["user_id"] not in known_users:
            errors.add(party["where"], _("There is no user %(id)s.", id=party["user_id"]))
        if party["brand_id"] is not None and party["brand_id"] not in known_brands:
            errors.add(party["where"], _("There is no brand %(id)s.", id=party["brand_id"]))
    errors.raise_if_any()
    total = sum(p["bp"] for p in cleaned)
    if total + fee_bp != BASIS_POINTS:
        raise ValidationFailed.one("parties", _(
            "The shares add up to %(total)d bp; with the platform fee of %(fee)d bp they must make exactly 10000 "
            "(so the parties share %(expected)d bp).", total=total, fee=fee_bp, expected=BASIS_POINTS - fee_bp))
    return cleaned


def _new_version(listing: Listing, actor: User | None, parties: list[dict], fee_bp: int, bearer: str,
                 now: datetime, fulfilled_by: str = Fulfiller.CREATOR) -> RoyaltySplit:
    """Make the next version; parties who accepted the same share, role and fee bearer in the active version or
    in the version waiting (which this one replaces), the owner, and brands the acting owner belongs to are
    accepted at once. Becomes active when nobody is left to ask."""
    # one change at a time per listing: a second request waits here, then numbers its version after this one
    db.session.execute(select(Listing.id).where(Listing.id == listing.id).with_for_update())
    previous = active_split(listing.id)
    replaced = list(db.session.scalars(select(RoyaltySplit).where(
        RoyaltySplit.listing_id == listing.id, RoyaltySplit.status == SplitStatus.PROPOSED)
        .options(selectinload(RoyaltySplit.parties))))
    # an agreement carries over only to the very terms agreed to: the same share, role, fee bearer and shipper
    accepted_before = {
        (p.party_key, p.role, p.bp, version.gateway_fee_bearer, version.fulfilled_by)
        for version in ([previous] if previous else []) + replaced
        for p in version.parties if p.accepted_at is not None
    }
    owner_id = _owner_user_id(listing)
    own_brands = _brand_ids_of(actor) if actor is not None and actor.id == owner_id else set()
    number = (db.session.scalar(select(func.max(RoyaltySplit.version)).where(RoyaltySplit.listing_id == listing.id)) or 0) + 1
    for pending in replaced:
        pending.status = SplitStatus.WITHDRAWN
        pending.note = pending.note or "replaced"
    split = RoyaltySplit(listing_id=listing.id, version=number, status=SplitStatus.PROPOSED, platform_fee_bp=fee_bp,
                         gateway_fee_bearer=bearer, fulfilled_by=fulfilled_by,
                         created_by_id=actor.id if actor else None, created_at=now)
    for position, item in enumerate(parties):
        party = SplitParty(position=position, user_id=item["user_id"], brand_id=item["brand_id"], role=item["role"],
                           bp=item["bp"])
        if (item["user_id"] is not None and item["user_id"] == owner_id) or item["brand_id"] in own_brands \
                or (party.party_key, party.role, party.bp, bearer, fulfilled_by) in accepted_before:
            party.accepted_at = now
            party.accepted_by_id = actor.id if actor is not None and item["user_id"] == owner_id else None
        split.parties.append(party)
    db.session.add(split)
    db.session.flush()
    if not split.waiting_for:
        _activate(split, now)
    return split


def _activate(split: RoyaltySplit, now: datetime) -> None:
    for older in db.session.scalars(select(RoyaltySplit).where(
            RoyaltySplit.listing_id == split.listing_id, RoyaltySplit.status == SplitStatus.ACTIVE,
            RoyaltySplit.id != split.id)):
        older.status = SplitStatus.SUPERSEDED
    split.status = SplitStatus.ACTIVE
    split.activated_at = now
    _record_partners(split)


def _record_partners(split: RoyaltySplit) -> None:
    """Brands sharing as co-brand in a version that became active are the listing's co-brand partners (shown
    beside the streamer on the listing page); a partner named before stays."""
    brand_ids = {p.brand_id for p in split.parties if p.brand_id is not None and p.role == SplitRole.CO_BRAND}
    if not brand_ids:
        return
    listing = db.session.get(Listing, split.listing_id)
    have = {partner.brand_id for partner in listing.partners}
    listing.partners.extend(ListingPartner(brand_id=brand_id) for brand_id in sorted(brand_ids - have))


def set_split(user: User, listing: Listing, parties, now: datetime, gateway_fee_bearer: str | None = None,
              fulfilled_by: str | None = None) -> RoyaltySplit:
    """Propose a new split for the owner's listing (`parties`: [{"user_id" or "brand_id", "role", "bp"}]);
    `fulfilled_by` says who ships its merch: "creator" (the default) or "co_brand" (needs a co-brand party).

    :raise 403: not the listing's owner :raise 409: the listing is archived
    :raise 422: shares that do not add up with the platform fee, a negative share, an unknown user or brand,
        the co-brand shipping in a split without one
    """
    if not catalog.is_owner(user, listing):
        raise PermissionDenied(_("Only the listing's streamer sets its split."))
    if listing.status == ListingStatus.ARCHIVED:
        raise Conflict(_("An archived listing's split cannot change."))
    bearer = gateway_fee_bearer or FeeBearer.PLATFORM
    if bearer not in tuple(FeeBearer):
        raise ValidationFailed.one("gateway_fee_bearer", _("Choose who bears payment fees: %(choices)s.",
                                                           choices=", ".join(FeeBearer)))
    shipper = fulfilled_by or Fulfiller.CREATOR
    if shipper not in tuple(Fulfiller):
        raise ValidationFailed.one("fulfilled_by", _("Choose who ships: %(choices)s.", choices=", ".join(Fulfiller)))
    fee = platform_fee_bp(listing.id)
    cleaned = _clean_parties(parties, fee)
    if shipper == Fulfiller.CO_BRAND and not any(
            p["brand_id"] is not None and p["role"] == SplitRole.CO_BRAND for p in cleaned):
        raise ValidationFailed.one("fulfilled_by", _("Only a split with a co-brand can have the co-brand ship."))
    return _new_version(listing, user, cleaned, fee, bearer, now, shipper)


def _party_for(user: User, party_id) -> SplitParty:
    party = db.session.get(SplitParty, party_id) if isinstance(party_id, int) and not isinstance(party_id, bool) else None
    if party is None or not speaks_for(user, party):
        raise NotFound(_("There is no such share waiting for you."))
    return party


def _locked_split(party: SplitParty) -> RoyaltySplit:
    """The party's version, locked and read afresh: answers to one version are taken one at a time, so two
    parties accepting at once cannot each see the other still waiting (and leave the version never activated),
    and an acceptance cannot race a decline."""
    return db.session.scalar(select(RoyaltySplit).where(RoyaltySplit.id == party.split_id).with_for_update()
                             .execution_options(populate_existing=True))


def accept_share(user: User, party_id: int, now: datetime) -> SplitParty:
    """The party (the user, or a member of the brand) agrees to its share; the version becomes active once
    everyone has. :raise 404: not yours :raise 409: the version is no longer waiting"""
    party = _party_for(user, party_id)
    split = _locked_split(party)
    if split.status != SplitStatus.PROPOSED:
        raise Conflict(_("This split is no longer waiting for answers."))
    if party.accepted_at is None:
        party.accepted_at = now
        party.accepted_by_id = user.id
    db.session.flush()
    # counted in the database, after the lock: the loaded parties may predate another party's committed answer
    still_waiting = db.session.scalar(select(func.count(SplitParty.id)).where(
        SplitParty.split_id == split.id, SplitParty.accepted_at.is_(None)))
    if not still_waiting:
        _activate(split, now)
        db.session.flush()
    return party


def decline_share(user: User, party_id: int, now: datetime, reason: str | None = None) -> SplitParty:
    """The party turns its share down: the version is withdrawn and the owner proposes another.
    :raise 404: not yours :raise 409: the version is no longer waiting"""
    party = _party_for(user, party_id)
    split = _locked_split(party)
    if split.status != SplitStatus.PROPOSED:
        raise Conflict(_("This split is no longer waiting for answers."))
    split.status = SplitStatus.WITHDRAWN
    split.note = ((reason or "").strip()[:500]) or "declined"
    db.session.flush()
    return party


def waiting_shares(user: User) -> list[SplitParty]:
    """Shares offered to the user or to their brands that still wait for an answer."""
    brand_ids = _brand_ids_of(user)
    mine = SplitParty.user_id == user.id
    if brand_ids:
        mine = mine | SplitParty.brand_id.in_(brand_ids)
    return list(db.session.scalars(
        select(SplitParty).join(RoyaltySplit).where(
            mine, SplitParty.accepted_at.is_(None), RoyaltySplit.status == SplitStatus.PROPOSED)
        .options(selectinload(SplitParty.split)).order_by(SplitParty.id)
    ))


def set_platform_fee(user: User, listing: Listing, bp, now: datetime) -> RoyaltySplit | None:
    """An operator sets this listing's platform fee. A split already set gets a new version in which the
    streamer's own share absorbs the difference (other parties keep theirs and their acceptance).
    :raise 403: not an operator :raise 422: not 0..10000 :raise 409: the streamer's share cannot absorb it"""
    if not catalog.is_operator(user):
        raise PermissionDenied(_("Only operators set a listing's platform fee."))
    if isinstance(bp, bool) or not isinstance(bp, int) or not 0 <= bp <= BASIS_POINTS:
        raise ValidationFailed.one("bp", _("The platform fee is between 0 and 10000 basis points."))
    current = proposed_split(listing.id) or active_split(listing.id)
    parties = None
    if current is not None and current.platform_fee_bp != bp:
        owner_id = _owner_user_id(listing)
        parties = [{"user_id": p.user_id, "brand_id": p.brand_id, "role": p.role, "bp": p.bp} for p in current.parties]
        owner = next((p for p in parties if p["user_id"] == owner_id), None)
        if owner is None or owner["bp"] + current.platform_fee_bp - bp < 0:
            raise Conflict(_("The streamer's share cannot absorb this fee; ask them to change the split first."))
        owner["bp"] += current.platform_fee_bp - bp
    override = db.session.get(ListingPlatformFee, listing.id)
    if override is None:
        db.session.add(ListingPlatformFee(listing_id=listing.id, bp=bp, set_by_id=user.id, set_at=now))
    else:
        override.bp, override.set_by_id, override.set_at = bp, user.id, now
    db.session.flush()
    if parties is None:
        return None
    split = _new_version(listing, None, parties, bp, current.gateway_fee_bearer, now, current.fulfilled_by)
    return split


def submit_problems(listing: Listing) -> list[str]:
    """Registered with the catalog: a listing whose newest split still waits for a party is not submitted."""
    pending = proposed_split(listing.id)
    if pending is None or not pending.waiting_for:
        return []
    names = ", ".join(party.name for party in pending.waiting_for)
    return [_("The royalty split is waiting for %(names)s to accept their share.", names=names)]
