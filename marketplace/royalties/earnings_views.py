"""Pages: a streamer's or a brand's earnings dashboard, and the operator's view of the whole ledger.

Both only read (marketplace.royalties.earnings); the chart is an inline SVG drawn on the server, twice: a wide
one and a narrow one for phones, of which CSS shows one.
"""
from __future__ import annotations

from babel.dates import format_skeleton
from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from app.db import utcnow
from app.errors import PermissionDenied
from app.i18n import current_locale
from marketplace.royalties import earnings as reads  # the page function below is named `earnings`
from marketplace.royalties import ledger
from marketplace.royalties.charts import bar_chart_svg
from marketplace.royalties.parties import party_for, parties_of

bp = Blueprint("royalties_earnings_views", __name__, template_folder="templates")

#: how many periods the chart shows
PERIODS = 12
#: the chart drawn for wide screens and the one for phones (SVG units; the text keeps its size in each)
WIDE, NARROW = 960, 360
#: how each grain names a period on the x axis (a CLDR skeleton: the reader's language orders it)
LABEL_SKELETONS = {"day": "MMMd", "week": "MMMd", "month": "yMMM"}


def grain_names() -> dict[str, str]:
    return {"day": _("Day"), "week": _("Week"), "month": _("Month")}


def chart_titles() -> dict[str, str]:
    return {"day": _("Earnings per day"), "week": _("Earnings per week"), "month": _("Earnings per month")}


def period_labels(series, grain: str) -> list[str]:
    locale = current_locale()
    return [format_skeleton(LABEL_SKELETONS[grain], period.start, locale=locale) for period in series]


def charts(series, grain: str, title: str, legend: tuple[str, str] | None = None) -> dict:
    """The wide and the narrow SVG of one series, and its title."""
    labels = period_labels(series, grain)
    locale = current_locale()
    return {
        "title": title,
        "wide": bar_chart_svg(series, labels=labels, width=WIDE, height=260, locale=locale, title=title,
                              legend=legend),
        "narrow": bar_chart_svg(series, labels=labels, width=NARROW, height=240, locale=locale, title=title,
                                legend=legend),
    }


def optional_url(endpoint: str, **values) -> str | None:
    """A link to a page another part of royalties serves; None (no link) while that page does not exist."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def chosen_currency(wanted: str | None, available: list[str]) -> str | None:
    """The asked-for currency when the party has earned in it, else its first one (None: it never earned)."""
    wanted = (wanted or "").upper()
    if wanted in available:
        return wanted
    return available[0] if available else None


@bp.get("/dashboard/earnings")
@login_required
def earnings():
    """The signed-in user's earnings, or (with ?brand=) a brand's they belong to: balance, chart, top listings
    and recent ledger lines, per currency."""
    brand = request.args.get("brand") or None
    party = party_for(current_user, brand)
    grain = request.args.get("grain", "week")
    if grain not in reads.GRAINS:
        grain = "week"
    currencies = reads.party_currencies(party)
    currency = chosen_currency(request.args.get("currency"), currencies)
    parties = parties_of(current_user)
    if party.key not in {other.key for other in parties}:  # an operator looking at a brand they are not in
        parties.append(party)

    context = {
        "party": party, "parties": parties, "brand": party.brand_id, "currencies": currencies,
        "currency": currency, "grain": grain, "grains": grain_names(),
        "balances": ledger.party_balances(party.user_id, party.brand_id),
        "statement_url": optional_url("royalties_statement_views.statement_page", brand=party.brand_id,
                                      currency=currency),
        "payouts_url": optional_url("royalties_payout_views.payouts_page", brand=party.brand_id),
        "series": [], "chart": None, "top": [], "lines": [],
    }
    if currency is not None:
        series = reads.earnings_series(party, currency, grain, PERIODS, utcnow().date())
        context.update(
            series=series,
            chart=charts(series, grain, chart_titles()[grain]),
            total_earned=sum((period.earned for period in series[1:]), series[0].earned),
            total_refunded=sum((period.refunded for period in series[1:]), series[0].refunded),
            top=reads.top_listings(party, currency),
            lines=reads.recent_lines(party, currency),
        )
    return render_template("royalties/earnings.html", kind_label=kind_label, **context)


def kind_label(kind: str) -> str:
    """A ledger entry's kind as the reader's language names it."""
    return {
        "sale": _("Sale"), "refund": _("Refund"), "chargeback": _("Chargeback"), "gateway_fee": _("Payment fee"),
        "payout": _("Payout"), "payout_reversal": _("Payout returned"), "adjustment": _("Adjustment"),
    }.get(kind, kind)


@bp.get("/operator/ledger")
@login_required
def operator_ledger():
    """Operators: the platform's revenue, what it owes parties, refunds and payouts per currency, and whether
    the whole ledger sums to zero."""
    if not current_user.is_operator:
        raise PermissionDenied(_("Only operators can see the ledger."))
    summary = reads.platform_summary()
    today = utcnow().date()
    revenue_charts = {
        row.currency: charts(reads.platform_series(row.currency, "week", PERIODS, today), "week",
                             _("Platform revenue per week"), legend=(_("Revenue"), _("Refunded")))
        for row in summary.currencies
    }
    return render_template("royalties/ledger_check.html", summary=summary, revenue_charts=revenue_charts,
                           payouts_url=optional_url("royalties_payout_views.operator_payouts"))
