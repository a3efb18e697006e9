"""Shipping rules: a streamer's shipping profiles (where they ship and for how much), the buyer's shipping
address, and what an order's merch costs to ship.

Functions take explicit arguments and never read the request; writes flush, the caller commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from babel import Locale
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from app.errors import Errors, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.money import MAX_AMOUNT, SUPPORTED_CURRENCIES
from marketplace import kinds
from marketplace.merch.models import ShippingProfile, ShippingRate

MAX_NAME_LENGTH = 80
MAX_RATES = 50
MAX_ADDRESS_FIELD = 120
MAX_POSTAL_CODE = 20
#: babel's territories that are not countries one ships to
_NOT_COUNTRIES = {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}
#: the address fields, in the order a form shows them, with the required ones
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")
REQUIRED_ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country")


# ---------------------------------------------------------------- countries

@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (from the CLDR data babel ships)."""
    return frozenset(code for code in Locale("en").territories
                     if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES)


def country_name(code: str) -> str:
    """The country's name in the reader's language (the code when unknown)."""
    try:
        locale = get_locale() or Locale("en")
    except Exception:  # outside a request: English
        locale = Locale("en")
    return locale.territories.get(code, code)


def country_choices() -> list[tuple[str, str]]:
    """(code, name) for every country, sorted by name in the reader's language."""
    return sorted(((code, country_name(code)) for code in country_codes()), key=lambda pair: pair[1])


def clean_country(value) -> str | None:
    code = value.strip().upper() if isinstance(value, str) else ""
    return code if code in country_codes() else None


# ---------------------------------------------------------------- profiles

def _creator(user):
    if user is None or not getattr(user, "is_authenticated", False) or user.creator_profile is None:
        raise PermissionDenied(_("Only streamers have shipping profiles."))
    return user.creator_profile


def own_profiles(user) -> list[ShippingProfile]:
    """The caller's shipping profiles by name. :raise 403: not a streamer"""
    creator = _creator(user)
    return list(db.session.scalars(
        select(ShippingProfile).where(ShippingProfile.creator_id == creator.id)
        .order_by(ShippingProfile.name, ShippingProfile.id)
    ))


def get_own_profile(user, profile_id) -> ShippingProfile:
    """:raise 403: not a streamer :raise 404: no such profile, or another streamer's (indistinguishable)"""
    creator = _creator(user)
    profile = db.session.get(ShippingProfile, profile_id) if isinstance(profile_id, int) else None
    if profile is None or profile.creator_id != creator.id:
        raise NotFound(_("There is no such shipping profile."))
    return profile


def _amount(value, errors: Errors, name: str, required: bool) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errors.add(name, _("Enter an amount of 0 or more (on the API: whole minor units)."))
        return None
    if value > MAX_AMOUNT:
        errors.add(name, _("This amount is too large."))
        return None
    return value


def _clean_rates(value, errors: Errors) -> list[dict]:
    if not isinstance(value, list) or not value:
        errors.add("rates", _("Add at least one rate."))
        return []
    if len(value) > MAX_RATES:
        errors.add("rates", _("A profile has at most %(max)d rates.", max=MAX_RATES))
        return []
    cleaned, seen = [], set()
    for index, rate in enumerate(value):
        prefix = f"rates.{index}"
        if not isinstance(rate, dict):
            errors.add(prefix, _("Each rate has countries, a currency and an amount."))
            continue
        currency = rate.get("currency").strip().upper() if isinstance(rate.get("currency"), str) else ""
        if currency not in SUPPORTED_CURRENCIES:
            errors.add(f"{prefix}.currency", _("Choose one of: %(currencies)s.", currencies=", ".join(SUPPORTED_CURRENCIES)))
        countries = rate.get("countries")
        codes: list[str] = []
        if not isinstance(countries, list) or not countries:
            errors.add(f"{prefix}.countries", _("List at least one country."))
        else:
            for raw in countries:
                code = clean_country(raw)
                if code is None:
                    errors.add(f"{prefix}.countries", _("%(code)s is not an ISO 3166 country code (like CN or US).",
                                                        code=str(raw)[:10]))
                elif (code, currency) in seen:
                    errors.add(f"{prefix}.countries", _("%(country)s already has a rate in %(currency)s.",
                                                        country=country_name(code), currency=currency))
                else:
                    seen.add((code, currency))
                    codes.append(code)
        amount = _amount(rate.get("amount"), errors, f"{prefix}.amount", required=True)
        free_above = _amount(rate.get("free_above"), errors, f"{prefix}.free_above", required=False)
        cleaned.append({"countries": codes, "currency": currency, "amount": amount, "free_above": free_above})
    return cleaned


