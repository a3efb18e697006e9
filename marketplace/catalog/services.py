"""Catalog rules: creating and editing listings, the review workflow, and what the public may see."""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Generic, Sequence, TypeVar

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.accounts.models import CreatorProfile, User
from app.accounts.services import find_brand
from app.db import utcnow
from app.errors import Conflict, Errors, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.images import ImageRejected, cover_renditions
from app.money import CURRENCY_EXPONENTS, MAX_AMOUNT
from app.storage import Storage, delete_after_commit, new_key
from app.validation import SLUG_PATTERN, clean_text, image_error, slugify
from marketplace import kinds
from marketplace.catalog.models import (
    Listing,
    ListingPartner,
    ListingPrice,
    ListingStatus,
    ListingStatusChange,
    ListingTag,
)

MAX_TAGS = 10
MAX_TAG_LENGTH = 40
MAX_PARTNERS = 5
#: a listing cannot be edited while an operator reviews it, nor once archived
LOCKED_FOR_EDITING = {ListingStatus.SUBMITTED, ListingStatus.ARCHIVED}
#: editing content an operator already judged sends it back to draft for a new review
BACK_TO_DRAFT_ON_EDIT = {ListingStatus.REJECTED, ListingStatus.APPROVED}

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


# ---------------------------------------------------------------- input

def _clean_prices(value, errors: Errors) -> list[tuple[str, int]]:
    if not isinstance(value, list) or not value:
        errors.add("prices", _("Give at least one price."))
        return []
    prices: list[tuple[str, int]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        field = f"prices.{index}"
        if not isinstance(item, dict):
            errors.add(field, _("Each price needs a currency and an amount."))
            continue
        currency = item.get("currency")
        amount = item.get("amount")
        currency = currency.strip().upper() if isinstance(currency, str) else ""
        if currency not in CURRENCY_EXPONENTS:
            errors.add(f"{field}.currency", _("Unknown currency; use one of %(codes)s.", codes=", ".join(CURRENCY_EXPONENTS)))
            continue
        if currency in seen:
            errors.add(f"{field}.currency", _("%(currency)s is priced twice.", currency=currency))
            continue
        seen.add(currency)
        if isinstance(amount, bool) or not isinstance(amount, int):
            errors.add(f"{field}.amount", _("The amount must be a whole number of the currency's smallest unit."))
        elif amount <= 0:
            errors.add(f"{field}.amount", _("The price must be greater than zero."))
        elif amount > MAX_AMOUNT:
            errors.add(f"{field}.amount", _("The price is too high."))
        else:
            prices.append((currency, amount))
    return prices


def _clean_tags(value, errors: Errors) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        errors.add("tags", _("Tags must be a list of words."))
        return []
    tags: list[str] = []
    for tag in value:
        tag = " ".join(tag.split()).lower()
        if not tag or tag in tags:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            errors.add("tags", _("Each tag must be at most %(max)d characters.", max=MAX_TAG_LENGTH))
            return []
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        errors.add("tags", _("Use at most %(max)d tags.", max=MAX_TAGS))
        return []
    return tags


def _clean_partners(value, errors: Errors) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(slug, str) for slug in value):
        errors.add("partners", _("Partners must be a list of brand names."))
        return []
    brands = []
    for slug in dict.fromkeys(slug.strip().lower() for slug in value if slug.strip()):
        brand = find_brand(slug)
        if brand is None:
            errors.add("partners", _("No brand called %(slug)s.", slug=slug))
        else:
            brands.append(brand)
    if len(brands) > MAX_PARTNERS:
        errors.add("partners", _("Use at most %(max)d co-brand partners.", max=MAX_PARTNERS))
    return brands


def _slug_taken(slug: str, listing: Listing | None) -> bool:
    query = select(Listing.id).where(Listing.slug == slug)
    if listing is not None and listing.id is not None:
        query = query.where(Listing.id != listing.id)
    return db.session.scalar(query) is not None


def _clean_slug(value, errors: Errors, listing: Listing | None) -> str | None:
    if value in (None, ""):
        return None
    slug = value.strip().lower() if isinstance(value, str) else ""
    if len(slug) > 80 or not SLUG_PATTERN.match(slug):
        errors.add("slug", _("Use lower-case letters, digits and single hyphens, at most 80 characters."))
    elif _slug_taken(slug, listing):
        errors.add("slug", _("This slug is already used by another listing."))
    return slug


def _unique_slug(title: str, kind: str) -> str:
    base = slugify(title) or kind.replace("_", "-")
    candidate = base
    while _slug_taken(candidate, None):
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate


