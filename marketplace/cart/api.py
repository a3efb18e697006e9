"""Cart API: the signed-in caller's cart (anonymous carts live in the web session only)."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app, jsonify

from app.api import auth, current_api_user
from app.extensions import csrf, db
from marketplace.cart import services
from marketplace.cart.schemas import CartOut, CurrencyIn, LineIn, QuantityIn

bp = APIBlueprint(
    "cart_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Cart", "description": "The caller's cart: one currency, current listing prices, checkout readiness."},
)
csrf.exempt(bp)  # the API authenticates with bearer tokens, never with the session cookie

#: built once: a schema instance (and the nested ones it builds on first use) is reusable, and building
#: them per call cost about a tenth of an add-to-cart request
CART_OUT = CartOut()


def _summary(cart):
    return services.summarize(cart, current_app.config["ENCORE_DEFAULT_CURRENCY"])


@bp.get("/cart")
@bp.auth_required(auth)
@bp.output(CartOut)
@bp.doc(summary="Your cart", responses=[401])
def get_cart():
    """Lines with the listings' current prices in the cart's currency, the subtotal and whether checkout can start."""
    return _summary(services.find_cart(current_api_user()))


@bp.post("/cart/lines")
@bp.auth_required(auth)
@bp.input(LineIn, arg_name="body")
@bp.output(CartOut, status_code=201)
@bp.doc(summary="Add a listing to your cart", responses=[401, 404, 409, 422])
def add_line(body):
    """Published listings only; adding a listing already in the cart adds to its quantity (digital items stay at 1).
    A merch listing with variants needs `variant_id`, and no more than the variant has in stock (409 when sold out)."""
    cart = services.add_to_user_cart(current_api_user(), body["listing_id"], body["quantity"], body["variant_id"])
    # serialised before the commit, which would otherwise expire the cart and reload it piece by piece
    response = jsonify(CART_OUT.dump(_summary(cart)))
    db.session.commit()
    response.status_code = 201
    return response


@bp.patch("/cart/lines/<int:line_id>")
@bp.auth_required(auth)
@bp.input(QuantityIn, arg_name="body")
@bp.output(CartOut)
@bp.doc(summary="Change a line's quantity", responses=[401, 404, 422])
def change_line(line_id: int, body):
    cart = services.find_cart(current_api_user())
    services.change_quantity(cart, line_id, body["quantity"])
    db.session.commit()
    return _summary(cart)


@bp.delete("/cart/lines/<int:line_id>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Remove a line", responses=[401, 404])
def remove_line(line_id: int):
    cart = services.find_cart(current_api_user())
    services.remove_line(cart, line_id)
    db.session.commit()
    return ""


@bp.put("/cart/currency")
@bp.auth_required(auth)
@bp.input(CurrencyIn, arg_name="body")
@bp.output(CartOut)
@bp.doc(summary="Choose the cart's currency", responses=[401, 422])
def set_currency(body):
    """One of the currencies every listing in the cart offers (see `currencies`)."""
    cart = services.user_cart(current_api_user())
    services.choose_currency(cart, body["currency"])
    db.session.commit()
    return _summary(cart)
