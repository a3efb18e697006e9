"""Earnings API: the caller's (or their brand's) balances and statement for a period, as JSON, CSV or PDF."""
from __future__ import annotations

from apiflask import APIBlueprint

from app.api import auth, current_api_user
from app.db import utcnow
from app.extensions import csrf
from marketplace.royalties import ledger, statements
from marketplace.royalties.parties import Party, party_for
from marketplace.royalties.statement_schemas import BalanceOut, EarningsPartyQuery, StatementOut, StatementQuery
from marketplace.royalties.statement_views import download_response, statement_locale

bp = APIBlueprint(
    "royalties_earnings_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Royalties", "description": "Your share of sales: balances and statements."},
)
csrf.exempt(bp)


def party_payload(party: Party) -> dict:
    return {"type": "brand" if party.is_brand else "user", "id": party.brand_id if party.is_brand else party.user_id,
            "name": party.name}


def statement_payload(statement: statements.Statement) -> dict:
    return {
        "party": party_payload(statement.party),
        "currency": statement.currency,
        "date_from": statement.date_from,
        "date_to": statement.date_to,
        "opening": {"currency": statement.currency, "amount": statement.opening.amount},
        "closing": {"currency": statement.currency, "amount": statement.closing.amount},
        "lines": [{
            "at": line.at, "kind": line.kind, "label": statements.kind_label(line.kind), "order_id": line.order_id,
            "order_number": line.order_number, "listing_id": line.listing_id, "listing": line.listing_title,
            "gross": line.gross.amount if line.gross is not None else None, "bp": line.bp,
            "amount": line.amount.amount, "payout_id": line.payout_id,
        } for line in statement.lines],
        "totals": {kind: total.amount for kind, total in statement.totals.items()},
    }


@bp.get("/royalties/balance")
@bp.auth_required(auth)
@bp.input(EarningsPartyQuery, location="query", arg_name="query")
@bp.output(BalanceOut)
@bp.doc(summary="Your balance, or a brand's", responses=[401, 403, 404])
def get_balance(query):
    """What Encore owes you (or, with `brand`, a brand you belong to), per currency, in minor units."""
    party = party_for(current_api_user(), query["brand"])
    balances = ledger.party_balances(user_id=party.user_id, brand_id=party.brand_id)
    return {"party": party_payload(party),
            "balances": [{"currency": money.currency, "amount": money.amount} for money in balances]}


@bp.get("/royalties/statement")
@bp.auth_required(auth)
@bp.input(StatementQuery, location="query", arg_name="query")
@bp.output(StatementOut)
@bp.doc(summary="Your statement for a period, or a brand's", responses=[401, 403, 404, 422])
def get_statement(query):
    """The opening balance, every sale, fee, refund, chargeback and payout line of the period, and the closing
    balance. `format=csv` or `pdf` answers a download written in the party's language. A statement is always
    your own or that of a brand you belong to."""
    party = party_for(current_api_user(), query["brand"])
    date_from, date_to = statements.parse_period(query["date_from"], query["date_to"], utcnow().date())
    currency = statements.choose_currency(party, query["currency"])
    statement = statements.statement_for(party, currency, date_from, date_to)
    if query["format"] != "json":
        return download_response(statement, query["format"], statement_locale(party))
    return statement_payload(statement)
