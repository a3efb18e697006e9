"""Coupon rules: streamers manage their own coupons; `price_lines` applies one to a set of priced lines.

Functions take the acting user and ids; none reads the request. Writes flush, never commit.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, Errors, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.money import MAX_AMOUNT, SUPPORTED_CURRENCIES, Money, allocate
from marketplace.catalog.models import Listing
from marketplace.discounts.models import Coupon, CouponKind

CODE_PATTERN = re.compile(r"^[A-Z0-9_-]{3,32}$")
#: far beyond any real campaign; keeps the numbers sane
MAX_USES = 1_000_000
#: the fields an existing coupon may change (its code, kind and value stay as fans saw them)
PATCHABLE = ("active", "valid_until", "max_uses_total", "max_uses_per_buyer", "min_order_amount", "min_order_currency")


class CouponProblem(StrEnum):
    """Why a coupon cannot be applied."""

    UNKNOWN = "unknown"
    INACTIVE = "inactive"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    EXHAUSTED_FOR_BUYER = "exhausted_for_buyer"
    MIN_ORDER = "min_order"
    CURRENCY = "currency"
    NO_ELIGIBLE_LINE = "no_eligible_line"


class CouponRefused(ValidationFailed):
    """The coupon does not apply to these lines (422); `reason` is a CouponProblem."""

    def __init__(self, reason: CouponProblem, message: str):
        super().__init__({"coupon": [message]}, message)
        self.reason = reason


class CouponExhausted(Conflict):
    """The coupon has no uses left (409); `reason` is a CouponProblem."""

    def __init__(self, reason: CouponProblem, message: str):
        super().__init__(message, field="coupon")
        self.reason = reason


# ---------------------------------------------------------------- access

def _require_streamer(user):
    if not user or not user.is_authenticated or user.creator_profile is None:
        raise PermissionDenied(_("Only streamers can manage coupons."))
    return user.creator_profile


def own_coupons(user) -> list[Coupon]:
    """The streamer's coupons, newest first. :raise 403: the user is not a streamer"""
    creator = _require_streamer(user)
    return list(db.session.scalars(select(Coupon).where(Coupon.creator_id == creator.id).order_by(Coupon.id.desc())))


def get_own_coupon(user, coupon_id: int) -> Coupon:
    """:raise 403: not a streamer, or another streamer's coupon :raise 404: no such coupon"""
    creator = _require_streamer(user)
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None:
        raise NotFound(_("There is no such coupon."))
    if coupon.creator_id != creator.id:
        raise PermissionDenied(_("Only the coupon's creator can change it."))
    return coupon


def status_of(coupon: Coupon, now: datetime) -> str:
    """active, inactive, scheduled or expired: what the dashboard shows."""
    if not coupon.active:
        return "inactive"
    if coupon.valid_from and now < coupon.valid_from:
        return "scheduled"
    if coupon.valid_until and now >= coupon.valid_until:
        return "expired"
    return "active"


def status_label(status: str) -> str:
    return {
        "active": _("Active"), "inactive": _("Inactive"), "scheduled": _("Scheduled"), "expired": _("Expired"),
    }.get(status, status)


# ---------------------------------------------------------------- validation

