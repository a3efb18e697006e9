"""Merch variants API: a merch listing's sizes and colours with their SKU, stock and prices."""
from __future__ import annotations

from apiflask import APIBlueprint

from app.api import auth, current_api_user, optional_api_user
from app.extensions import csrf, db
from marketplace.merch import services
from marketplace.merch.schemas import VariantIn, VariantList, VariantOut, VariantPatch

bp = APIBlueprint(
    "merch_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Merch variants", "description": "A merch listing's variants (size, colour): SKU, stock that never "
                                                  "oversells, and per-currency prices."},
)
csrf.exempt(bp)  # the API authenticates with bearer tokens, never with the session cookie


@bp.post("/listings/<int:listing_id>/variants")
@bp.auth_required(auth)
@bp.input(VariantIn, arg_name="body")
@bp.output(VariantOut, status_code=201)
@bp.doc(summary="Add a variant to a merch listing", responses=[401, 403, 404, 422])
def create_variant(listing_id: int, body):
    """The listing's creator (or an operator) only. `stock: null` sells without limit."""
    variant = services.create_variant(current_api_user(), listing_id, body)
    db.session.commit()
    return variant


@bp.get("/listings/<int:listing_id>/variants")
@bp.auth_required(auth, optional=True)
@bp.output(VariantList)
@bp.doc(summary="A merch listing's variants", responses=[404])
def list_variants(listing_id: int):
    """Fans see the active variants of a published listing; its creator and operators see every one."""
    _listing, variants = services.variants_for(optional_api_user(), listing_id)
    return {"items": variants}


@bp.get("/variants/<int:variant_id>")
@bp.auth_required(auth, optional=True)
@bp.output(VariantOut)
@bp.doc(summary="One variant", responses=[404])
def get_variant(variant_id: int):
    return services.get_variant(optional_api_user(), variant_id)


@bp.patch("/variants/<int:variant_id>")
@bp.auth_required(auth)
@bp.input(VariantPatch, arg_name="body")
@bp.output(VariantOut)
@bp.doc(summary="Change a variant", responses=[401, 403, 404, 422])
def update_variant(variant_id: int, body):
    """Set the stock (what can still be sold), prices, options, SKU, weight or whether it is sold at all."""
    variant = services.update_variant(current_api_user(), variant_id, body)
    db.session.commit()
    return variant
