"""Pages: (being built)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("royalties_earnings_views", __name__, template_folder="templates")