def _int_or_none(errors: Errors, data: dict, name: str, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.add(name, _("Enter a whole number from %(low)d to %(high)d.", low=low, high=high))
        return None
    return value


def _time_or_none(errors: Errors, data: dict, name: str) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        errors.add(name, _("Give a date and time with a time zone."))
        return None
    return value


def _currency(errors: Errors, data: dict, name: str) -> str | None:
    code = data.get(name)
    code = code.strip().upper() if isinstance(code, str) else None
    if code not in SUPPORTED_CURRENCIES:
        errors.add(name, _("Choose one of: %(currencies)s.", currencies=", ".join(SUPPORTED_CURRENCIES)))
        return None
    return code


def normalize_code(code) -> str:
    return code.strip().upper() if isinstance(code, str) else ""


def _clean(creator, data: dict) -> dict:
    """Check a whole coupon description; answers the values to store. :raise 422: naming every bad field"""
    errors = Errors()
    out: dict = {}
    code = normalize_code(data.get("code"))
    if not CODE_PATTERN.match(code):
        errors.add("code", _("Use 3 to 32 letters, digits, hyphens or underscores."))
    out["code"] = code
    kind = data.get("kind")
    if kind not in (CouponKind.PERCENT, CouponKind.FIXED):
        errors.add("kind", _("Choose percent or fixed amount."))
    out["kind"] = kind
    out["percent_bp"] = out["amount"] = out["currency"] = None
    if kind == CouponKind.PERCENT:
        out["percent_bp"] = _int_or_none(errors, data, "percent_bp", 1, 10_000)
        if out["percent_bp"] is None and "percent_bp" not in errors.errors:
            errors.add("percent_bp", _("Enter a percentage above 0 and at most 100."))
    elif kind == CouponKind.FIXED:
        out["amount"] = _int_or_none(errors, data, "amount", 1, MAX_AMOUNT)
        if out["amount"] is None and "amount" not in errors.errors:
            errors.add("amount", _("Enter an amount above zero."))
        out["currency"] = _currency(errors, data, "currency")
    out["valid_from"] = _time_or_none(errors, data, "valid_from")
    out["valid_until"] = _time_or_none(errors, data, "valid_until")
    if out["valid_from"] and out["valid_until"] and out["valid_until"] <= out["valid_from"]:
        errors.add("valid_until", _("The end must come after the start."))
    out["max_uses_total"] = _int_or_none(errors, data, "max_uses_total", 1, MAX_USES)
    out["max_uses_per_buyer"] = _int_or_none(errors, data, "max_uses_per_buyer", 1, MAX_USES)
    out["min_order_amount"] = _int_or_none(errors, data, "min_order_amount", 1, MAX_AMOUNT)
    out["min_order_currency"] = None
    if out["min_order_amount"] is not None:
        out["min_order_currency"] = _currency(errors, data, "min_order_currency")
    active = data.get("active", True)
    if not isinstance(active, bool):
        errors.add("active", _("Answer true or false."))
    out["active"] = active is not False
    out["listings"] = _own_listings(errors, creator, data.get("listing_ids") or [])
    errors.raise_if_any()
    return out


def _own_listings(errors: Errors, creator, ids) -> list[Listing]:
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        errors.add("listing_ids", _("Choose listings of your own."))
        return []
    if not ids:
        return []
    listings = list(db.session.scalars(select(Listing).where(Listing.id.in_(set(ids))).order_by(Listing.id)))
    if len(listings) != len(set(ids)) or any(listing.creator_id != creator.id for listing in listings):
        errors.add("listing_ids", _("Choose listings of your own."))
        return []
    return listings


def _as_data(coupon: Coupon) -> dict:
    return {
        "code": coupon.code, "kind": coupon.kind, "percent_bp": coupon.percent_bp, "amount": coupon.amount,
        "currency": coupon.currency, "valid_from": coupon.valid_from, "valid_until": coupon.valid_until,
        "max_uses_total": coupon.max_uses_total, "max_uses_per_buyer": coupon.max_uses_per_buyer,
        "min_order_amount": coupon.min_order_amount, "min_order_currency": coupon.min_order_currency,
        "active": coupon.active, "listing_ids": coupon.listing_ids,
    }


def _duplicate() -> ValidationFailed:
    return ValidationFailed.one("code", _("You already have a coupon with this code."))


# ---------------------------------------------------------------- writes

def create_coupon(user, data: dict) -> Coupon:
    """A new coupon of the streamer's. :raise 403: not a streamer :raise 422: bad field or a code already used"""
    creator = _require_streamer(user)
    values = _clean(creator, data)
    taken = db.session.scalar(select(Coupon.id).where(Coupon.creator_id == creator.id, Coupon.code == values["code"]))
    if taken is not None:
        raise _duplicate()
    coupon = Coupon(creator_id=creator.id, **values)
    try:
        with db.session.begin_nested():
            db.session.add(coupon)
    except IntegrityError:  # a concurrent request took the code first
        raise _duplicate() from None
    return coupon


def update_coupon(user, coupon_id: int, changes: dict) -> Coupon:
    """Change a coupon's active flag, end and limits. :raise 403/404: see get_own_coupon :raise 422: bad field"""
    coupon = get_own_coupon(user, coupon_id)
    unknown = set(changes) - set(PATCHABLE)
    if unknown:
        raise ValidationFailed({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    data = _as_data(coupon)
    data.update(changes)
    if changes.get("min_order_amount", 0) is None:
        data["min_order_currency"] = None
    values = _clean(coupon.creator, data)
    for name in PATCHABLE:
        setattr(coupon, name, values[name])
    db.session.flush()
    return coupon


def deactivate_coupon(user, coupon_id: int) -> Coupon:
    """Stop a coupon from applying to new orders. :raise 403/404: see get_own_coupon"""
    coupon = get_own_coupon(user, coupon_id)
    coupon.active = False
    db.session.flush()
    return coupon


# ---------------------------------------------------------------- pricing

@dataclass(frozen=True)
class PricedLine:
    listing: Listing
    quantity: int
    unit_price: Money
    subtotal: Money
    discount: Money
    total: Money
    #: the coupon applied to this line (its creator's listing, within the coupon's restriction)
    eligible: bool


@dataclass(frozen=True)
class Priced:
    currency: str
    lines: list[PricedLine]
    subtotal: Money
    discount: Money
    total: Money
    coupon: Coupon | None


def _check_lines(lines) -> tuple[str, list[tuple[Listing, int, Money]]]:
    checked = []
    for listing, quantity, unit in lines:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValidationFailed.one("quantity", _("Choose a quantity from 1 to %(max)d.", max=99))
        if not isinstance(unit, Money) or unit.amount < 0:
            raise ValidationFailed.one("lines", _("Every line needs a price."))
        checked.append((listing, quantity, unit))
    if not checked:
        raise ValidationFailed.one("lines", _("Your cart is empty."))
    currency = checked[0][2].currency
    if any(unit.currency != currency for _listing, _q, unit in checked):
        raise ValidationFailed.one("currency", _("Every line must be priced in one currency."))
    return currency, checked


def find_coupon(code: str, creator_ids: set[int], lock: bool = False) -> Coupon:
    """The coupon a code names among these sellers' coupons; `lock` holds its row until the transaction ends
    (checkout counts its uses under that lock, so two buyers cannot both take the last use).
    :raise 422: CouponRefused when there is none"""
    normalized = normalize_code(code)
    coupon = None
    if CODE_PATTERN.match(normalized) and creator_ids:
        # two sellers in one cart may use the same code: the oldest coupon wins, deterministically
        query = select(Coupon).where(Coupon.code == normalized, Coupon.creator_id.in_(creator_ids)).order_by(Coupon.id)
        coupon = db.session.scalar(query.with_for_update() if lock else query)
    if coupon is None:
        raise CouponRefused(CouponProblem.UNKNOWN, _("There is no coupon %(code)s for the items in your cart.", code=normalized or "-"))
    return coupon


def _check_usable(coupon: Coupon, currency: str, buyer, now: datetime, uses_total: int, uses_by_buyer: int) -> None:
    if not coupon.active:
        raise CouponRefused(CouponProblem.INACTIVE, _("This coupon is no longer active."))
    if coupon.valid_from and now < coupon.valid_from:
        raise CouponRefused(CouponProblem.NOT_YET_VALID, _("This coupon is not valid yet."))
    if coupon.valid_until and now >= coupon.valid_until:
        raise CouponRefused(CouponProblem.EXPIRED, _("This coupon has expired."))
    if coupon.max_uses_total is not None and uses_total >= coupon.max_uses_total:
        raise CouponExhausted(CouponProblem.EXHAUSTED, _("This coupon has been used up."))
    if buyer is not None and coupon.max_uses_per_buyer is not None and uses_by_buyer >= coupon.max_uses_per_buyer:
        raise CouponExhausted(CouponProblem.EXHAUSTED_FOR_BUYER, _("You have already used this coupon as often as it allows."))
    if coupon.kind == CouponKind.FIXED and coupon.currency != currency:
        raise CouponRefused(CouponProblem.CURRENCY, _("This coupon is for orders in %(currency)s.", currency=coupon.currency))
    if coupon.min_order_currency and coupon.min_order_currency != currency:
        raise CouponRefused(CouponProblem.CURRENCY, _("This coupon is for orders in %(currency)s.", currency=coupon.min_order_currency))


def _shares(amounts: list[int]) -> list[int]:
    """Basis points proportional to `amounts` (largest remainder), adding up to exactly 10,000."""
    whole = sum(amounts)
    floors = [10_000 * amount // whole for amount in amounts]
    remainders = [10_000 * amount % whole for amount in amounts]
    order = sorted(range(len(amounts)), key=lambda i: (-remainders[i], i))
    for i in order[: 10_000 - sum(floors)]:
        floors[i] += 1
    return floors


def spread(discount: Money, subtotals: list[Money]) -> list[Money]:
    """Split a fixed discount over lines in proportion to their subtotals; no part exceeds its line.

    `discount` must not exceed the subtotals' sum; the parts add up to it exactly."""
    amounts = [subtotal.amount for subtotal in subtotals]
    if discount.amount <= 0 or sum(amounts) <= 0:
        return [Money(0, discount.currency) for _subtotal in subtotals]
    parts = [part.amount for part in allocate(discount, _shares(amounts))]
    # rounding the shares to basis points may hand a small line more than it holds: move the excess on
    excess = 0
    for i, amount in enumerate(amounts):
        if parts[i] > amount:
            excess += parts[i] - amount
            parts[i] = amount
    for i, amount in enumerate(amounts):
        moved = min(excess, amount - parts[i])
        parts[i] += moved
        excess -= moved
    return [Money(part, discount.currency) for part in parts]


def price_lines(lines: Iterable, coupon_code: str | None, buyer, now: datetime,
                uses_total: int = 0, uses_by_buyer: int = 0) -> Priced:
    """Price (listing, quantity, unit Money) lines in one currency with an optional coupon code.

    The discount applies to the coupon creator's eligible listings only: percent per line, rounded down;
    a fixed amount spread over the eligible lines in proportion to their subtotals. No line goes below zero
    and every sum is exact. `uses_total` / `uses_by_buyer` are the coupon's uses so far (the caller counts them).
    :raise 422: CouponRefused (unknown, inactive, not yet valid, expired, currency, minimum, no eligible line)
    :raise 409: CouponExhausted (no uses left in total or for this buyer)
    """
    currency, checked = _check_lines(list(lines))
    subtotals = [Money(unit.amount * quantity, currency) for _listing, quantity, unit in checked]
    discounts = [Money(0, currency)] * len(checked)
    eligible = [False] * len(checked)
    coupon = None
    if coupon_code is not None and str(coupon_code).strip():
        coupon = find_coupon(coupon_code, {listing.creator_id for listing, _q, _u in checked})
        _check_usable(coupon, currency, buyer, now, uses_total, uses_by_buyer)
        restricted = set(coupon.listing_ids)
        eligible = [listing.creator_id == coupon.creator_id and (not restricted or listing.id in restricted)
                    for listing, _q, _u in checked]
        if not any(eligible):
            raise CouponRefused(CouponProblem.NO_ELIGIBLE_LINE, _("This coupon does not apply to any item in your cart."))
        eligible_total = sum(s.amount for s, ok in zip(subtotals, eligible) if ok)
        minimum = coupon.min_order
        if minimum is not None and eligible_total < minimum.amount:
            raise CouponRefused(CouponProblem.MIN_ORDER, _("This coupon needs an order of at least %(amount)s.", amount=str(minimum)))
        discounts = _discounts(coupon, subtotals, eligible, eligible_total, currency)
    priced = [
        PricedLine(listing, quantity, unit, subtotal, discount, subtotal - discount, ok)
        for (listing, quantity, unit), subtotal, discount, ok in zip(checked, subtotals, discounts, eligible)
    ]
    subtotal = Money(sum(s.amount for s in subtotals), currency)
    discount = Money(sum(d.amount for d in discounts), currency)
    return Priced(currency, priced, subtotal, discount, subtotal - discount, coupon)


def _discounts(coupon: Coupon, subtotals: list[Money], eligible: list[bool], eligible_total: int, currency: str) -> list[Money]:
    if coupon.kind == CouponKind.PERCENT:
        return [Money(s.amount * coupon.percent_bp // 10_000 if ok else 0, currency) for s, ok in zip(subtotals, eligible)]
    total = Money(min(coupon.amount, eligible_total), currency)
    indexes = [i for i, ok in enumerate(eligible) if ok]
    parts = spread(total, [subtotals[i] for i in indexes])
    discounts = [Money(0, currency)] * len(subtotals)
    for i, part in zip(indexes, parts):
        discounts[i] = part
    return discounts
