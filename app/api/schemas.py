"""Pieces shared by every API schema: a strict integer, the problem-details shape, collection wrappers."""
from __future__ import annotations

from apiflask import Schema, fields
from marshmallow import RAISE


class StrictInteger(fields.Integer):
    """A JSON integer and nothing else: "12", 12.5 and true are refused, not coerced."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class InputSchema(Schema):
    """Request bodies refuse unknown fields, so a misspelt field is an error rather than silently ignored."""

    class Meta:
        unknown = RAISE


#: application/problem+json (RFC 9457), as every API error answers
PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "A URI reference naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "description": 'Messages per field, e.g. {"prices.0.amount": ["..."]}; only on 422.',
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["type", "title", "status", "detail"],
}
