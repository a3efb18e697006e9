"""The fulfilment page: paid merch waiting for the signed-in streamer (or brand member, or operator) to ship it,
one form per order to mark the chosen lines shipped with the carrier and tracking number."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from marketplace.merch import cobranding, fulfilment
from marketplace.merch.shipping import country_name

bp = Blueprint("merch_fulfilment_views", __name__, template_folder="templates")


def _page(errors: dict | None = None, typed: dict | None = None, status: int = 200):
    """The queue; `errors` and `typed` belong to the order whose form was refused (by order id)."""
    groups = fulfilment.queue_by_order(current_user)
    errors, typed = errors or {}, typed or {}
    # a refusal about an order no longer in the queue (shipped meanwhile) is shown above it
    loose = [m for messages in errors.values() for m in messages] \
        if typed and typed.get("order_id") not in {group.order.id for group in groups} else []
    return render_template(
        "merch/fulfilment.html", groups=groups, errors=errors, typed=typed, loose_errors=loose,
        country_name=country_name, has_brands=bool(cobranding.brands_of(current_user)),
    ), status


@bp.get("/dashboard/fulfilment")
@login_required
def queue_page():
    return _page()


@bp.post("/dashboard/fulfilment/<int:order_id>/ship")
@login_required
def ship(order_id: int):
    line_ids = []
    for value in request.form.getlist("line_ids"):
        try:
            line_ids.append(int(value))
        except ValueError:
            continue
    carrier = request.form.get("carrier", "")[:200]
    tracking = request.form.get("tracking_number", "")[:200]
    typed = {"order_id": order_id, "line_ids": set(line_ids), "carrier": carrier, "tracking_number": tracking}
    try:
        shipment = fulfilment.mark_shipped(current_user, line_ids, carrier, tracking, utcnow())
        if shipment.order_id != order_id:
            raise NotFound(_("Line %(id)s is not part of this order.", id=line_ids[0]))
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(exc.errors, typed, exc.status_code)
    except (NotFound, Conflict) as exc:
        db.session.rollback()
        return _page({"form": [exc.message]}, typed, exc.status_code)
    db.session.commit()
    fulfilment.queue_shipped_email(shipment)
    flash(_("Order %(number)s: marked shipped with %(carrier)s, tracking %(tracking)s. The buyer gets an email.",
            number=shipment.order_number, carrier=shipment.carrier, tracking=shipment.tracking_number), "success")
    return redirect(url_for("merch_fulfilment_views.queue_page"))
