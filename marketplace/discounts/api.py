"""Coupons API: a streamer's own coupons, and a fan's preview of a coupon on their cart."""
from __future__ import annotations

from apiflask import APIBlueprint

from app.api import auth, current_api_user
from app.extensions import csrf, db
from marketplace.cart import services as cart_services
from marketplace.discounts import services
from marketplace.discounts.preview import preview_cart
from marketplace.discounts.schemas import CouponIn, CouponList, CouponOut, CouponPatch, PreviewIn, PreviewOut

bp = APIBlueprint(
    "discounts_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Coupons", "description": "Streamers' coupon codes: percent or fixed amount off their listings."},
)
csrf.exempt(bp)  # the API authenticates with bearer tokens, never with the session cookie


@bp.post("/coupons")
@bp.auth_required(auth)
@bp.input(CouponIn, arg_name="body")
@bp.output(CouponOut, status_code=201)
@bp.doc(summary="Create a coupon", responses=[401, 403, 422])
def create_coupon(body):
    """Streamers only; a code is unique per streamer, case-insensitively (422 when taken)."""
    coupon = services.create_coupon(current_api_user(), body)
    db.session.commit()
    return coupon


@bp.patch("/coupons/<int:coupon_id>")
@bp.auth_required(auth)
@bp.input(CouponPatch, arg_name="body")
@bp.output(CouponOut)
@bp.doc(summary="Change a coupon", responses=[401, 403, 404, 422])
def update_coupon(coupon_id: int, body):
    """The active flag, the end of validity and the limits; the code and value stay as fans saw them."""
    coupon = services.update_coupon(current_api_user(), coupon_id, body)
    db.session.commit()
    return coupon


@bp.get("/coupons")
@bp.auth_required(auth)
@bp.output(CouponList)
@bp.doc(summary="Your coupons", responses=[401, 403])
def list_coupons():
    """The caller's coupons, newest first."""
    return {"items": services.own_coupons(current_api_user())}


@bp.post("/coupons/preview")
@bp.auth_required(auth)
@bp.input(PreviewIn, arg_name="body")
@bp.output(PreviewOut)
@bp.doc(summary="Preview a coupon on your cart", responses=[401, 409, 422])
def preview(body):
    """Prices the caller's cart in `currency` with the coupon: subtotal, discount and total. Nothing is stored."""
    user = current_api_user()
    return preview_cart(cart_services.find_cart(user), body["code"], body["currency"], user)
