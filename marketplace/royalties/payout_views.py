"""Pages: a streamer's or brand's payouts (balance per currency, the payout account, "Pay out now", past
payouts) and the operators' payouts (every payout, failed ones first to the eye, "Run payouts now").

Forms post here, call marketplace.royalties.payouts, commit once and redirect with a flash; a refusal shows
the page again with the reason and the refusal's status (403, 409, 422, 502).
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from app.db import utcnow
from app.errors import PermissionDenied, ServiceError, ValidationFailed
from app.extensions import db
from app.i18n import format_money
from marketplace.royalties import payouts
from marketplace.royalties.models import PayoutProvider, PayoutStatus
from marketplace.royalties.parties import Party, party_for, parties_of

bp = Blueprint("royalties_payout_views", __name__, template_folder="templates")


def status_label(status: str) -> str:
    return {
        PayoutStatus.PENDING: _("Sending"),
        PayoutStatus.PAID: _("Paid"),
        PayoutStatus.FAILED: _("Failed, money returned"),
    }.get(status, status)


#: the badge colour of each status (encore.css)
STATUS_BADGES = {PayoutStatus.PENDING: "submitted", PayoutStatus.PAID: "success", PayoutStatus.FAILED: "error"}


@bp.app_context_processor
def _payout_helpers() -> dict:
    return {"payout_status_label": status_label, "payout_badge": lambda status: STATUS_BADGES.get(status, "info")}


def _messages(exc: ServiceError) -> list[str]:
    if isinstance(exc, ValidationFailed):
        return [message for messages in exc.errors.values() for message in messages] or [exc.message]
    return [exc.message]


def _brand_arg(party: Party) -> int | None:
    return party.brand_id if party.is_brand else None


def _payouts_page(party: Party, account_errors: list[str] | None = None, payout_errors: list[str] | None = None,
                  entered: str | None = None, status: int = 200):
    account = payouts.payout_account(party)
    mode = payouts.payout_mode()
    return render_template(
        "royalties/payouts.html", party=party, parties=parties_of(current_user), account=account,
        options=payouts.payout_options(party), history=payouts.payouts_of(party), mode=mode,
        is_stripe=mode == PayoutProvider.STRIPE, minimum=payouts.payout_minimum(), format_money=format_money,
        when=lambda moment: format_datetime(moment, "medium") if moment else "",
        account_errors=account_errors or [], payout_errors=payout_errors or [],
        entered=entered if entered is not None else (account.external_id if account else ""),
        brand_arg=_brand_arg(party),
        minimum_text=payouts.minimum_text(current_app.config["ENCORE_DEFAULT_CURRENCY"]),
    ), status


@bp.get("/dashboard/payouts")
@login_required
def payouts_page():
    """Your balance per currency, where it is paid, and your payouts; `?brand=<id>` for a brand of yours."""
    return _payouts_page(party_for(current_user, request.args.get("brand")))


@bp.post("/dashboard/payouts/account")
@login_required
def save_account():
    party = party_for(current_user, request.form.get("brand"))
    entered = request.form.get("external_id", "")
    try:
        payouts.connect_account(current_user, party, entered, utcnow())
    except (ValidationFailed, PermissionDenied, ServiceError) as exc:
        db.session.rollback()
        return _payouts_page(party, account_errors=_messages(exc), entered=entered, status=exc.status_code)
    db.session.commit()
    flash(_("Your payout account was saved. Payouts go there from now on."), "success")
    return redirect(url_for("royalties_payout_views.payouts_page", brand=_brand_arg(party)))


@bp.post("/dashboard/payouts/request")
@login_required
def request_payout():
    party = party_for(current_user, request.form.get("brand"))
    try:
        payout = payouts.request_payout(current_user, party, request.form.get("currency", ""), utcnow())
    except ServiceError as exc:
        db.session.rollback()
        return _payouts_page(party, payout_errors=_messages(exc), status=exc.status_code)
    payout_id, amount, local = payout.id, payout.money, payout.provider == PayoutProvider.LOCAL
    db.session.commit()
    if local:
        payouts.send_payout(payout_id, utcnow())
        flash(_("%(amount)s was paid out.", amount=format_money(amount)), "success")
    else:
        from marketplace.royalties.tasks import queue_sends

        queue_sends([payout_id])
        flash(_("%(amount)s is on its way to your Stripe account.", amount=format_money(amount)), "success")
    return redirect(url_for("royalties_payout_views.payouts_page", brand=_brand_arg(party)))


# ---------------------------------------------------------------- operators

def _require_operator() -> None:
    if not current_user.is_operator:
        raise PermissionDenied(_("Only operators see every payout."))


FILTERS = ("", PayoutStatus.PENDING, PayoutStatus.PAID, PayoutStatus.FAILED)


@bp.get("/operator/payouts")
@login_required
def operator_payouts():
    """Every payout, newest first, filtered by status; failed ones show why."""
    _require_operator()
    status = request.args.get("status", "")
    if status not in FILTERS:
        status = ""
    rows = payouts.all_payouts(status or None)
    stale_before = utcnow() - payouts.STALE_AFTER
    return render_template(
        "royalties/payouts_operator.html", rows=rows, status=status, filters=FILTERS,
        failed_count=sum(1 for row in rows if row.status == PayoutStatus.FAILED), format_money=format_money,
        when=lambda moment: format_datetime(moment, "medium") if moment else "", minimum=payouts.payout_minimum(),
        is_stale=lambda payout: payout.status == PayoutStatus.PENDING and payout.created_at <= stale_before,
    )


@bp.post("/operator/payouts/run")
@login_required
def run_payouts_now():
    _require_operator()
    from marketplace.royalties.tasks import queue_sends

    created = payouts.create_due_payouts(utcnow())
    queue_sends(created)
    if created:
        flash(ngettext("%(num)d payout was created and is being sent.",
                       "%(num)d payouts were created and are being sent.", len(created)), "success")
    else:
        flash(_("No balance is due: nothing was paid out."), "info")
    return redirect(url_for("royalties_payout_views.operator_payouts"))
