"""Order emails, written in the buyer's language: the confirmation when payment arrives, one per refund."""
from __future__ import annotations

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from app.i18n import format_money
from marketplace.orders.models import Order, Refund

#: Refund.reason of the automatic refund of a payment whose goods sold out (orders.services.SOLD_OUT_REASON)
SOLD_OUT_REASON = "sold_out"


def buyer_locale(order: Order) -> str:
    return order.locale or order.buyer.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def _order_link(order: Order) -> str:
    return url_for("orders.detail", number=order.number, _external=True)


def confirmation(order) -> tuple[str, str]:
    """(subject, body) of the payment confirmation, of an Order or of the fulfilment task's
    orders.services.LockedOrder (it reads the same names)."""
    with force_locale(buyer_locale(order)):
        lines = "\n".join(
            f"- {line.title} x {line.quantity}: {format_money(line.total_money)}" for line in order.lines
        )
        subject = _("Your Encore order %(number)s is paid", number=order.number)
        parts = [
            _("Hello %(name)s,", name=order.buyer.display_name),
            _("thank you: we received your payment for order %(number)s.", number=order.number),
            lines,
            _("Subtotal: %(amount)s", amount=format_money(order.money(order.subtotal))),
        ]
        if order.discount:
            parts.append(_("Discount (%(code)s): -%(amount)s", code=order.coupon_code or "-", amount=format_money(order.money(order.discount))))
        if order.shipping_total or order.shipping_address:
            parts.append(_("Shipping: %(amount)s", amount=format_money(order.money(order.shipping_total))))
        parts += [
            _("Total paid: %(amount)s", amount=format_money(order.money(order.total))),
            _("Your order: %(url)s", url=_order_link(order)),
            _("The Encore team"),
        ]
        if order.shipping_address:
            parts.insert(-2, _("We ship to:") + "\n" + _address_text(order.shipping_address))
    return subject, "\n\n".join(parts) + "\n"


def _address_text(address: dict) -> str:
    from marketplace.merch.shipping import country_name

    city = " ".join(part for part in (address.get("city"), address.get("region"), address.get("postal_code")) if part)
    rows = [address.get("name"), address.get("line1"), address.get("line2"), city,
            country_name(address.get("country") or ""), address.get("phone")]
    return "\n".join(row for row in rows if row)


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
        if refund.reason == SOLD_OUT_REASON:
            parts.append(_("Your payment arrived after the time we held these items for you, and they sold out in "
                           "the meantime, so we gave your money back in full. Sorry about that."))
        elif refund.reason:
            parts.append(_("Reason: %(reason)s", reason=refund.reason))
        parts += [
            _("The money goes back to the card or account you paid with; banks usually take 5 to 10 days."),
            _("Your order: %(url)s", url=_order_link(order)),
            _("The Encore team"),
        ]
    return subject, "\n\n".join(parts) + "\n"


def shipped_notice(order: Order, lines) -> tuple[str, str]:
    """(subject, body) telling the buyer which items of the order are on their way, with the carrier and
    tracking number."""
    lines = list(lines)
    first = lines[0]
    with force_locale(buyer_locale(order)):
        items = "\n".join(f"- {line.title} x {line.quantity}" for line in lines)
        subject = _("Your Encore order %(number)s has shipped", number=order.number)
        parts = [
            _("Hello %(name)s,", name=order.buyer.display_name),
            _("these items of order %(number)s are on their way:", number=order.number),
            items,
            _("Carrier: %(carrier)s", carrier=first.carrier),
            _("Tracking number: %(tracking)s", tracking=first.tracking_number),
            _("Your order: %(url)s", url=_order_link(order)),
            _("The Encore team"),
        ]
    return subject, "\n\n".join(parts) + "\n"
