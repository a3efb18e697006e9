"""Pages: a party's statement for a period (the reader's own or a brand's they belong to), with CSV and PDF
downloads of the same statement. A bad date shows the period form again with the reason (422)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request
from flask_login import current_user, login_required

from app.db import utcnow
from app.errors import ValidationFailed
from app.i18n import current_locale
from marketplace.royalties import statements
from marketplace.royalties.parties import Party, parties_of, party_for

bp = Blueprint("royalties_statement_views", __name__, template_folder="templates")

DOWNLOAD_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


def statement_locale(party: Party) -> str:
    """The language a statement file is written in: the party's (a brand's is its reader's), else the request's."""
    if party.locale in current_app.config["ENCORE_LOCALES"]:
        return party.locale
    return current_locale()


def download_response(statement: statements.Statement, file_format: str, locale: str) -> Response:
    """The statement as a CSV or PDF attachment named encore-statement-<from>-<to>-<currency>.<format>."""
    if file_format == "csv":
        # the byte-order mark tells spreadsheet programs the file is UTF-8 (Chinese titles and headers)
        body = ("\ufeff" + statements.statement_csv(statement, locale)).encode("utf-8")
    else:
        body = statements.statement_pdf(statement, locale)
    response = Response(body, mimetype=DOWNLOAD_TYPES[file_format].split(";")[0])
    if file_format == "csv":
        response.headers["Content-Type"] = DOWNLOAD_TYPES["csv"]
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{statements.statement_filename(statement, file_format)}"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _period_and_currency(party: Party):
    """The period and currency the query asks for; raises ValidationFailed with every bad field."""
    date_from, date_to = statements.parse_period(request.args.get("from"), request.args.get("to"), utcnow().date())
    return date_from, date_to, statements.choose_currency(party, request.args.get("currency"))


@bp.get("/dashboard/earnings/statement")
@login_required
def statement_page():
    user = current_user._get_current_object()
    brand = request.args.get("brand") or None
    party = party_for(user, brand)
    errors: dict[str, list[str]] = {}
    statement = None
    try:
        date_from, date_to, currency = _period_and_currency(party)
        statement = statements.statement_for(party, currency, date_from, date_to)
    except ValidationFailed as failure:
        errors = failure.errors
    parties = parties_of(user)
    if party.key not in {each.key for each in parties}:
        parties.append(party)  # an operator looking at a brand they do not belong to
    currencies = statements.statement_currencies(party)
    if statement is not None and statement.currency not in currencies:
        currencies.append(statement.currency)
    creator = user.creator_profile
    return render_template(
        "royalties/statement.html", statement=statement, party=party, parties=parties, currencies=currencies,
        errors=errors, args=request.args, brand=party.brand_id, kind_label=statements.kind_label,
        linkable_creator=creator.id if creator is not None else None, is_operator=user.is_operator,
    ), 422 if errors else 200


def _download(file_format: str):
    user = current_user._get_current_object()
    party = party_for(user, request.args.get("brand") or None)
    date_from, date_to, currency = _period_and_currency(party)
    statement = statements.statement_for(party, currency, date_from, date_to)
    return download_response(statement, file_format, statement_locale(party))


@bp.get("/dashboard/earnings/statement.csv")
@login_required
def statement_csv():
    return _download("csv")


@bp.get("/dashboard/earnings/statement.pdf")
@login_required
def statement_pdf():
    return _download("pdf")
