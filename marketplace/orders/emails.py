"""Order emails, written in the buyer's language: the confirmation when payment arrives, one per refund."""
from __future__ import annotations

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from app.i18n import format_money
from marketplace.orders.models import Order, Refund


def buyer_locale(order: Order) -> str:
    return order.locale or order.buyer.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def _order_link(order: Order) -> str:
    return url_for("orders.detail", number=order.number, _external=True)


def confirmation(order: Order) -> tuple[str, str]:
    """(subject, body) of the payment confirmation."""
    with force_locale(buyer_locale(order)):
        lines = "\n".join(
            f"- {line.title} x {line.quantity}: {format_money(line.total_money)}" for line in order.lines
        )
        subject = _("Your Encore order %(number)s is paid", number=order.number)
        parts = [
            _("Hello %(name)s,", name=order.buyer.display_name),
            _("thank you: we received your payment for order %(number)s.", number=order.number),
            lines,
            _("Subtotal: %(amount)s", amount=format_money(order.subtotal_money)),
        ]
        if order.discount:
            parts.append(_("Discount (%(code)s): -%(amount)s", code=order.coupon_code or "-", amount=format_money(order.discount_money)))
        parts += [
            _("Total paid: %(amount)s", amount=format_money(order.total_money)),
            _("Your order: %(url)s", url=_order_link(order)),
            _("The Encore team"),
        ]
    return subject, "\n\n".join(parts) + "\n"


def refund_notice(order: Order, refund: Refund) -> tuple[str, str]:
    """(subject, body) telling the buyer what was refunded and why."""
    with force_locale(buyer_locale(order)):
        titles = ", ".join(line.order_line.title for line in refund.lines) or _("your order")
        subject = _("Refund for your Encore order %(number)s", number=order.number)
        parts = [
            _("Hello %(name)s,", name=order.buyer.display_name),
            _("we refunded %(amount)s for %(items)s in order %(number)s.",
              amount=format_money(refund.amount_money), items=titles, number=order.number),
        ]
        if refund.reason:
            parts.append(_("Reason: %(reason)s", reason=refund.reason))
        parts += [
            _("The money goes back to the card or account you paid with; banks usually take 5 to 10 days."),
            _("Your order: %(url)s", url=_order_link(order)),
            _("The Encore team"),
        ]
    return subject, "\n\n".join(parts) + "\n"
