"""Coupon pages: the streamer's /dashboard/coupons, and the coupon preview on the cart page.

Views parse the form, call marketplace.discounts.services, commit once and render or redirect.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.db import utcnow
from app.errors import Errors, ServiceError, ValidationFailed
from app.extensions import db
from app.money import SUPPORTED_CURRENCIES, Money, MoneyError
from marketplace.cart import services as cart_services
from marketplace.cart import views as cart_views
from marketplace.catalog import services as catalog
from marketplace.discounts import services
from marketplace.discounts.preview import preview_cart

bp = Blueprint("discounts", __name__, template_folder="templates")


def _text(name: str) -> str:
    return request.form.get(name, "").strip()


def _int(errors: Errors, name: str) -> int | None:
    raw = _text(name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        errors.add(name, _("This is not a valid number."))
        return None


def _money(errors: Errors, name: str, currency_name: str) -> int | None:
    raw = _text(name)
    if not raw:
        return None
    try:
        return Money.parse(raw, _text(currency_name) or "CNY").amount
    except MoneyError:
        errors.add(name, _("Enter an amount like 12.50."))
        return None


def _percent(errors: Errors) -> int | None:
    raw = _text("percent")
    if not raw:
        return None
    try:
        value = Decimal(raw) * 100
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value != value.to_integral_value():
        errors.add("percent_bp", _("Enter a percentage such as 15 or 12.5."))
        return None
    return int(value)


def _time(errors: Errors, name: str) -> datetime | None:
    raw = _text(name)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=timezone.utc)
    except ValueError:
        errors.add(name, _("Enter a date and time."))
        return None


def _form_data() -> tuple[dict, Errors]:
    """The create form as the service's input (amounts in minor units, times in UTC), plus parse errors."""
    errors = Errors()
    listing_ids = []
    for raw in request.form.getlist("listing_ids"):
        try:
            listing_ids.append(int(raw))
        except ValueError:
            errors.add("listing_ids", _("Choose listings of your own."))
    data = {
        "code": _text("code"), "kind": _text("kind"), "percent_bp": _percent(errors),
        "amount": _money(errors, "amount", "currency"), "currency": _text("currency") or None,
        "valid_from": _time(errors, "valid_from"), "valid_until": _time(errors, "valid_until"),
        "max_uses_total": _int(errors, "max_uses_total"), "max_uses_per_buyer": _int(errors, "max_uses_per_buyer"),
        "min_order_amount": _money(errors, "min_order_amount", "min_order_currency"),
        "min_order_currency": _text("min_order_currency") or None, "listing_ids": listing_ids,
    }
    return data, errors


def _page(errors: dict | None = None, status: int = 200):
    coupons = services.own_coupons(current_user)
    now = utcnow()
    return render_template(
        "discounts/coupons.html",
        coupons=coupons, status_of=lambda coupon: services.status_of(coupon, now), status_label=services.status_label,
        listings=catalog.creator_listings(current_user.creator_profile), errors=errors or {}, form=request.form,
        currencies=SUPPORTED_CURRENCIES,
    ), status


@bp.get("/dashboard/coupons")
@login_required
def coupons():
    return _page()


@bp.post("/dashboard/coupons")
@login_required
def create():
    data, errors = _form_data()
    try:
        if errors:
            services.own_coupons(current_user)  # a fan is refused (403) before any field error
            raise ValidationFailed(errors.errors)
        coupon = services.create_coupon(current_user, data)
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(exc.errors, 422)
    db.session.commit()
    flash(_("Coupon %(code)s created.", code=coupon.code), "success")
    return redirect(url_for("discounts.coupons"))


@bp.post("/dashboard/coupons/<int:coupon_id>/deactivate")
@login_required
def deactivate(coupon_id: int):
    coupon = services.deactivate_coupon(current_user, coupon_id)
    db.session.commit()
    flash(_("Coupon %(code)s deactivated.", code=coupon.code), "success")
    return redirect(url_for("discounts.coupons"))


@bp.post("/cart/coupon")
def cart_preview():
    """The cart page again, with the coupon's discount shown (nothing is stored)."""
    cart = cart_views.current_cart()
    code = _text("code")
    summary = cart_services.summarize(cart, current_app.config["ENCORE_DEFAULT_CURRENCY"])
    preview, error, status = None, None, 200
    try:
        preview = preview_cart(cart, code, summary.currency, current_user if current_user.is_authenticated else None)
    except ServiceError as exc:
        db.session.rollback()
        error = " ".join(m for msgs in exc.errors.values() for m in msgs) if isinstance(exc, ValidationFailed) else exc.message
        status = exc.status_code
    return render_template(
        "cart/cart.html", cart=summary, problem_label=cart_services.problem_label, kind_label=cart_views._kind_label,
        coupon_code=code, coupon_preview=preview, coupon_error=error,
    ), status
