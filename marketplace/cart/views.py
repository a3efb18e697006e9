"""Cart pages: the cart itself and the forms that change it (from the listing page and the cart page).

Signed-in fans change their Cart row; anonymous visitors a SessionCart in the web session.
A refused change shows the cart again with the reason (422); an unknown listing or line is a 404 page.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.errors import ValidationFailed
from app.extensions import db
from marketplace import kinds
from marketplace.cart import services

bp = Blueprint("cart", __name__, template_folder="templates", static_folder="static", static_url_path="/cart/static")


def current_cart(create: bool = False):
    """The visitor's cart: the signed-in user's row (created when `create`), else the session's."""
    if current_user.is_authenticated:
        return services.user_cart(current_user) if create else services.find_cart(current_user)
    return services.SessionCart(session)


def _form_int(name: str, default: int | None = None) -> int:
    raw = request.form.get(name, "").strip()
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        if name == "quantity":
            raise ValidationFailed.one(name, _("Choose a quantity from 1 to %(max)d.", max=services.MAX_QUANTITY)) from None
        raise ValidationFailed.one(name, _("This is not a valid number.")) from None


def _render(cart, status: int = 200, address_form: dict | None = None, address_errors: dict | None = None):
    """The cart page; with merch in the cart, the checkout form asks for the shipping address (`address_form` holds
    what was sent, `address_errors` the refused fields as "shipping_address.city")."""
    summary = services.summarize(cart, current_app.config["ENCORE_DEFAULT_CURRENCY"])
    needs_address = any(not line.is_digital for line in summary.lines)
    if needs_address and address_form is None:
        address_form = _last_address()
    return render_template(
        "cart/cart.html", cart=summary, problem_label=services.problem_label, kind_label=_kind_label,
        needs_address=needs_address, address=address_form or {}, address_errors=address_errors or {},
        countries=_countries() if needs_address else [],
    ), status


def _countries():
    from marketplace.merch import shipping

    return shipping.country_choices()


def _last_address() -> dict:
    """The address of the signed-in buyer's latest order that shipped something, to fill the form in."""
    if not current_user.is_authenticated:
        return {}
    from sqlalchemy import select

    from marketplace.orders.models import Order

    address = db.session.scalar(
        select(Order.shipping_address).where(Order.buyer_id == current_user.id, Order.shipping_address.is_not(None))
        .order_by(Order.id.desc()).limit(1)
    )
    return dict(address) if isinstance(address, dict) else {}


def _refused(exc: ValidationFailed):
    db.session.rollback()
    flash(" ".join(m for msgs in exc.errors.values() for m in msgs) or exc.message, "error")
    return _render(current_cart(), 422)


def _kind_label(code: str) -> str:
    kind = kinds.get(code)
    return str(kind.label) if kind else code


@bp.get("/cart")
def show():
    return _render(current_cart())


@bp.post("/cart/lines")
def add():
    try:
        cart = current_cart(create=True)
        services.add_line(cart, _form_int("listing_id"), _form_int("quantity", default=1))
    except ValidationFailed as exc:
        return _refused(exc)
    db.session.commit()
    flash(_("Added to your cart."), "success")
    return redirect(url_for("cart.show"))


@bp.post("/cart/lines/<int:line_id>")
def change(line_id: int):
    try:
        services.change_quantity(current_cart(), line_id, _form_int("quantity"))
    except ValidationFailed as exc:
        return _refused(exc)
    db.session.commit()
    flash(_("Quantity updated."), "success")
    return redirect(url_for("cart.show"))


@bp.post("/cart/lines/<int:line_id>/remove")
def remove(line_id: int):
    services.remove_line(current_cart(), line_id)
    db.session.commit()
    flash(_("Removed from your cart."), "success")
    return redirect(url_for("cart.show"))


@bp.post("/cart/currency")
def currency():
    try:
        services.choose_currency(current_cart(create=current_user.is_authenticated), request.form.get("currency"))
    except ValidationFailed as exc:
        return _refused(exc)
    db.session.commit()
    return redirect(url_for("cart.show"))


def cart_badge() -> dict:
    """Template globals: `cart_count()` counts the items in the visitor's cart (the header's badge) when called;
    `cart_is_physical(listing)` tells the add-to-cart form whether to offer a quantity."""

    def cart_count() -> int:
        if current_user.is_authenticated:
            return services.item_count(current_user)
        return services.session_item_count(services.SessionCart(session))

    return {"cart_count": cart_count, "cart_is_physical": lambda listing: not services.is_digital(listing)}


def refused_address(address: dict, errors: dict):
    """The cart page again after checkout refused the shipping address: the fields as sent, marked (422)."""
    return _render(current_cart(), 422, address, errors)
