"""Catalog pages: home, browse, listing, storefront, the streamer's dashboard and the operators' review queue.

Views parse the request, call marketplace.catalog.services, commit once and render or redirect.
NotFound and PermissionDenied from the services propagate to the app's error pages.
"""
from __future__ import annotations

from collections import Counter

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.accounts.services import find_creator
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.liverooms.services import platform_label, rooms_of
from app.security import safe_local_path
from app.storage import get_storage
from marketplace import kinds
from marketplace.catalog import services
from marketplace.catalog.forms import ListingForm, NewListingForm, price_rows
from marketplace.catalog.models import Listing, ListingStatus

bp = Blueprint("catalog", __name__, template_folder="templates")

#: the workflow steps a creator takes from the dashboard, and the ones an operator takes from the queue
OWNER_ACTIONS = ("submit", "publish", "archive")
REVIEW_ACTIONS = ("approve", "reject")
#: far beyond any real catalog; keeps the SQL offset a sane number whatever the URL says
MAX_PAGE = 100_000


# ---------------------------------------------------------------- template helpers

def kind_label(code: str) -> str:
    kind = kinds.get(code)
    return str(kind.label) if kind else code


def manage_link(listing: Listing) -> tuple[str, str] | None:
    """(label, url) of the kind's own content editor for this listing, if the kind has one."""
    kind = kinds.get(listing.kind)
    if kind is None or kind.manage_endpoint is None:
        return None
    return str(kind.manage_label), url_for(kind.manage_endpoint, listing_id=listing.id)


def allowed_actions(listing: Listing) -> list[str]:
    """The buttons the dashboard offers for a listing in its current status."""
    status = listing.status
    actions = []
    if status not in services.LOCKED_FOR_EDITING:
        actions.append("edit")
    if status in (ListingStatus.DRAFT, ListingStatus.REJECTED):
        actions.append("submit")
    if status == ListingStatus.APPROVED:
        actions.append("publish")
    if status != ListingStatus.ARCHIVED and status != ListingStatus.SUBMITTED:
        actions.append("archive")
    return actions


@bp.context_processor
def _helpers():
    return {
        "kind_label": kind_label,
        "status_label": services.status_label,
        "platform_label": platform_label,
        "allowed_actions": allowed_actions,
        "manage_link": manage_link,
        "is_operator": services.is_operator(current_user),
    }


def _page_number() -> int:
    """?page= as a number from 1 to MAX_PAGE; anything unreadable is page 1."""
    try:
        number = int(request.args.get("page", "1"))
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


def _per_page() -> int:
    return int(current_app.config.get("ENCORE_LISTINGS_PER_PAGE", 12))


def _safe_next(default: str) -> str:
    """The form's `next` field if it is a local path, else the default."""
    return safe_local_path(request.form.get("next")) or default


def _messages(exc: ValidationFailed) -> str:
    return " ".join(message for messages in exc.errors.values() for message in messages) or exc.message


# ---------------------------------------------------------------- public pages

@bp.get("/")
def home():
    return render_template(
        "catalog/home.html",
        featured=services.featured_listings(),
        newest=services.published_listings(page=1, per_page=_per_page()).items,
        kinds=kinds.all_kinds(),
    )


@bp.get("/browse")
def browse():
    code = request.args.get("kind") or None
    kind = None
    if code is not None:
        kind = kinds.get(code)
        if kind is None:
            raise NotFound(_("There is no such kind of listing."))
    page = services.published_listings(kind=code, page=_page_number(), per_page=_per_page())
    return render_template("catalog/browse.html", page=page, kind=kind, kinds=kinds.all_kinds())


@bp.get("/listings/<slug>")
def listing(slug: str):
    item = services.get_visible_listing(current_user, slug=slug)
    kind = kinds.get(item.kind)
    return render_template(
        "catalog/listing.html",
        listing=item,
        rooms=rooms_of(item.creator),
        is_owner=services.is_owner(current_user, item),
        kind_section=kind.listing_section(item, current_user) if kind and kind.listing_section else None,
    )


@bp.get("/@<handle>")
def storefront(handle: str):
    creator = find_creator(handle)
    if creator is None:
        raise NotFound(_("There is no streamer called @%(handle)s.", handle=handle))
    page = services.published_listings(creator=creator, page=_page_number(), per_page=_per_page())
    return render_template("catalog/storefront.html", creator=creator, page=page, rooms=rooms_of(creator))


# ---------------------------------------------------------------- the streamer's dashboard

@bp.get("/dashboard")
@login_required
def dashboard():
    creator = current_user.creator_profile
    if creator is None:
        return render_template("catalog/become_streamer.html")
    listings = services.creator_listings(creator)
    counts = Counter(item.status for item in listings)
    summary = [(services.status_label(status), counts.get(status, 0)) for status in ListingStatus]
    return render_template("catalog/dashboard.html", creator=creator, listings=listings, summary=summary)


def _listing_form_page(form: ListingForm, listing: Listing | None, status: int = 200):
    return render_template("catalog/listing_form.html", form=form, listing=listing), status


class _Undo(Exception):
    """Raised inside the savepoint to undo the service calls when the form itself had errors."""