def _apply(listing: Listing, data: dict, *, creating: bool) -> None:
    """Validate every given field, then write them all or none."""
    errors = Errors()
    given = lambda name: creating or name in data  # noqa: E731
    cleaned: dict = {}
    if creating:
        kind = data.get("kind")
        if not isinstance(kind, str) or kinds.get(kind) is None:
            errors.add("kind", _("Choose one of: %(kinds)s.", kinds=", ".join(kinds.codes())))
        else:
            cleaned["kind"] = kind
    elif "kind" in data and data["kind"] != listing.kind:
        errors.add("kind", _("The kind of a listing cannot change."))
    if given("title"):
        cleaned["title"] = clean_text(data.get("title"), errors, "title", max_length=120)
    if given("description"):
        cleaned["description"] = clean_text(data.get("description"), errors, "description", max_length=10_000, required=False)
    if "slug" in data:
        cleaned["slug"] = _clean_slug(data.get("slug"), errors, listing)
    if given("prices"):
        cleaned["prices"] = _clean_prices(data.get("prices"), errors)
    if "tags" in data:
        cleaned["tags"] = _clean_tags(data.get("tags"), errors)
    if "partners" in data:
        cleaned["partners"] = _clean_partners(data.get("partners"), errors)
    if "shipping_profile_id" in data:
        from marketplace.merch import shipping

        try:
            cleaned["shipping_profile_id"] = shipping.check_listing_profile(
                cleaned.get("kind", listing.kind), listing.creator_id or listing.creator.id, data.get("shipping_profile_id"))
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                for message in messages:
                    errors.add(name, message)
    kind = kinds.get(cleaned.get("kind", listing.kind) or "")
    if kind is not None:
        for validator in kind.validators:
            validator(data, errors)
    errors.raise_if_any()

    for name in ("kind", "title", "description", "shipping_profile_id"):
        if name in cleaned:
            setattr(listing, name, cleaned[name])
    if cleaned.get("slug"):
        listing.slug = cleaned["slug"]
    elif creating:
        listing.slug = _unique_slug(listing.title, listing.kind)
    if "prices" in cleaned:
        wanted = dict(cleaned["prices"])
        for price in list(listing.prices):
            if price.currency not in wanted:
                listing.prices.remove(price)
            else:
                price.amount = wanted.pop(price.currency)
        for currency, amount in wanted.items():
            listing.prices.append(ListingPrice(currency=currency, amount=amount))
    if "tags" in cleaned:
        keep = set(cleaned["tags"])
        listing.tags[:] = [tag for tag in listing.tags if tag.name in keep]
        have = {tag.name for tag in listing.tags}
        listing.tags.extend(ListingTag(name=name) for name in cleaned["tags"] if name not in have)
    if "partners" in cleaned:
        keep_ids = {brand.id for brand in cleaned["partners"]}
        listing.partners[:] = [p for p in listing.partners if p.brand_id in keep_ids]
        have_ids = {p.brand_id for p in listing.partners}
        listing.partners.extend(ListingPartner(brand=b) for b in cleaned["partners"] if b.id not in have_ids)


def _flush_or_slug_conflict() -> None:
    """Flush; a concurrent insert of the same slug becomes a field error, not a 500."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ValidationFailed.one("slug", _("This slug is already used by another listing."))


# ---------------------------------------------------------------- access

def is_owner(user: User | None, listing: Listing) -> bool:
    return bool(user and user.is_authenticated and user.creator_profile and listing.creator_id == user.creator_profile.id)


def is_operator(user: User | None) -> bool:
    return bool(user and user.is_authenticated and user.is_operator)


def can_view(user: User | None, listing: Listing) -> bool:
    return listing.status == ListingStatus.PUBLISHED or is_owner(user, listing) or is_operator(user)


def _load(listing_id=None, slug=None) -> Listing | None:
    if listing_id is not None:
        return db.session.get(Listing, listing_id)
    return db.session.scalar(select(Listing).where(Listing.slug == slug))


def get_visible_listing(user: User | None, listing_id: int | None = None, slug: str | None = None) -> Listing:
    """The listing if this user may see it; hidden listings are reported as not found."""
    listing = _load(listing_id, slug)
    if listing is None or not can_view(user, listing):
        raise NotFound(_("No such listing."))
    return listing


def get_own_listing(user: User | None, listing_id: int | None = None, slug: str | None = None) -> Listing:
    """The listing if this user owns it: 404 when they cannot see it, 403 when they can but do not own it."""
    listing = get_visible_listing(user, listing_id, slug)
    if not is_owner(user, listing):
        raise PermissionDenied(_("Only the listing's creator can change it."))
    return listing


def _require_streamer(user: User) -> CreatorProfile:
    if not user or not user.is_authenticated or user.creator_profile is None:
        raise PermissionDenied(_("Become a streamer to create listings."))
    return user.creator_profile


# ---------------------------------------------------------------- writes

def create_listing(user: User, data: dict) -> Listing:
    """A new draft listing owned by the user's creator profile."""
    creator = _require_streamer(user)
    listing = Listing(creator=creator, status=ListingStatus.DRAFT)
    _apply(listing, data, creating=True)
    db.session.add(listing)
    _flush_or_slug_conflict()
    return listing


