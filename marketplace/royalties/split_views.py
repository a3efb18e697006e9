"""Split pages: the streamer's split page for a listing (the current split, its versions and a form to propose a
new one; an operator sees the platform fee form there too) and the page of shares offered to the signed-in user
and their brands, with Accept and Decline.

People type a party as a user's email or a brand's slug, and a share in percent ("12.5"); the page turns them
into the ids and basis points marketplace.royalties.splits takes. A refused form is shown again with the input
kept, each message next to its row, and the refusal's status (422, 409, 403).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_percent
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.accounts.models import Brand, User
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, ServiceError, ValidationFailed
from app.extensions import db
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing, ListingStatus
from marketplace.royalties import splits
from marketplace.royalties.models import BASIS_POINTS, FeeBearer, Fulfiller, RoyaltySplit, SplitParty, SplitRole, SplitStatus

bp = Blueprint("royalties_split_views", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/royalties-splits")

#: the form always offers this many rows at least, so parties can be added without JavaScript
MIN_ROWS = 6
#: blank rows offered below the parties already named
SPARE_ROWS = 2
HUNDREDTH = Decimal("0.01")


# ---------------------------------------------------------------- helpers shared with templates

def share_percent(bp: int) -> str:
    """A share in the reader's number format: 60%, 12.5%."""
    return format_percent(Decimal(bp) / BASIS_POINTS, "#,##0.##%")


def percent_input(bp: int) -> str:
    """A share as typed back into the form: "60", "12.5" (never an exponent like 6E+1)."""
    return format(Decimal(bp) / 100, "f")


def split_page_url(listing: Listing) -> str:
    return url_for("royalties_split_views.split_page", listing_id=listing.id)


@bp.app_context_processor
def _split_helpers() -> dict:
    def offered_shares_count() -> int:
        if not current_user.is_authenticated:
            return 0
        return len(splits.waiting_shares(current_user))

    return {"split_page_url": split_page_url, "offered_shares_count": offered_shares_count}


def _messages(exc: ServiceError) -> list[str]:
    if isinstance(exc, ValidationFailed):
        return [message for messages in exc.errors.values() for message in messages] or [exc.message]
    return [exc.message]


# ---------------------------------------------------------------- the split form

@dataclass
class Row:
    """One party row of the form as typed, with its messages."""

    party: str = ""
    role: str = ""
    share: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not self.party.strip() and not self.share.strip()

    def add(self, where: str, message: str) -> None:
        self.errors.setdefault(where, []).append(message)


@dataclass
class SplitForm:
    rows: list[Row]
    gateway_fee_bearer: str = FeeBearer.PLATFORM
    errors: list[str] = field(default_factory=list)
    fulfilled_by: str = Fulfiller.CREATOR

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(row.errors for row in self.rows)


def _padded(rows: list[Row]) -> list[Row]:
    wanted = min(splits.MAX_PARTIES, max(MIN_ROWS, len(rows) + SPARE_ROWS))
    return rows + [Row() for _ in range(wanted - len(rows))]


def _identifier(party: SplitParty) -> str:
    if party.brand_id is not None:
        return party.brand.slug
    return party.user.email if party.user is not None else ""


def _form_from(listing: Listing, version: RoyaltySplit | None) -> SplitForm:
    """The form filled with the version people would start from: the one waiting, else the active one, else the
    default (the streamer alone)."""
    if version is None:
        rows = [Row(listing.creator.user.email, SplitRole.CREATOR,
                    percent_input(BASIS_POINTS - splits.platform_fee_bp(listing.id)))]
        return SplitForm(_padded(rows))
    rows = [Row(_identifier(p), p.role, percent_input(p.bp)) for p in version.parties]
    return SplitForm(_padded(rows), version.gateway_fee_bearer, fulfilled_by=version.fulfilled_by)


def _form_from_request() -> SplitForm:
    try:
        count = int(request.form.get("rows", MIN_ROWS))
    except ValueError:
        count = MIN_ROWS
    count = max(1, min(count, splits.MAX_PARTIES))
    rows = [Row(request.form.get(f"party-{i}", "").strip()[:254], request.form.get(f"role-{i}", ""),
                request.form.get(f"share-{i}", "").strip()[:20]) for i in range(count)]
    return SplitForm(rows, request.form.get("gateway_fee_bearer", FeeBearer.PLATFORM),
                     fulfilled_by=request.form.get("fulfilled_by", Fulfiller.CREATOR))


def parse_percent(text: str) -> int | None:
    """ "12.5" (or "12,5", "12.5%") as basis points; None when it is not a percentage with at most 2 decimals."""
    cleaned = text.replace("%", "").replace(",", ".").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.quantize(HUNDREDTH):
        return None
    return int(value * 100)


