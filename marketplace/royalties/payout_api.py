"""Payouts API: your (or your brand's) payouts and payout account, asking for a payout, and the operators'
"run payouts now"."""
from __future__ import annotations

import logging

from apiflask import APIBlueprint
from flask import jsonify
from flask_babel import gettext as _

from app.api import auth, current_api_user
from app.db import utcnow
from app.errors import PermissionDenied
from app.extensions import csrf, db
from marketplace.royalties import payouts
from marketplace.royalties.models import PayoutProvider
from marketplace.royalties.parties import party_for
from marketplace.royalties.payout_schemas import (
    ConnectedAccountOut,
    PayoutAccountIn,
    PayoutIn,
    PayoutOut,
    PayoutRunOut,
    PayoutsOut,
    PayoutsQuery,
)

log = logging.getLogger(__name__)

bp = APIBlueprint(
    "royalties_payout_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Payouts", "description": "Paying balances out to streamers and brands."},
)
csrf.exempt(bp)





def _party_key(row) -> str:
    return f"brand:{row.brand_id}" if row.brand_id is not None else f"user:{row.user_id}"


def payout_dict(payout) -> dict:
    """The payout's fields as the output schema reads them (dump it for a jsonify'd answer)."""
    return ({
        "id": payout.id, "currency": payout.currency, "amount": payout.amount, "status": payout.status,
        "provider": payout.provider, "destination": payout.destination,
        "provider_reference": payout.provider_reference, "created_at": payout.created_at, "paid_at": payout.paid_at,
        "last_error": payout.last_error, "party": _party_key(payout),
    })


def account_dict(account) -> dict | None:
    if account is None:
        return None
    return ({"provider": account.provider, "external_id": account.external_id,
                                "updated_at": account.updated_at, "party": _party_key(account)})


# the endpoints answering one payout or account come first: the docs then name those schemas once, and the
# list below refers to them

@bp.post("/payouts")
@bp.auth_required(auth)
@bp.input(PayoutIn, arg_name="body")
@bp.output(PayoutOut, status_code=201)
@bp.doc(summary="Pay out a balance now", responses=[403, 404, 409, 422, 502])
def create_payout(body):
    """Pays out the whole balance in `currency`, once it reaches the minimum and a payout account is
    connected. Local mode records it as paid at once; Stripe mode answers it pending and sends the transfer
    in the background."""
    user = current_api_user()
    party = party_for(user, body["brand_id"])
    payout = payouts.request_payout(user, party, body["currency"], utcnow())
    payout_id, local = payout.id, payout.provider == PayoutProvider.LOCAL
    db.session.commit()
    if local:
        payouts.send_payout(payout_id, utcnow())
    else:
        from marketplace.royalties.tasks import queue_sends

        queue_sends([payout_id])
    db.session.expire_all()
    response = jsonify(PayoutOut().dump(payout_dict(db.session.get(type(payout), payout_id))))
    db.session.rollback()
    response.status_code = 201
    return response


@bp.put("/payouts/account")
@bp.auth_required(auth)
@bp.input(PayoutAccountIn, arg_name="body")
@bp.output(ConnectedAccountOut)
@bp.doc(summary="Connect your payout account", responses=[403, 404, 422, 502])
def put_account(body):
    """Stripe mode: your Connect account id (acct_...), checked with Stripe; local mode: a label. Replaces
    the account you had; payouts already made keep the account they went to."""
    user = current_api_user()
    party = party_for(user, body["brand_id"])
    account = payouts.connect_account(user, party, body["external_id"], utcnow())
    response = jsonify(ConnectedAccountOut().dump(account_dict(account)))  # serialised before the commit expires the row
    db.session.commit()
    return response


@bp.get("/payouts")
@bp.auth_required(auth)
@bp.input(PayoutsQuery, location="query", arg_name="query")
@bp.output(PayoutsOut)
@bp.doc(summary="Your payouts", responses=[403, 404])
def list_payouts(query):
    """Your payouts (or, with `?brand=<id>`, a brand's you belong to), newest first, with the payout account
    they go to and the minimum a balance must reach. Operators may pass `?all=1` for everyone's."""
    user = current_api_user()
    minimum = {"amount": payouts.payout_minimum()}
    if query["all"]:
        if not user.is_operator:
            raise PermissionDenied(_("Only operators see every payout."))
        return {"payouts": [payout_dict(p) for p in payouts.all_payouts()], "account": None, "minimum": minimum}
    party = party_for(user, query["brand"])
    return {"payouts": [payout_dict(p) for p in payouts.payouts_of(party)],
            "account": account_dict(payouts.payout_account(party)), "minimum": minimum}


@bp.post("/payouts/run")
@bp.auth_required(auth)
@bp.output(PayoutRunOut, status_code=202)
@bp.doc(summary="Run payouts now (operators)", responses=[403])
def run_payouts():
    """What the hourly job does: a payout for every balance at or above the minimum with a payout account,
    each queued to be sent."""
    user = current_api_user()
    if not user.is_operator:
        raise PermissionDenied(_("Only operators run payouts."))
    from marketplace.royalties.tasks import queue_sends

    created = payouts.create_due_payouts(utcnow())
    queued = queue_sends(created)
    response = jsonify(PayoutRunOut().dump({"created": len(created), "queued": queued}))
    response.status_code = 202
    return response
