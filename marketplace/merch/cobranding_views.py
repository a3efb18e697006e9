"""Co-branding pages: the streamer's "Invite a brand to co-brand" form for a merch listing, and a brand's page of
invitations where its members accept or decline (with a comment)."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing, ListingStatus
from marketplace.merch import cobranding
from marketplace.royalties import splits
from marketplace.royalties.models import BASIS_POINTS, Fulfiller, SplitParty, SplitStatus
from marketplace.royalties.split_views import parse_percent, share_percent

bp = Blueprint("merch_cobranding_views", __name__, template_folder="templates")

MAX_COMMENT = 500


@dataclass
class InviteForm:
    brand: str = ""
    share: str = ""
    fulfilled_by: str = Fulfiller.CREATOR
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    @property
    def other_errors(self) -> list[str]:
        return [m for name, messages in self.errors.items() if name not in ("brand", "share", "fulfilled_by")
                for m in messages]


def _own_merch_listing(listing_id: int) -> Listing:
    listing = catalog.get_own_listing(current_user, listing_id)
    if not cobranding._is_merch(listing):
        raise NotFound(_("Only merch listings are co-branded."))
    return listing


def _invite_page(listing: Listing, form: InviteForm, status: int = 200):
    return render_template(
        "merch/cobranding_invite.html", listing=listing, form=form,
        active=splits.active_split(listing.id), pending=splits.proposed_split(listing.id),
        fee_bp=splits.platform_fee_bp(listing.id), share_percent=share_percent,
        fulfillers=[(value.value, splits.fulfiller_label(value)) for value in Fulfiller],
        is_archived=listing.status == ListingStatus.ARCHIVED,
    ), status


@bp.get("/dashboard/listings/<int:listing_id>/cobranding")
@login_required
def invite_page(listing_id: int):
    return _invite_page(_own_merch_listing(listing_id), InviteForm())


@bp.post("/dashboard/listings/<int:listing_id>/cobranding")
@login_required
def invite(listing_id: int):
    listing = _own_merch_listing(listing_id)
    form = InviteForm(request.form.get("brand", "").strip()[:120], request.form.get("share", "").strip()[:20],
                      request.form.get("fulfilled_by", Fulfiller.CREATOR))
    brand = cobranding.find_brand(form.brand)
    if not form.brand:
        form.add("brand", _("Enter the brand's name or slug."))
    elif brand is None:
        form.add("brand", _("No brand is called %(name)s.", name=form.brand))
    bp_value = parse_percent(form.share) if form.share else None
    if bp_value is None or not 0 < bp_value <= BASIS_POINTS:
        form.add("share", _("Enter the brand's share in percent, like 12.5."))
    if form.fulfilled_by not in tuple(Fulfiller):
        form.add("fulfilled_by", _("Choose who ships."))
    if form.errors:
        return _invite_page(listing, form, 422)
    try:
        split = cobranding.invite(current_user, listing, brand.id, bp_value, form.fulfilled_by, utcnow())
    except ValidationFailed as exc:
        db.session.rollback()
        for name, messages in exc.errors.items():
            for message in messages:
                form.add({"brand_bp": "share", "brand_id": "brand"}.get(name, name), message)
        return _invite_page(listing, form, exc.status_code)
    except (Conflict, PermissionDenied) as exc:
        db.session.rollback()
        form.add("form", exc.message)
        return _invite_page(listing, form, exc.status_code)
    active = split.status == SplitStatus.ACTIVE
    db.session.commit()
    if active:
        flash(_("The co-branding is agreed: the split applies to sales from now on."), "success")
    else:
        flash(_("%(brand)s is invited to co-brand %(title)s. The listing can be submitted once they accept.",
                brand=brand.name, title=listing.title), "info")
    return redirect(url_for("merch_cobranding_views.invite_page", listing_id=listing.id))


# ---------------------------------------------------------------- a brand's invitations

def _brand_page(brand_id: int, comment_errors: dict[int, str] | None = None, comments: dict[int, str] | None = None,
                status: int = 200):
    brand = cobranding.member_brand(current_user, brand_id)
    return render_template(
        "merch/cobranding_brand.html", brand=brand, invitations=cobranding.invitations_for_brand(current_user, brand.id),
        share_percent=share_percent, role_label=splits.role_label, state_label=cobranding.state_label,
        fulfiller_label=splits.fulfiller_label, comment_errors=comment_errors or {}, comments=comments or {},
        PUBLISHED=ListingStatus.PUBLISHED, brands=cobranding.brands_of(current_user),
    ), status


@bp.get("/dashboard/brands/<int:brand_id>/cobranding")
@login_required
def brand_page(brand_id: int):
    return _brand_page(brand_id)


@bp.get("/dashboard/cobranding")
@login_required
def my_brand_page():
    """The invitations of the user's (first) brand."""
    brands = cobranding.brands_of(current_user)
    if not brands:
        raise PermissionDenied(_("Only brand members see co-branding invitations."))
    return redirect(url_for("merch_cobranding_views.brand_page", brand_id=brands[0].id))


def _answer(brand_id: int, party_id: int, accept: bool):
    cobranding.member_brand(current_user, brand_id)
    comment = request.form.get("comment", "").strip()
    if len(comment) > MAX_COMMENT:
        return _brand_page(brand_id, {party_id: _("A comment has at most %(max)d characters.", max=MAX_COMMENT)},
                           {party_id: comment}, 422)
    share = db.session.get(SplitParty, party_id)
    if share is None or share.brand_id != brand_id:  # another brand's invitation under this brand's address
        raise NotFound(_("There is no such co-branding invitation for this brand."))
    try:
        if accept:
            party = cobranding.accept(current_user, party_id, utcnow())
        else:
            party = cobranding.decline(current_user, party_id, utcnow(), comment or None)
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("merch_cobranding_views.brand_page", brand_id=brand_id))
    active = party.split.status == SplitStatus.ACTIVE
    db.session.commit()
    if not accept:
        flash(_("You declined the co-branding. The streamer sees your comment."), "info")
    elif active:
        flash(_("You accepted the co-branding: the listing now shows your brand beside the streamer."), "success")
    else:
        flash(_("You accepted the co-branding. It applies once every party has accepted."), "success")
    return redirect(url_for("merch_cobranding_views.brand_page", brand_id=brand_id))


@bp.post("/dashboard/brands/<int:brand_id>/cobranding/<int:party_id>/accept")
@login_required
def accept(brand_id: int, party_id: int):
    return _answer(brand_id, party_id, accept=True)


@bp.post("/dashboard/brands/<int:brand_id>/cobranding/<int:party_id>/decline")
@login_required
def decline(brand_id: int, party_id: int):
    return _answer(brand_id, party_id, accept=False)