def update_listing(user: User, listing: Listing, data: dict) -> Listing:
    """Change the given fields; refused while under review or archived."""
    if not is_owner(user, listing):
        raise PermissionDenied(_("Only the listing's creator can change it."))
    if listing.status in LOCKED_FOR_EDITING:
        raise Conflict(_("A listing cannot be edited while it is %(status)s.", status=status_label(listing.status)))
    _apply(listing, data, creating=False)
    if listing.status in BACK_TO_DRAFT_ON_EDIT:
        _move(listing, user, ListingStatus.DRAFT)
    _flush_or_slug_conflict()
    return listing


def set_cover(user: User, listing: Listing, data: bytes, storage: Storage) -> Listing:
    """Re-encode an uploaded cover, store it with its thumbnail, and drop the old files."""
    if not is_owner(user, listing):
        raise PermissionDenied(_("Only the listing's creator can change it."))
    if listing.status in LOCKED_FOR_EDITING:
        raise Conflict(_("A listing cannot be edited while it is %(status)s.", status=status_label(listing.status)))
    try:
        full, thumb = cover_renditions(data)
    except ImageRejected as exc:
        raise ValidationFailed.one("cover", image_error(exc))
    old = [listing.cover_key, listing.cover_thumb_key]
    listing.cover_key = storage.put(new_key("covers", full.extension), full.data)
    listing.cover_thumb_key = storage.put(new_key("covers", thumb.extension), thumb.data)
    delete_after_commit(storage, old)
    if listing.status in BACK_TO_DRAFT_ON_EDIT:
        _move(listing, user, ListingStatus.DRAFT)
    return listing


def mark_content_changed(user: User, listing: Listing) -> None:
    """A product package changed the listing's content (e.g. its sticker art): reviewed listings need review again."""
    if listing.status in BACK_TO_DRAFT_ON_EDIT:
        _move(listing, user, ListingStatus.DRAFT)


# ---------------------------------------------------------------- workflow

def status_label(status: str) -> str:
    labels = {
        ListingStatus.DRAFT: _("draft"),
        ListingStatus.SUBMITTED: _("under review"),
        ListingStatus.APPROVED: _("approved"),
        ListingStatus.REJECTED: _("rejected"),
        ListingStatus.PUBLISHED: _("published"),
        ListingStatus.ARCHIVED: _("archived"),
    }
    return labels.get(status, status)


def _move(listing: Listing, actor: User | None, to: ListingStatus, reason: str | None = None) -> None:
    listing.status_changes.append(
        ListingStatusChange(actor_id=actor.id if actor else None, from_status=listing.status, to_status=to, reason=reason)
    )
    listing.status = to


def _expect(listing: Listing, allowed: set[ListingStatus], message: str) -> None:
    """Refuse a workflow step out of order; `message` says which states allow it, the status is added."""
    if listing.status not in allowed:
        raise Conflict(message + " " + _("This listing is %(status)s.", status=status_label(listing.status)))


#: checks other areas add before a listing goes to review (royalties: every party accepted its share); each
#: answers a list of problems, worded for the streamer
SUBMIT_CHECKS: list = []


def register_submit_check(check) -> None:
    if check not in SUBMIT_CHECKS:
        SUBMIT_CHECKS.append(check)


def submit_listing(user: User, listing: Listing) -> Listing:
    """Send a draft (or a rejected listing) to the operators' review queue."""
    if not is_owner(user, listing):
        raise PermissionDenied(_("Only the listing's creator can submit it."))
    _expect(listing, {ListingStatus.DRAFT, ListingStatus.REJECTED}, _("Only a draft or a rejected listing can be submitted."))
    if not listing.prices:
        raise ValidationFailed.one("prices", _("Give at least one price."))
    kind = kinds.get(listing.kind)
    problems = [message for check in (kind.submit_checks if kind else ()) for message in check(listing)]
    if problems:
        raise ValidationFailed({"content": problems})
    problems = [message for check in SUBMIT_CHECKS for message in check(listing)]
    if problems:
        raise ValidationFailed({"split": problems})
    listing.submitted_at = utcnow()
    listing.rejection_reason = None
    _move(listing, user, ListingStatus.SUBMITTED)
    return listing


