"""Merch pages: the variants on a listing's public page (choose one, add it to the cart) and the streamer's
page to manage a listing's variants, their stock and prices. The rules live in merch.services."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from app.errors import Errors, ServiceError, ValidationFailed
from app.extensions import db
from app.money import SUPPORTED_CURRENCIES, Money, MoneyError
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing
from marketplace.merch import services

bp = Blueprint("merch", __name__, template_folder="templates", static_folder="static", static_url_path="/merch/static")


def variants_section(listing: Listing, viewer) -> Markup | None:
    """The variant chooser of a merch listing's public page: every active variant with its price and whether
    it is in stock (a sold-out one is shown but cannot be chosen), and the form that adds one to the cart."""
    variants = services.listing_variants(listing.id, active_only=True)
    is_owner = services.may_manage(viewer, listing)
    if not variants and not is_owner:
        return None
    currency = _display_currency(listing)
    rows = [{"variant": variant, "label": services.options_label(variant.options) or variant.sku,
             "price": services.price_in(variant, listing, currency) if currency else None,
             "available": services.is_available(variant)} for variant in variants]
    return Markup(render_template(
        "merch/variants_section.html", listing=listing, rows=rows, is_owner=is_owner,
        can_buy=listing.status == "published" and not catalog.is_owner(viewer, listing),
        any_available=any(row["available"] for row in rows),
    ))


def _display_currency(listing: Listing) -> str | None:
    from flask import current_app

    default = current_app.config["ENCORE_DEFAULT_CURRENCY"]
    codes = [price.currency for price in listing.prices]
    return default if default in codes else (codes[0] if codes else None)


@bp.app_context_processor
def _template_helpers() -> dict:
    """`merch_has_variants(listing)`: the listing page's plain add-to-cart form steps aside for the chooser."""
    return {"merch_has_variants": lambda listing: listing.kind == services.KIND and services.has_variants(listing.id)}


# ---------------------------------------------------------------- adding a variant to the cart

def _form_int(name: str, default: int | None = None) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed.one(name, _("This is not a valid number.")) from None


@bp.post("/merch/cart")
def add_to_cart():
    """Put the chosen variant in the visitor's cart (signed in or anonymous)."""
    from marketplace.cart import services as cart_services
    from marketplace.cart.views import current_cart

    listing = db.session.get(Listing, _form_int("listing_id", 0) or 0)
    back = url_for("catalog.listing", slug=listing.slug) if listing is not None else url_for("cart.show")
    try:
        if not request.form.get("variant_id"):
            raise ValidationFailed.one("variant_id", _("Choose a size or colour first."))
        cart_services.add_line(current_cart(create=True), _form_int("listing_id", 0), _form_int("quantity", 1),
                               _form_int("variant_id"))
    except ServiceError as exc:
        db.session.rollback()
        flash(_messages(exc), "error")
        return redirect(back, code=303)
    db.session.commit()
    flash(_("Added to your cart."), "success")
    return redirect(url_for("cart.show"), code=303)


def _messages(exc: ServiceError) -> str:
    if isinstance(exc, ValidationFailed) and exc.errors:
        return " ".join(message for messages in exc.errors.values() for message in messages)
    return exc.message


# ---------------------------------------------------------------- the streamer's variant page

def _managed(listing_id: int) -> Listing:
    """:raise 404/403: the listing is not a merch listing this user may manage"""
    listing, _variants = services.variants_for(current_user, listing_id)
    if not services.may_manage(current_user, listing):
        from app.errors import PermissionDenied

        raise PermissionDenied(_("Only the listing's creator can change its variants."))
    return listing


def _page(listing: Listing, form: dict | None = None, errors: dict | None = None, status: int = 200):
    variants = services.listing_variants(listing.id)
    option_names = list((variants[0].options or {}).keys()) if variants else []
    return render_template(
        "merch/variants.html", listing=listing, variants=variants, option_names=option_names,
        currencies=SUPPORTED_CURRENCIES, form=form or {}, errors=errors or {},
        is_available=services.is_available, options_label=services.options_label, override_text=_override_text,
    ), status


def _override_text(variant, currency: str) -> str:
    own = variant.price_override(currency)
    return Money(own, currency).major_str() if own is not None else ""


def _parse_form(form, errors: Errors, with_options: bool) -> dict:
    """The browser's fields as service input: numbers as integers, prices in major units as minor units."""
    data: dict = {}
    if with_options:
        data["sku"] = form.get("sku", "")
        names = form.getlist("option_name")
        values = form.getlist("option_value")
        data["options"] = {name.strip(): value for name, value in zip(names, values) if name.strip() or value.strip()}
    stock = (form.get("stock") or "").strip()
    if form.get("unlimited"):
        data["stock"] = None
    else:
        try:
            data["stock"] = int(stock)
        except ValueError:
            errors.add("stock", _("Give a whole number, or tick “unlimited”."))
    weight = (form.get("weight_grams") or "").strip()
    if weight:
        try:
            data["weight_grams"] = int(weight)
        except ValueError:
            errors.add("weight_grams", _("Give a whole number of grams."))
    prices = []
    for code in SUPPORTED_CURRENCIES:
        text = (form.get(f"price_{code}") or "").strip()
        if text:
            try:
                prices.append({"currency": code, "amount": Money.parse(text, code).amount})
            except MoneyError:
                errors.add(f"price_{code}", _("Give a price like 12.50."))
    data["prices"] = prices
    if not with_options:
        data["is_active"] = bool(form.get("is_active"))
    return data


def _field_errors(exc: ValidationFailed) -> dict:
    """Service field names ("prices.0.amount") shown beside the page's fields."""
    errors: dict = {}
    for field, messages in exc.errors.items():
        key = "prices" if field.startswith("prices") else field
        errors.setdefault(key, []).extend(messages)
    return errors


@bp.get("/dashboard/listings/<int:listing_id>/variants")
@login_required
def manage_variants(listing_id: int):
    return _page(_managed(listing_id))


@bp.post("/dashboard/listings/<int:listing_id>/variants")
@login_required
def add_variant(listing_id: int):
    listing = _managed(listing_id)
    errors = Errors()
    data = _parse_form(request.form, errors, with_options=True)
    try:
        errors.raise_if_any()
        services.create_variant(current_user, listing.id, data)
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(db.session.get(Listing, listing_id), request.form.to_dict(), _field_errors(exc), 422)
    db.session.commit()
    flash(_("Variant added."), "success")
    return redirect(url_for("merch.manage_variants", listing_id=listing_id), code=303)


@bp.post("/dashboard/variants/<int:variant_id>")
@login_required
def edit_variant(variant_id: int):
    variant = services.get_variant(current_user, variant_id, manage=True)
    listing_id = variant.listing_id
    errors = Errors()
    data = _parse_form(request.form, errors, with_options=False)
    try:
        errors.raise_if_any()
        services.update_variant(current_user, variant_id, data)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(_messages(exc), "error")
        listing = db.session.get(Listing, listing_id)
        return _page(listing, {}, {f"variant-{variant_id}": [_messages(exc)]}, 422)
    db.session.commit()
    flash(_("Variant saved."), "success")
    return redirect(url_for("merch.manage_variants", listing_id=listing_id, _anchor=f"variant-{variant_id}"), code=303)
