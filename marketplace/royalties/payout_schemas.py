"""Shapes of the payouts API: a party's payouts and payout account, requesting a payout, the operators' run."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Length


class PayoutsQuery(Schema):
    brand = fields.String(load_default=None, metadata={"description": "A brand you belong to (its id); "
                                                                       "omit for your own payouts."})
    all = fields.Boolean(load_default=False, metadata={"description": "Operators: every party's payouts."})


class PayoutOut(Schema):
    id = fields.Integer()
    currency = fields.String()
    amount = fields.Integer(metadata={"description": "Minor units (fen, cents)."})
    status = fields.String(metadata={"description": "pending, paid or failed (a failed payout's money is back "
                                                    "in the balance)."})
    provider = fields.String(metadata={"description": "stripe or local."})
    destination = fields.String(metadata={"description": "The payout account at the time of the payout."})
    provider_reference = fields.String(allow_none=True, metadata={"description": "Stripe: the transfer id (tr_...)."})
    created_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    party = fields.String(metadata={"description": "user:<id> or brand:<id>."})


class PayoutAccountOut(Schema):
    provider = fields.String()
    external_id = fields.String(metadata={"description": "Stripe: the connected account id; local: its label."})
    updated_at = fields.DateTime()
    party = fields.String()


class ConnectedAccountOut(PayoutAccountOut):
    """The payout account as just saved (its own name: the docs list PayoutAccountOut inside PayoutsOut)."""


class MinimumOut(Schema):
    amount = fields.Integer(metadata={"description": "Minor units of each currency: a balance is paid out once it "
                                                     "reaches this."})


class PayoutsOut(Schema):
    payouts = fields.List(fields.Nested(PayoutOut))
    account = fields.Nested(PayoutAccountOut, allow_none=True, metadata={"description": "Null until you connect one."})
    minimum = fields.Nested(MinimumOut)


class PayoutIn(Schema):
    currency = fields.String(required=True, validate=Length(min=1, max=8),
                             metadata={"description": "ISO code of the balance to pay out, e.g. CNY."})
    brand_id = fields.Integer(load_default=None, allow_none=True,
                              metadata={"description": "Pay out a brand's balance (you must belong to it)."})


class PayoutAccountIn(Schema):
    external_id = fields.String(required=True, validate=Length(max=255), metadata={
        "description": "Stripe mode: your Connect account id (acct_...); local mode: a label of 3–80 characters."})
    brand_id = fields.Integer(load_default=None, allow_none=True)


class PayoutRunOut(Schema):
    created = fields.Integer(metadata={"description": "Payouts created for balances at or above the minimum."})
    queued = fields.Integer(metadata={"description": "Of those, how many were queued to be sent."})