def _party_ids(identifier: str) -> tuple[int | None, int | None] | None:
    """A user's email or a brand's slug as (user_id, brand_id); None when nobody has it."""
    if "@" in identifier:
        user_id = db.session.scalar(select(User.id).where(func.lower(User.email) == identifier.lower(),
                                                          User.is_active_account.is_(True)))
        return (user_id, None) if user_id is not None else None
    brand_id = db.session.scalar(select(Brand.id).where(func.lower(Brand.slug) == identifier.lower()))
    return (None, brand_id) if brand_id is not None else None


def _parties_of(form: SplitForm, fee_bp: int) -> tuple[list[dict], list[int]]:
    """The form's rows as the service's party list, and for each party the row it came from. Messages about one
    row go on that row; a total that does not make 100% with the fee goes above the form, in percent."""
    parties, origin = [], []
    for index, row in enumerate(form.rows):
        if row.blank:
            continue
        ids = None
        if not row.party:
            row.add("party", _("Enter a user's email or a brand's slug."))
        else:
            ids = _party_ids(row.party)
            if ids is None:
                row.add("party", _("Nobody on Encore has the email or brand slug %(name)s.", name=row.party))
        if row.role not in tuple(SplitRole):
            row.add("role", _("Choose a role."))
        bp = parse_percent(row.share) if row.share else None
        if bp is None:
            row.add("share", _("Enter a share in percent, like 12.5 (at most two decimals)."))
        elif not 0 <= bp <= BASIS_POINTS:
            row.add("share", _("A share is between 0% and 100%."))
        if not row.errors:
            user_id, brand_id = ids
            parties.append({"user_id": user_id, "brand_id": brand_id, "role": row.role, "bp": bp})
            origin.append(index)
    if not parties and not form.has_errors:
        form.errors.append(_("Name at least one party."))
    if not form.has_errors:
        total = sum(p["bp"] for p in parties)
        if total + fee_bp != BASIS_POINTS:
            form.errors.append(_("The shares add up to %(total)s; with the platform fee of %(fee)s the parties must "
                                 "share exactly %(expected)s.", total=share_percent(total), fee=share_percent(fee_bp),
                                 expected=share_percent(BASIS_POINTS - fee_bp)))
    return parties, origin


def _place(form: SplitForm, exc: ValidationFailed, origin: list[int]) -> None:
    """The service's field names (parties.1.bp) as messages next to the form's rows."""
    for name, messages in exc.errors.items():
        parts = name.split(".")
        if parts[0] == "parties" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(origin):
            row = form.rows[origin[int(parts[1])]]
            where = {"bp": "share", "role": "role"}.get(parts[2] if len(parts) > 2 else "", "party")
            for message in messages:
                row.add(where, message)
        else:
            form.errors.extend(messages)


# ---------------------------------------------------------------- the split page

def _listing_for_split_page(listing_id: int) -> Listing:
    """The listing for its owner or an operator: 404 when hidden from the user, 403 when visible to them."""
    listing = catalog.get_visible_listing(current_user, listing_id)
    if not (catalog.is_owner(current_user, listing) or catalog.is_operator(current_user)):
        raise PermissionDenied(_("Only the listing's streamer and operators see its split."))
    return listing


def _split_page(listing: Listing, form: SplitForm | None = None, fee_errors: list[str] | None = None,
                fee_value: str | None = None, status: int = 200):
    active = splits.active_split(listing.id)
    pending = splits.proposed_split(listing.id)
    fee_bp = splits.platform_fee_bp(listing.id)
    is_owner = catalog.is_owner(current_user, listing)
    if form is None:
        form = _form_from(listing, pending or active)
    else:
        while form.rows and form.rows[-1].blank and not form.rows[-1].errors:
            form.rows.pop()  # the blank rows typed past are offered afresh
        form.rows = _padded(form.rows)
    owner = listing.creator.user
    return render_template(
        "royalties/split_listing.html", listing=listing, active=active, pending=pending,
        history=splits.split_history(listing.id), fee_bp=fee_bp, owner=owner, form=form, is_owner=is_owner,
        is_operator=catalog.is_operator(current_user), fee_errors=fee_errors or [],
        fee_value=fee_value if fee_value is not None else percent_input(fee_bp),
        is_published=listing.status == ListingStatus.PUBLISHED, is_archived=listing.status == ListingStatus.ARCHIVED,
        roles=[(role.value, splits.role_label(role)) for role in SplitRole],
        bearers=[(FeeBearer.PLATFORM.value, _("Encore pays them")),
                 (FeeBearer.SHARED.value, _("Everyone, in proportion to their share"))],
        share_percent=share_percent, role_label=splits.role_label, status_label=splits.status_label,
        PROPOSED=SplitStatus.PROPOSED, is_physical=_is_physical(listing),
        fulfillers=[(value.value, splits.fulfiller_label(value)) for value in Fulfiller],
        fulfiller_label=splits.fulfiller_label,
    ), status


