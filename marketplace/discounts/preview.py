"""Previewing a coupon on a cart, before checkout exists: shared by the API and the cart page."""
from __future__ import annotations

from flask_babel import gettext as _

from app.db import utcnow
from app.errors import ValidationFailed
from app.money import SUPPORTED_CURRENCIES
from marketplace.cart import services as cart_services
from marketplace.discounts import services


def preview_cart(cart, code, currency, buyer) -> services.Priced:
    """The cart's lines priced in `currency` with the coupon (no uses are counted: orders do not exist yet).

    :raise 422: an unknown currency, a cart that cannot be checked out in it, or a coupon that does not apply
    :raise 409: the coupon is used up
    """
    currency = currency.strip().upper() if isinstance(currency, str) else ""
    if currency not in SUPPORTED_CURRENCIES:
        raise ValidationFailed.one("currency", _("Choose one of: %(currencies)s.", currencies=", ".join(SUPPORTED_CURRENCIES)))
    summary = cart_services.summarize(cart, currency)
    if summary.currency != currency:
        raise ValidationFailed.one("currency", _("Your cart is in %(currency)s.", currency=summary.currency))
    if not summary.can_checkout:
        raise ValidationFailed.one("cart", " ".join(str(cart_services.problem_label(code)) for code in summary.problems))
    if not services.normalize_code(code):
        raise services.CouponRefused(services.CouponProblem.UNKNOWN, _("Enter a coupon code."))
    lines = [(line.listing, line.quantity, line.unit_price) for line in summary.lines]
    return services.price_lines(lines, code, buyer, utcnow())