def _save_form(form: ListingForm, work) -> Listing | None:
    """Run `work(data, cover)` (the service calls) in a savepoint; on bad input undo it all and show the errors.

    The form's own reading errors (an amount that is not a number) and the services' errors are shown
    together; the cover is only stored when everything else is valid, so nothing is half-written.
    """
    data, errors = form.to_data()
    cover = form.cover_bytes()
    found = {field: list(messages) for field, messages in errors.errors.items()}
    saved = None
    try:
        with db.session.begin_nested():
            saved = work(data, None if found else cover)
            if found:
                raise _Undo  # the reading errors must be fixed first: roll the savepoint back
    except _Undo:
        saved = None
    except ValidationFailed as exc:
        saved = None
        for field, messages in exc.errors.items():
            found.setdefault(field, []).extend(messages)
    if saved is None:
        form.show_errors(found)
        if cover is not None and "cover" not in found:
            form.cover.errors = [*form.cover.errors, _("The form has errors; choose the cover image again.")]
    return saved


@bp.route("/dashboard/listings/new", methods=["GET", "POST"])
@login_required
def new_listing():
    if current_user.creator_profile is None:
        return render_template("catalog/become_streamer.html"), 403
    if request.method == "GET":
        return _listing_form_page(NewListingForm(formdata=None, data={"prices": price_rows([], current_app.config["ENCORE_DEFAULT_CURRENCY"])}), None)
    form = NewListingForm()
    form.validate()

    def work(data, cover):
        created = services.create_listing(current_user, data)
        if cover is not None:
            services.set_cover(current_user, created, cover, get_storage())
        return created

    created = _save_form(form, work)
    if created is None:
        return _listing_form_page(form, None, 422)
    db.session.commit()
    flash(_("“%(title)s” was saved as a draft. Submit it for review when it is ready.", title=created.title), "success")
    return redirect(url_for("catalog.dashboard"))


@bp.route("/dashboard/listings/<int:listing_id>/edit", methods=["GET", "POST"])
@login_required
def edit_listing(listing_id: int):
    item = services.get_own_listing(current_user, listing_id)
    if item.status in services.LOCKED_FOR_EDITING:
        flash(
            _("“%(title)s” cannot be edited while it is %(status)s.", title=item.title, status=services.status_label(item.status)),
            "error",
        )
        return redirect(url_for("catalog.dashboard"))
    if request.method == "GET":
        return _listing_form_page(ListingForm.for_listing(item), item)
    form = ListingForm()
    form.validate()

    def work(data, cover):
        services.update_listing(current_user, item, data)
        if cover is not None:
            services.set_cover(current_user, item, cover, get_storage())
        return item

    try:
        saved = _save_form(form, work)
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("catalog.dashboard"))
    if saved is None:
        return _listing_form_page(form, item, 422)
    db.session.commit()
    flash(_("“%(title)s” was saved.", title=saved.title), "success")
    return redirect(url_for("catalog.dashboard"))


@bp.post("/dashboard/listings/<int:listing_id>/<action>")
@login_required
def listing_action(listing_id: int, action: str):
    if action not in OWNER_ACTIONS:
        abort(404)
    item = services.get_visible_listing(current_user, listing_id)
    back = _safe_next(url_for("catalog.dashboard"))
    try:
        services.TRANSITIONS[action](current_user, item)
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(_messages(exc), "error")
        return redirect(back)
    db.session.commit()
    done = {
        "submit": _("“%(title)s” was sent to the operators for review.", title=item.title),
        "publish": _("“%(title)s” is now live in the catalog.", title=item.title),
        "archive": _("“%(title)s” was archived.", title=item.title),
    }
    flash(done[action], "success")
    return redirect(back)


# ---------------------------------------------------------------- the operators' review queue

def _require_operator() -> None:
    if not services.is_operator(current_user):
        raise PermissionDenied(_("Only operators can review listings."))


def _review_page(reject_errors: dict[int, list[str]] | None = None, reasons: dict[int, str] | None = None, status: int = 200):
    return (
        render_template(
            "catalog/review_queue.html",
            listings=services.review_queue(),
            reject_errors=reject_errors or {},
            reasons=reasons or {},
        ),
        status,
    )


@bp.get("/operator/review")
@login_required
def review_queue():
    _require_operator()
    return _review_page()


@bp.post("/operator/review/<int:listing_id>/<action>")
@login_required
def review_action(listing_id: int, action: str):
    _require_operator()
    if action not in REVIEW_ACTIONS:
        abort(404)
    item = services.get_visible_listing(current_user, listing_id)
    try:
        if action == "approve":
            services.approve_listing(current_user, item)
        else:
            services.reject_listing(current_user, item, request.form.get("reason", ""))
    except ValidationFailed as exc:
        db.session.rollback()
        reason = request.form.get("reason", "")
        return _review_page({listing_id: [m for ms in exc.errors.values() for m in ms]}, {listing_id: reason}, 422)
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("catalog.review_queue"))
    db.session.commit()
    if action == "approve":
        flash(_("“%(title)s” was approved; its creator can publish it now.", title=item.title), "success")
    else:
        flash(_("“%(title)s” was sent back to its creator with your reason.", title=item.title), "success")
    return redirect(url_for("catalog.review_queue"))


@bp.post("/operator/listings/<int:listing_id>/featured")
@login_required
def set_featured(listing_id: int):
    _require_operator()
    item = services.get_visible_listing(current_user, listing_id)
    featured = request.form.get("featured") == "1"
    services.set_featured(current_user, item, featured)
    db.session.commit()
    if featured:
        flash(_("“%(title)s” is now featured on the home page.", title=item.title), "success")
    else:
        flash(_("“%(title)s” is no longer featured.", title=item.title), "success")
    return redirect(_safe_next(url_for("catalog.listing", slug=item.slug)))