def clean_profile(data) -> tuple[str, list[dict]]:
    """The profile's name and rates checked (nothing is written). :raise 422: per field"""
    errors = Errors()
    data = data if isinstance(data, dict) else {}
    name = data.get("name").strip() if isinstance(data.get("name"), str) else ""
    if not name:
        errors.add("name", _("Name the profile."))
    elif len(name) > MAX_NAME_LENGTH:
        errors.add("name", _("Keep the name under %(max)d characters.", max=MAX_NAME_LENGTH))
    rates = _clean_rates(data.get("rates"), errors)
    errors.raise_if_any()
    return name, rates


def _set_rates(profile: ShippingProfile, rates: list[dict]) -> None:
    profile.rates[:] = [ShippingRate(position=position, **rate) for position, rate in enumerate(rates)]


def create_profile(user, data: dict) -> ShippingProfile:
    """A new shipping profile of the caller's. :raise 403: not a streamer :raise 422: per field"""
    creator = _creator(user)
    name, rates = clean_profile(data)
    profile = ShippingProfile(creator_id=creator.id, name=name)
    _set_rates(profile, rates)
    db.session.add(profile)
    db.session.flush()
    return profile


def update_profile(user, profile_id, data: dict) -> ShippingProfile:
    """Replace the profile's name and rates. :raise 404: not the caller's :raise 422: per field"""
    profile = get_own_profile(user, profile_id)
    name, rates = clean_profile(data)
    profile.name = name
    _set_rates(profile, rates)
    db.session.flush()
    return profile


def delete_profile(user, profile_id) -> None:
    """Delete the profile; listings that used it ship nowhere until given another. :raise 404: not the caller's"""
    from marketplace.catalog.models import Listing

    profile = get_own_profile(user, profile_id)
    db.session.execute(update(Listing).where(Listing.shipping_profile_id == profile.id)
                       .values(shipping_profile_id=None).execution_options(synchronize_session="fetch"))
    db.session.delete(profile)
    db.session.flush()


def is_physical(listing) -> bool:
    kind = kinds.get(listing.kind)
    return kind is not None and kind.is_physical


def check_listing_profile(kind_code, creator_id: int, profile_id) -> int | None:
    """The shipping profile id a listing of this kind and streamer may be given (None clears it): only a physical
    (merch) listing, only a profile of the listing's own streamer. :raise 422: on the field `shipping_profile_id`"""
    if profile_id is None:
        return None
    if isinstance(profile_id, bool) or not isinstance(profile_id, int):
        raise ValidationFailed.one("shipping_profile_id", _("Choose one of your shipping profiles."))
    kind = kinds.get(kind_code or "")
    if kind is None or not kind.is_physical:
        raise ValidationFailed.one("shipping_profile_id", _("Only merch is shipped."))
    profile = db.session.get(ShippingProfile, profile_id)
    if profile is None or profile.creator_id != creator_id:
        raise ValidationFailed.one("shipping_profile_id", _("Choose one of your shipping profiles."))
    return profile.id


# ---------------------------------------------------------------- address