def _require_reviewer(user: User, listing: Listing) -> None:
    if not is_operator(user):
        raise PermissionDenied(_("Only operators review listings."))
    if is_owner(user, listing):
        raise PermissionDenied(_("Operators cannot review their own listings."))


def approve_listing(user: User, listing: Listing) -> Listing:
    _require_reviewer(user, listing)
    _expect(listing, {ListingStatus.SUBMITTED}, _("Only a listing under review can be approved."))
    _move(listing, user, ListingStatus.APPROVED)
    return listing


def reject_listing(user: User, listing: Listing, reason) -> Listing:
    """Reject with a reason the creator will read."""
    _require_reviewer(user, listing)
    _expect(listing, {ListingStatus.SUBMITTED}, _("Only a listing under review can be rejected."))
    errors = Errors()
    reason = clean_text(reason, errors, "reason", max_length=2000)
    errors.raise_if_any()
    listing.rejection_reason = reason
    _move(listing, user, ListingStatus.REJECTED, reason)
    return listing


def publish_listing(user: User, listing: Listing) -> Listing:
    if not (is_owner(user, listing) or is_operator(user)):
        raise PermissionDenied(_("Only the listing's creator can publish it."))
    _expect(listing, {ListingStatus.APPROVED}, _("Only an approved listing can be published."))
    listing.published_at = utcnow()
    _move(listing, user, ListingStatus.PUBLISHED)
    return listing


def archive_listing(user: User, listing: Listing) -> Listing:
    if not (is_owner(user, listing) or is_operator(user)):
        raise PermissionDenied(_("Only the listing's creator can archive it."))
    _expect(
        listing,
        {ListingStatus.DRAFT, ListingStatus.REJECTED, ListingStatus.APPROVED, ListingStatus.PUBLISHED},
        _("An archived listing or one under review cannot be archived."),
    )
    _move(listing, user, ListingStatus.ARCHIVED)
    return listing


TRANSITIONS = {
    "submit": submit_listing,
    "approve": approve_listing,
    "publish": publish_listing,
    "archive": archive_listing,
}


def set_featured(user: User, listing: Listing, featured: bool) -> None:
    if not is_operator(user):
        raise PermissionDenied(_("Only operators feature listings."))
    listing.featured = bool(featured)


# ---------------------------------------------------------------- reads

def _with_details(query):
    return query.options(
        selectinload(Listing.prices),
        selectinload(Listing.tags),
        selectinload(Listing.creator),
        selectinload(Listing.partners).selectinload(ListingPartner.brand),
    )


def published_listings(
    kind: str | None = None, creator: CreatorProfile | None = None, page: int = 1, per_page: int = 12
) -> Page[Listing]:
    """Published listings, newest first, optionally of one kind or one creator."""
    query = select(Listing).where(Listing.status == ListingStatus.PUBLISHED)
    if kind:
        query = query.where(Listing.kind == kind)
    if creator is not None:
        query = query.where(Listing.creator_id == creator.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    items = db.session.scalars(
        _with_details(query)
        .order_by(Listing.published_at.desc(), Listing.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(items, page, per_page, total)


def featured_listings(limit: int = 6) -> Sequence[Listing]:
    return db.session.scalars(
        _with_details(select(Listing))
        .where(Listing.status == ListingStatus.PUBLISHED, Listing.featured.is_(True))
        .order_by(Listing.published_at.desc(), Listing.id.desc())
        .limit(limit)
    ).all()


def creator_listings(creator: CreatorProfile) -> Sequence[Listing]:
    """Everything a creator owns, for their dashboard."""
    return db.session.scalars(
        _with_details(select(Listing)).where(Listing.creator_id == creator.id).order_by(Listing.updated_at.desc(), Listing.id.desc())
    ).all()


def review_queue() -> Sequence[Listing]:
    """Listings waiting for an operator, oldest submission first."""
    return db.session.scalars(
        _with_details(select(Listing))
        .where(Listing.status == ListingStatus.SUBMITTED)
        .order_by(Listing.submitted_at, Listing.id)
    ).all()
