"""Shipping profiles API: a streamer's profiles (where they ship, for how much). Handlers parse, call
marketplace.merch.shipping, serialise, then commit."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import jsonify

from app.api import auth, current_api_user
from app.extensions import csrf, db
from marketplace.merch import shipping
from marketplace.merch.shipping_schemas import ShippingProfileIn, ShippingProfileListOut, ShippingProfileOut

bp = APIBlueprint(
    "merch_shipping_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Shipping", "description": "Your shipping profiles: the rates your merch listings ship at."},
)
csrf.exempt(bp)

PROFILE_OUT = ShippingProfileOut()


@bp.post("/shipping-profiles")
@bp.auth_required(auth)
@bp.input(ShippingProfileIn, arg_name="body")
@bp.output(ShippingProfileOut, status_code=201)
@bp.doc(summary="Create a shipping profile", responses=[401, 403, 422])
def create_profile(body):
    """A profile names the countries you ship to, in which currency, for how much, and above what order amount it
    is free. Give it to your merch listings (their `shipping_profile_id`)."""
    profile = shipping.create_profile(current_api_user(), body)
    response = jsonify(PROFILE_OUT.dump(profile))  # serialised before the commit expires the rows
    db.session.commit()
    response.status_code = 201
    return response


@bp.get("/shipping-profiles/<int:profile_id>")
@bp.auth_required(auth)
@bp.output(ShippingProfileOut)
@bp.doc(summary="One of your shipping profiles", responses=[401, 403, 404])
def get_profile(profile_id: int):
    return shipping.get_own_profile(current_api_user(), profile_id)


@bp.put("/shipping-profiles/<int:profile_id>")
@bp.auth_required(auth)
@bp.input(ShippingProfileIn, arg_name="body")
@bp.output(ShippingProfileOut)
@bp.doc(summary="Replace a shipping profile's name and rates", responses=[401, 403, 404, 422])
def put_profile(profile_id: int, body):
    """Orders already placed keep the shipping they were charged."""
    profile = shipping.update_profile(current_api_user(), profile_id, body)
    response = jsonify(PROFILE_OUT.dump(profile))
    db.session.commit()
    return response


@bp.delete("/shipping-profiles/<int:profile_id>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Delete a shipping profile", responses=[401, 403, 404])
def delete_profile(profile_id: int):
    """Listings that used it cannot be bought with shipping until given another profile."""
    shipping.delete_profile(current_api_user(), profile_id)
    db.session.commit()
    return ""


# the list nests ShippingProfileOut: it comes after the routes answering one, so the OpenAPI document names the
# schema once (apiflask registers a schema seen first as nested a second time)
@bp.get("/shipping-profiles")
@bp.auth_required(auth)
@bp.output(ShippingProfileListOut)
@bp.doc(summary="Your shipping profiles", responses=[401, 403])
def list_profiles():
    """Streamers only."""
    return {"items": shipping.own_profiles(current_api_user())}
