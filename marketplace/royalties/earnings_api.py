"""API: (being built)."""
from __future__ import annotations

from apiflask import APIBlueprint

from app.extensions import csrf

bp = APIBlueprint("royalties_earnings_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