def _is_physical(listing: Listing) -> bool:
    from marketplace import kinds

    kind = kinds.get(listing.kind)
    return kind is not None and kind.is_physical


@bp.get("/dashboard/listings/<int:listing_id>/split")
@login_required
def split_page(listing_id: int):
    return _split_page(_listing_for_split_page(listing_id))


@bp.post("/dashboard/listings/<int:listing_id>/split")
@login_required
def propose_split(listing_id: int):
    listing = catalog.get_own_listing(current_user, listing_id)
    form = _form_from_request()
    if form.gateway_fee_bearer not in tuple(FeeBearer):
        form.errors.append(_("Choose who bears payment fees."))
    parties, origin = _parties_of(form, splits.platform_fee_bp(listing.id))
    if form.has_errors:
        return _split_page(listing, form, status=422)
    try:
        split = splits.set_split(current_user, listing, parties, utcnow(), form.gateway_fee_bearer, form.fulfilled_by)
    except ValidationFailed as exc:
        db.session.rollback()
        _place(form, exc, origin)
        return _split_page(listing, form, status=exc.status_code)
    except (Conflict, PermissionDenied) as exc:
        db.session.rollback()
        form.errors.extend(_messages(exc))
        return _split_page(listing, form, status=exc.status_code)
    waiting = [party.name for party in split.waiting_for]
    version = split.version
    db.session.commit()
    if waiting:
        flash(_("Version %(version)d of the split is waiting for %(names)s to accept their share.",
                version=version, names=", ".join(waiting)), "info")
    else:
        flash(_("Version %(version)d of the split is active: it applies to sales from now on.", version=version),
              "success")
    return redirect(url_for("royalties_split_views.split_page", listing_id=listing_id))


@bp.post("/dashboard/listings/<int:listing_id>/split/platform-fee")
@login_required
def set_platform_fee(listing_id: int):
    if not catalog.is_operator(current_user):
        raise PermissionDenied(_("Only operators set a listing's platform fee."))
    listing = catalog.get_visible_listing(current_user, listing_id)
    typed = request.form.get("fee", "").strip()[:20]
    bp = parse_percent(typed)
    try:
        if bp is None or not 0 <= bp <= BASIS_POINTS:
            raise ValidationFailed.one("fee", _("Enter a fee between 0% and 100%, like 12.5."))
        splits.set_platform_fee(current_user, listing, bp, utcnow())
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        return _split_page(listing, fee_errors=_messages(exc), fee_value=typed, status=exc.status_code)
    db.session.commit()
    flash(_("The platform fee for this listing is now %(fee)s.", fee=share_percent(bp)), "success")
    return redirect(url_for("royalties_split_views.split_page", listing_id=listing_id))


# ---------------------------------------------------------------- shares offered to me

@dataclass
class Offer:
    share: SplitParty
    listing: Listing
    split: RoyaltySplit


def _offers() -> list[Offer]:
    shares = splits.waiting_shares(current_user)
    listings = {listing.id: listing for listing in db.session.scalars(
        select(Listing).where(Listing.id.in_({share.split.listing_id for share in shares})))}
    return [Offer(share, listings[share.split.listing_id], share.split) for share in shares]


@bp.get("/dashboard/splits")
@login_required
def offers_page():
    return render_template("royalties/split_offers.html", offers=_offers(), share_percent=share_percent,
                           role_label=splits.role_label, PUBLISHED=ListingStatus.PUBLISHED)


def _answer(party_id: int, accept: bool):
    try:
        if accept:
            party = splits.accept_share(current_user, party_id, utcnow())
        else:
            reason = request.form.get("reason", "").strip()[:500]
            party = splits.decline_share(current_user, party_id, utcnow(), reason or None)
    except (NotFound, Conflict) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("royalties_split_views.offers_page"))
    active = party.split.status == SplitStatus.ACTIVE
    db.session.commit()
    if not accept:
        flash(_("You declined the share. The streamer sees your reason on the split page and can propose another split."), "info")
    elif active:
        flash(_("You accepted the share. Everyone has, so the split applies to sales from now on."), "success")
    else:
        flash(_("You accepted the share. The split applies once every party has accepted."), "success")
    return redirect(url_for("royalties_split_views.offers_page"))


@bp.post("/dashboard/splits/<int:party_id>/accept")
@login_required
def accept_offer(party_id: int):
    return _answer(party_id, accept=True)


@bp.post("/dashboard/splits/<int:party_id>/decline")
@login_required
def decline_offer(party_id: int):
    return _answer(party_id, accept=False)
