"""Shapes of the earnings API: a party's balances and its statement for a period."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import OneOf

STATEMENT_FORMATS = ("json", "csv", "pdf")


class EarningsPartyQuery(Schema):
    brand = fields.String(load_default=None, metadata={
        "description": "A brand you belong to (its id); without it, yourself. Operators may name any brand."})


class StatementQuery(EarningsPartyQuery):
    # the dates are read as text so a bad one gets the statement's own message (parse_period)
    date_from = fields.String(data_key="from", load_default=None, metadata={
        "description": "First day, YYYY-MM-DD (UTC); default: the first of the current month."})
    date_to = fields.String(data_key="to", load_default=None, metadata={
        "description": "Last day, inclusive, YYYY-MM-DD (UTC); default: today. At most 366 days in all."})
    format = fields.String(load_default="json", validate=OneOf(STATEMENT_FORMATS), metadata={
        "description": "json, or a download: csv (amounts in major units) or pdf, in the party's language."})
    currency = fields.String(load_default=None, metadata={
        "description": "ISO code; default: the party's only currency, else the site's default."})


class EarningsPartyOut(Schema):
    type = fields.String(metadata={"enum": ["user", "brand"]})
    id = fields.Integer()
    name = fields.String()


class EarningsMoneyOut(Schema):
    currency = fields.String()
    amount = fields.Integer(metadata={"description": "Minor units (fen, cents)."})


class BalanceOut(Schema):
    party = fields.Nested(EarningsPartyOut)
    balances = fields.List(fields.Nested(EarningsMoneyOut), metadata={
        "description": "What Encore owes the party, per currency it ever earned in (negative after a refund of "
                       "money already paid out)."})


class StatementLineOut(Schema):
    at = fields.DateTime()
    kind = fields.String(metadata={"enum": ["sale", "gateway_fee", "refund", "chargeback", "payout",
                                            "payout_reversal", "adjustment"]})
    label = fields.String(metadata={"description": "The kind in the reader's language."})
    order_id = fields.Integer(allow_none=True)
    order_number = fields.String(allow_none=True)
    listing_id = fields.Integer(allow_none=True)
    listing = fields.String(allow_none=True, metadata={"description": "The title as it was sold."})
    gross = fields.Integer(allow_none=True, metadata={
        "description": "The order line's net amount the share was taken from, minor units."})
    bp = fields.Integer(allow_none=True, metadata={"description": "The party's share in basis points."})
    amount = fields.Integer(metadata={"description": "Minor units, signed: + earned, − refunded or paid out."})
    payout_id = fields.Integer(allow_none=True)


class StatementOut(Schema):
    party = fields.Nested(EarningsPartyOut)
    currency = fields.String()
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    opening = fields.Nested(EarningsMoneyOut)
    closing = fields.Nested(EarningsMoneyOut)
    lines = fields.List(fields.Nested(StatementLineOut))
    totals = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Per kind, the period's lines added up (minor units)."})