def clean_address(value, prefix: str = "shipping_address") -> dict:
    """The address normalised (trimmed, country upper-case, empty optional fields dropped).

    :raise 422: naming each bad field, like "shipping_address.city" """
    errors = Errors()
    if not isinstance(value, dict):
        for name in REQUIRED_ADDRESS_FIELDS:
            errors.add(f"{prefix}.{name}", _("This field is required."))
        errors.raise_if_any()
    cleaned = {}
    for name in ADDRESS_FIELDS:
        raw = value.get(name)
        if raw is not None and not isinstance(raw, str):
            errors.add(f"{prefix}.{name}", _("Enter text."))
            continue
        text = " ".join((raw or "").split())
        limit = MAX_POSTAL_CODE if name == "postal_code" else MAX_ADDRESS_FIELD
        if not text:
            if name in REQUIRED_ADDRESS_FIELDS:
                errors.add(f"{prefix}.{name}", _("This field is required."))
            continue
        if len(text) > limit:
            errors.add(f"{prefix}.{name}", _("Keep it under %(max)d characters.", max=limit))
            continue
        if name == "country":
            code = clean_country(text)
            if code is None:
                errors.add(f"{prefix}.{name}", _("Choose a country."))
                continue
            text = code
        cleaned[name] = text
    errors.raise_if_any()
    return cleaned


# ---------------------------------------------------------------- quotes

@dataclass
class SellerShipping:
    creator_id: int
    amount: int
    #: the rate charged (None when nothing is shipped)
    rate: ShippingRate | None
    free: bool


@dataclass
class ShippingQuote:
    currency: str
    total: int = 0
    #: each given line's part of its seller's shipping, in the order given (0 for digital lines)
    per_line: list[int] = field(default_factory=list)
    sellers: list[SellerShipping] = field(default_factory=list)


def rate_for(profile: ShippingProfile | None, country: str, currency: str) -> ShippingRate | None:
    if profile is None:
        return None
    return next((rate for rate in profile.rates if rate.currency == currency and country in (rate.countries or [])), None)


def _profiles(listings) -> dict[int, ShippingProfile]:
    ids = {listing.shipping_profile_id for listing in listings if listing.shipping_profile_id}
    if not ids:
        return {}
    return {profile.id: profile for profile in db.session.scalars(select(ShippingProfile).where(ShippingProfile.id.in_(ids)))}


def shipping_for(lines, currency: str, country: str) -> ShippingQuote:
    """What shipping the physical lines costs, per seller, and each line's part of it.

    `lines` are (listing, line total after discount) pairs, in any order; digital lines cost nothing. For each
    seller (the listing's streamer) with physical lines: every such listing's profile must have a rate for
    (country, currency). The seller charges once per order: when their listings use different profiles the
    highest of those rates is charged (with its own `free_above`). It is free when the seller's physical lines
    come to at least that rate's `free_above` (after the discount). The seller's shipping is spread over their
    physical lines by line total (largest remainder, so the parts add up; evenly when the lines are free).

    :raise 422: on `shipping_address.country`, naming a listing that does not ship there in this currency
    """
    from marketplace.royalties.posting import allocate_by_weights

    lines = list(lines)
    quote = ShippingQuote(currency=currency, per_line=[0] * len(lines))
    physical = [(index, listing, total) for index, (listing, total) in enumerate(lines) if is_physical(listing)]
    if not physical:
        return quote
    profiles = _profiles(listing for _i, listing, _t in physical)
    by_seller: dict[int, list[tuple[int, object, int, ShippingRate]]] = {}
    errors = Errors()
    for index, listing, total in physical:
        rate = rate_for(profiles.get(listing.shipping_profile_id), country, currency)
        if rate is None:
            errors.add("shipping_address.country", _("%(title)s does not ship to %(country)s.",
                                                     title=listing.title, country=country_name(country)))
            continue
        by_seller.setdefault(listing.creator_id, []).append((index, listing, total, rate))
    errors.raise_if_any()
    for creator_id, seller_lines in by_seller.items():
        rate = max((rate for *_rest, rate in seller_lines), key=lambda rate: (rate.amount, rate.id or 0))
        merch_total = sum(total for _i, _l, total, _r in seller_lines)
        free = rate.free_above is not None and merch_total >= rate.free_above
        amount = 0 if free else rate.amount
        weights = [total for _i, _l, total, _r in seller_lines]
        if not any(weights):
            weights = [1] * len(weights)
        for (index, *_rest), part in zip(seller_lines, allocate_by_weights(amount, weights)):
            quote.per_line[index] = part
        quote.sellers.append(SellerShipping(creator_id, amount, rate, free))
        quote.total += amount
    return quote
