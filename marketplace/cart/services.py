"""Cart rules for signed-in fans (a Cart row) and anonymous visitors (a SessionCart in the web session).

Every function takes the cart it works on; none reads the request. Writes flush, never commit.
Prices are read from the listings each time a cart is summarised, never stored in the cart.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, insert, inspect, literal, null, select, type_coerce, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.db import DirectStatement, as_loaded
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.money import SUPPORTED_CURRENCIES, Money
from marketplace import kinds
from marketplace.cart.models import MAX_QUANTITY, Cart, CartLine
from marketplace.catalog.models import Listing, ListingPrice
from marketplace.merch import services as merch
from marketplace.merch.models import Variant

#: the most lines one cart holds (it also keeps an anonymous cart's session cookie small)
MAX_LINES = 50


class CartProblem(StrEnum):
    """Why a line (or the whole cart) cannot be checked out."""

    UNAVAILABLE = "unavailable"  #: the listing was archived or is otherwise no longer published
    NO_PRICE = "no_price"  #: the listing has no price in the cart's currency
    EMPTY = "empty"  #: the cart has no lines


def problem_label(code: str) -> str:
    labels = {
        CartProblem.UNAVAILABLE: _("No longer available"),
        CartProblem.NO_PRICE: _("Not sold in this currency"),
        CartProblem.EMPTY: _("Your cart is empty."),
    }
    return labels.get(code, code)


# ---------------------------------------------------------------- the anonymous cart

@dataclass
class SessionLine:
    id: int
    listing_id: int
    variant_id: int | None
    quantity: int


class SessionCart:
    """An anonymous visitor's cart kept in a session mapping (flask.session): listing ids and quantities only."""

    KEY = "cart"

    def __init__(self, store: MutableMapping):
        self.store = store
        data = store.get(self.KEY)
        data = data if isinstance(data, dict) else {}
        currency = data.get("currency")
        self.currency: str | None = currency if currency in SUPPORTED_CURRENCIES else None
        self.lines: list[SessionLine] = []
        for raw in data.get("lines") or []:
            try:
                line = SessionLine(int(raw["id"]), int(raw["listing_id"]),
                                   None if raw.get("variant_id") is None else int(raw["variant_id"]),
                                   int(raw["quantity"]))
            except (KeyError, TypeError, ValueError):
                continue  # an unreadable line from an older session is dropped
            if 1 <= line.quantity <= MAX_QUANTITY:
                self.lines.append(line)

    def new_line(self, listing_id: int, variant_id: int | None, quantity: int) -> SessionLine:
        line = SessionLine(max((line.id for line in self.lines), default=0) + 1, listing_id, variant_id, quantity)
        self.lines.append(line)
        return line

    def drop_line(self, line: SessionLine) -> None:
        self.lines.remove(line)

    def save(self) -> None:
        self.store[self.KEY] = {
            "currency": self.currency,
            "lines": [
                {"id": line.id, "listing_id": line.listing_id, "variant_id": line.variant_id, "quantity": line.quantity}
                for line in self.lines
            ],
        }
        if hasattr(self.store, "modified"):
            self.store.modified = True

    def clear(self) -> None:
        self.store.pop(self.KEY, None)
        self.lines = []
        self.currency = None


AnyCart = Cart | SessionCart


def _save(cart: AnyCart) -> None:
    if isinstance(cart, SessionCart):
        cart.save()
    else:
        db.session.flush()


#: a signed-in fan's new line, written without the unit of work (whose flush cost about a third of an
#: add-to-cart request); the row then joins the session as a loaded object
_INSERT_LINE = DirectStatement(insert(CartLine.__table__).returning(CartLine.__table__.c.id))


def _new_line(cart: AnyCart, listing_id: int, variant_id: int | None, quantity: int):
    if isinstance(cart, SessionCart):
        return cart.new_line(listing_id, variant_id, quantity)
    values = {"cart_id": cart.id, "listing_id": listing_id, "variant_id": variant_id, "quantity": quantity}
    line = as_loaded(db.session, CartLine, {"id": _INSERT_LINE.run(db.session, values).scalar_one(), **values})
    set_committed_value(line, "cart", cart)
    listing = db.session.identity_map.get(identity_key(Listing, listing_id))
    if listing is not None:
        set_committed_value(line, "listing", listing)  # a summary of the cart then reads no listing again
    set_committed_value(cart, "lines", [*cart.lines, line])
    return line


def _drop_line(cart: AnyCart, line) -> None:
    if isinstance(cart, SessionCart):
        cart.drop_line(line)
    else:
        cart.lines.remove(line)


# ---------------------------------------------------------------- finding carts and listings

_CARTS = Cart.__table__
_LINES = CartLine.__table__
#: the user's cart row and its lines' rows, built once: a Core select and objects made from its rows cost a
#: fraction of the ORM's joined load of the cart with its lines, listings and prices. The listings come after,
#: in one query with any other listing the caller needs (`_listings_by_id`).
_CART_ROWS = DirectStatement(
    select(*_CARTS.c, *(column.label(f"line_{column.key}") for column in _LINES.c))
    .outerjoin_from(_CARTS, _LINES, _LINES.c.cart_id == _CARTS.c.id)
    .where(_CARTS.c.user_id == bindparam("user_id"))
    .order_by(_LINES.c.id)
)


def _load_cart(user) -> Cart | None:
    """The user's cart with its lines, in one query (their listings are not loaded: see `_listings_by_id`)."""
    return _cart_from_rows(_CART_ROWS.run(db.session, {"user_id": user.id}).all())


def _cart_from_rows(rows) -> Cart | None:
    """The cart (with its lines) that rows of _CART_ROWS's columns hold, as this session's objects; None without rows."""
    if not rows:
        return None
    first = rows[0]._mapping
    cart = as_loaded(db.session, Cart, {column.key: first[column.key] for column in _CARTS.c})
    lines = []
    for row in rows:
        if row.line_id is not None:
            values = row._mapping
            line = as_loaded(db.session, CartLine, {column.key: values[f"line_{column.key}"] for column in _LINES.c})
            set_committed_value(line, "cart", cart)
            lines.append(line)
    if "lines" in inspect(cart).unloaded:
        set_committed_value(cart, "lines", lines)
    return cart


def find_cart(user) -> Cart:
    """The user's cart, or an empty unsaved one when they have none yet (for reading only)."""
    cart = _load_cart(user)
    return cart if cart is not None else Cart(user_id=user.id, currency=None, lines=[])


def user_cart(user) -> Cart:
    """The user's cart, created when they have none."""
    cart = _load_cart(user)
    if cart is None:
        try:
            with db.session.begin_nested():
                cart = Cart(user_id=user.id, lines=[])
                db.session.add(cart)
        except IntegrityError:
            # a concurrent first request created it (one cart per user is a unique constraint): use that one
            cart = _load_cart(user)
    return cart


def add_to_user_cart(user, listing_id, quantity: int = 1, variant_id: int | None = None) -> Cart:
    """add_line to the user's cart (created when they have none); answers the cart. The cart, its lines and the
    listings add_line checks (the added one and those of the lines, with their prices) are read in one statement."""
    listings = {}
    cart = None
    if isinstance(listing_id, int) and not isinstance(listing_id, bool):
        rows = _CART_AND_LISTINGS_ROWS.run(db.session, {"user_id": user.id, "listing_id": listing_id}).all()
        cart = _cart_from_rows([row for row in rows if row.part == "cart"])
        # held here while add_line runs: the session keeps unchanged objects only while something refers to them
        listings = listings_from_rows([row for row in rows if row.part == "listings"])
        if cart is not None:
            _hold_listings(cart, listings)
    if cart is None:
        cart = user_cart(user)
    add_line(cart, listing_id, quantity, variant_id)
    return cart


def item_count(user) -> int:
    """How many items the signed-in user's cart holds (the header's badge)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(CartLine.quantity), 0)).join(Cart).where(Cart.user_id == user.id)
    )
    return int(total or 0)


def session_item_count(cart: SessionCart) -> int:
    return sum(line.quantity for line in cart.lines)


_LISTINGS, _PRICES = Listing.__table__, ListingPrice.__table__
#: the listing columns carts, checkout and the cart page read: not the wide ones (description, rejection
#: reason), which a listing read here loads in one more query if something asks for them
_LISTING_COLUMNS = tuple(_LISTINGS.c[name] for name in (
    "id", "creator_id", "kind", "title", "slug", "status", "cover_key", "cover_thumb_key", "shipping_profile_id",
))
#: a listing's columns and one of its prices per row, labelled for `listings_from_rows`; select them from
#: `LISTINGS_JOIN_PRICES`, ordered by listing id and currency
LISTING_WITH_PRICE_COLUMNS = (
    *(column.label(f"listing_{column.key}") for column in _LISTING_COLUMNS),
    *(column.label(f"price_{column.key}") for column in _PRICES.c),
)
LISTINGS_JOIN_PRICES = _LISTINGS.outerjoin(_PRICES, _PRICES.c.listing_id == _LISTINGS.c.id)
PRICE_ORDER = (_LISTINGS.c.id, _PRICES.c.currency)  # a listing's prices in the order of `Listing.prices`
#: built once, like the cart's statements: a Core select and objects made from its rows cost a fraction of
#: the ORM's joined load of the listings with their prices
_LISTINGS_WITH_PRICES = DirectStatement(
    select(*LISTING_WITH_PRICE_COLUMNS).select_from(LISTINGS_JOIN_PRICES)
    .where(_LISTINGS.c.id.in_(bindparam("ids", expanding=True))).order_by(*PRICE_ORDER)
)


def _cart_and_listings_rows() -> DirectStatement:
    """_CART_ROWS and _LISTINGS_WITH_PRICES in one statement (UNION ALL, each row's `part` naming its half): the
    user's cart with its lines, then the listing `listing_id` and those of the cart's lines with their prices."""
    cart_columns = [*_CART_ROWS.statement.selected_columns]
    listing_columns = [*LISTING_WITH_PRICE_COLUMNS]

    def nothing_for(columns):
        return [type_coerce(null(), column.type).label(column.key) for column in columns]

    cart_part = _CART_ROWS.statement.with_only_columns(literal("cart").label("part"), *cart_columns,
                                                       *nothing_for(listing_columns)).order_by(None)
    in_cart = select(_LINES.c.listing_id).join(_CARTS, _CARTS.c.id == _LINES.c.cart_id) \
        .where(_CARTS.c.user_id == bindparam("user_id"))
    listings_part = (
        select(literal("listings").label("part"), *nothing_for(cart_columns), *listing_columns)
        .select_from(LISTINGS_JOIN_PRICES)
        .where((_LISTINGS.c.id == bindparam("listing_id")) | _LISTINGS.c.id.in_(in_cart))
    )
    both = union_all(cart_part, listings_part).subquery("cart_and_listings")
    return DirectStatement(select(both).order_by(both.c.part, both.c.line_id, both.c.listing_id, both.c.price_currency))


def listings_from_rows(rows, fresh: bool = False) -> dict[int, Listing]:
    """The listings (with their prices) of rows holding `LISTING_WITH_PRICE_COLUMNS`, as this session's objects.

    A listing the session already holds keeps what it loaded (its prices too), as an ORM query would; with
    `fresh`, the rows' values replace it, as a query with populate_existing would. Rows without a listing (an
    outer join found none) are skipped; a listing or price repeated in several rows is read once."""
    listings: dict[int, Listing] = {}
    prices: dict[int, dict[int, ListingPrice]] = {}
    for row in rows:
        values = row._mapping
        listing_id = values["listing_id"]
        if listing_id is None:
            continue
        if listing_id not in listings:
            listing_values = {column.key: values[f"listing_{column.key}"] for column in _LISTING_COLUMNS}
            listings[listing_id] = as_loaded(db.session, Listing, listing_values, fresh)
            prices[listing_id] = {}
        price_id = values["price_id"]
        if price_id is not None and price_id not in prices[listing_id]:
            price_values = {column.key: values[f"price_{column.key}"] for column in _PRICES.c}
            prices[listing_id][price_id] = as_loaded(db.session, ListingPrice, price_values, fresh)
    for listing_id, listing in listings.items():
        if fresh or "prices" not in listing.__dict__:
            set_committed_value(listing, "prices", list(prices[listing_id].values()))
    return listings


def _listings_by_id(ids) -> dict[int, Listing]:
    """The listings with their prices, in one query; those this session already holds with their prices
    (an earlier call in the same request read them) are not read again: a query would not refresh them, only
    cost a round trip."""
    found = {}
    missing = set()
    for listing_id in set(ids):
        listing = db.session.identity_map.get(identity_key(Listing, listing_id))
        if listing is not None and "prices" in listing.__dict__ and "status" in listing.__dict__:
            found[listing_id] = listing
        else:
            missing.add(listing_id)
    if missing:
        found.update(listings_from_rows(_LISTINGS_WITH_PRICES.run(db.session, {"ids": sorted(missing)})))
    return found


#: built once; see add_to_user_cart
_CART_AND_LISTINGS_ROWS = _cart_and_listings_rows()


def _hold_listings(cart: AnyCart, listings: dict[int, Listing]) -> None:
    """A signed-in fan's lines keep their listings: the session holds objects weakly, and the cart's summary
    would otherwise read again those nothing else refers to."""
    if isinstance(cart, Cart):
        for line in cart.lines:
            if "listing" not in line.__dict__ and line.listing_id in listings:
                set_committed_value(line, "listing", listings[line.listing_id])


def is_digital(listing: Listing) -> bool:
    kind = kinds.get(listing.kind)
    return not (kind is not None and kind.is_physical)


def _check_quantity(quantity) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed.one("quantity", _("Choose a quantity from 1 to %(max)d.", max=MAX_QUANTITY))
    return quantity


def _variants_by_id(ids) -> dict[int, Variant]:
    """The variants with their prices, in one query (none when no line names one)."""
    ids = {variant_id for variant_id in ids if variant_id is not None}
    if not ids:
        return {}
    rows = db.session.scalars(select(Variant).where(Variant.id.in_(ids)).options(joinedload(Variant.prices))).unique()
    return {variant.id: variant for variant in rows}


def _check_variant(listing: Listing, variant_id) -> Variant | None:
    """The variant a line of this listing must name: one of its active variants when it has any, else none.

    :raise 422: a variant for a listing without any, one of another listing or retired, or none chosen
    :raise 409: the variant is sold out"""
    if variant_id is None:
        if listing.kind == merch.KIND and merch.has_variants(listing.id):
            raise ValidationFailed.one("variant_id", _("Choose a size or colour first."))
        return None
    if isinstance(variant_id, bool) or not isinstance(variant_id, int) or listing.kind != merch.KIND:
        raise ValidationFailed.one("variant_id", _("This listing has no variants to choose from."))
    variant = _variants_by_id([variant_id]).get(variant_id)
    if variant is None or variant.listing_id != listing.id or not variant.is_active:
        raise ValidationFailed.one("variant_id", _("This choice is not sold for this listing."))
    if variant.stock is not None and variant.stock <= 0:
        raise Conflict(_("%(title)s is sold out.", title=merch.variant_title(listing.title, variant)), field="variant_id")
    return variant


def _check_stock(listing: Listing, variant: Variant | None, quantity: int) -> None:
    """:raise 422: more than the variant has in stock"""
    if variant is not None and variant.stock is not None and quantity > variant.stock:
        raise ValidationFailed.one("quantity", _("Only %(count)d left of %(title)s.", count=variant.stock,
                                                  title=merch.variant_title(listing.title, variant)))


def _find_line(cart: AnyCart, line_id: int):
    for line in cart.lines:
        if line.id == line_id:
            return line
    raise NotFound(_("There is no such line in your cart."))


# ---------------------------------------------------------------- changing a cart

def add_line(cart: AnyCart, listing_id: int, quantity: int = 1, variant_id: int | None = None):
    """Put a published listing in the cart, or add to the line that already holds it; answers the line.

    Digital listings are bought once: their line stays at quantity 1 however often they are added. A merch
    listing with variants needs one of them (`variant_id`), and no more than it has in stock.
    :raise 404: the listing does not exist
    :raise 409: the variant is sold out
    :raise 422: the listing is not on sale, the quantity is out of range (or above the stock), the variant is
        missing or not one of the listing's, or the cart is full
    """
    _check_quantity(quantity)
    if variant_id is not None and not isinstance(listing_id, int):
        raise NotFound(_("There is no such listing."))
    if not isinstance(listing_id, int):
        raise NotFound(_("There is no such listing."))
    # the cart's own listings come in the same query: its summary reads them next
    listings = _listings_by_id([listing_id, *(line.listing_id for line in cart.lines)])
    _hold_listings(cart, listings)
    listing = listings.get(listing_id)
    if listing is None:
        raise NotFound(_("There is no such listing."))
    if not listing.is_public:
        raise ValidationFailed.one("listing_id", _("This listing is not on sale."))
    variant = _check_variant(listing, variant_id)
    digital = is_digital(listing)
    existing = next((line for line in cart.lines if line.listing_id == listing.id and line.variant_id == variant_id), None)
    if existing is not None:
        if not digital:
            if existing.quantity + quantity > MAX_QUANTITY:
                raise ValidationFailed.one(
                    "quantity", _("Your cart can hold at most %(max)d of one item.", max=MAX_QUANTITY)
                )
            _check_stock(listing, variant, existing.quantity + quantity)
            existing.quantity += quantity
        _save(cart)
        return existing
    if len(cart.lines) >= MAX_LINES:
        raise ValidationFailed.one("listing_id", _("Your cart is full: remove something first."))
    _check_stock(listing, variant, quantity)
    line = _new_line(cart, listing.id, variant_id, 1 if digital else quantity)
    _save(cart)
    return line


def change_quantity(cart: AnyCart, line_id: int, quantity: int):
    """Set a line's quantity.

    :raise 404: the line is not in this cart
    :raise 422: the quantity is out of range, or the line is a digital item (always 1)
    """
    line = _find_line(cart, line_id)
    _check_quantity(quantity)
    listing = db.session.get(Listing, line.listing_id)
    if listing is not None and is_digital(listing) and quantity != 1:
        raise ValidationFailed.one("quantity", _("A digital item is bought once; its quantity stays 1."))
    if listing is not None and line.variant_id is not None and quantity > line.quantity:
        _check_stock(listing, _variants_by_id([line.variant_id]).get(line.variant_id), quantity)
    line.quantity = quantity
    _save(cart)
    return line


def remove_line(cart: AnyCart, line_id: int) -> None:
    """Take a line out of the cart. :raise 404: the line is not in this cart"""
    _drop_line(cart, _find_line(cart, line_id))
    _save(cart)


def common_currencies(listings) -> list[str]:
    """The currencies every one of these listings is priced in; all supported currencies for none."""
    offered = set(SUPPORTED_CURRENCIES)
    for listing in listings:
        offered &= {price.currency for price in listing.prices}
    return [code for code in SUPPORTED_CURRENCIES if code in offered]


def choose_currency(cart: AnyCart, currency) -> str:
    """Pick the cart's currency among those every available listing in it offers.

    :raise 422: the currency is unknown or not offered by every listing in the cart
    """
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if code not in SUPPORTED_CURRENCIES:
        raise ValidationFailed.one("currency", _("Choose one of: %(currencies)s.", currencies=", ".join(SUPPORTED_CURRENCIES)))
    offered = common_currencies(_available_listings(cart))
    if code not in offered:
        raise ValidationFailed.one(
            "currency",
            _("Not every item in your cart is sold in %(currency)s; choose one of: %(currencies)s.",
              currency=code, currencies=", ".join(offered) or "-"),
        )
    cart.currency = code
    _save(cart)
    return code


def _available_listings(cart: AnyCart) -> list[Listing]:
    listings = _listings_by_id(line.listing_id for line in cart.lines)
    return [listing for listing in listings.values() if listing.is_public]


def merge_session_cart(user, session_cart: SessionCart) -> Cart | None:
    """Move an anonymous cart into the user's cart on sign-in: quantities of the same item are combined
    (capped at the most a line holds, 1 for digital items); listings no longer on sale are left out.
    The session cart is emptied. Answers the user's cart, or None when there was nothing to merge."""
    if not session_cart.lines and session_cart.currency is None:
        return None
    cart = user_cart(user)
    listings = _listings_by_id(line.listing_id for line in session_cart.lines)
    variants = _variants_by_id(line.variant_id for line in session_cart.lines)
    for line in session_cart.lines:
        listing = listings.get(line.listing_id)
        if listing is None or not listing.is_public:
            continue
        variant = variants.get(line.variant_id)
        if line.variant_id is not None and (variant is None or variant.listing_id != listing.id or not variant.is_active):
            continue
        limit = 1 if is_digital(listing) else MAX_QUANTITY
        if variant is not None and variant.stock is not None:
            limit = min(limit, variant.stock)
            if limit < 1:
                continue
        existing = next((own for own in cart.lines if own.listing_id == listing.id and own.variant_id == line.variant_id), None)
        if existing is not None:
            existing.quantity = min(existing.quantity + line.quantity, limit)
        elif len(cart.lines) < MAX_LINES:
            _new_line(cart, listing.id, line.variant_id, min(line.quantity, limit))
    if cart.currency is None and session_cart.currency:
        cart.currency = session_cart.currency
    db.session.flush()
    session_cart.clear()
    return cart


# ---------------------------------------------------------------- reading a cart

@dataclass
class LineView:
    id: int
    listing: Listing
    variant_id: int | None
    quantity: int
    unit_price: Money | None
    line_total: Money | None
    problems: list[str] = field(default_factory=list)
    #: the merch variant the line names (size, colour), None for a listing without variants
    variant: Variant | None = None

    @property
    def title(self) -> str:
        """The listing's title with the variant's options: "Hoodie — L / black"."""
        return merch.variant_title(self.listing.title, self.variant)

    @property
    def options(self) -> dict:
        return dict(self.variant.options or {}) if self.variant is not None else {}

    @property
    def available(self) -> bool:
        return CartProblem.UNAVAILABLE not in self.problems

    @property
    def is_digital(self) -> bool:
        return is_digital(self.listing)


@dataclass
class CartSummary:
    currency: str
    #: the currencies the fan may switch to: those every available listing in the cart offers
    currencies: list[str]
    lines: list[LineView]
    subtotal: Money
    #: why the cart cannot be checked out (CartProblem codes); empty when it can
    problems: list[str]

    @property
    def can_checkout(self) -> bool:
        return not self.problems

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


def summarize(cart: AnyCart, default_currency: str) -> CartSummary:
    """The cart as a fan sees it now: current prices in one currency, line totals, subtotal and problems.

    The currency is the one the fan picked; otherwise `default_currency` when every listing offers it,
    else the first currency they all offer."""
    listings = _listings_by_id(line.listing_id for line in cart.lines)
    present = [line for line in cart.lines if line.listing_id in listings]  # a deleted listing's session line
    currencies = common_currencies([listings[line.listing_id] for line in present if listings[line.listing_id].is_public])
    if cart.currency:
        currency = cart.currency
    elif default_currency in currencies or not currencies:
        currency = default_currency
    else:
        currency = currencies[0]
    subtotal = Money(0, currency)
    variants = _variants_by_id(line.variant_id for line in present)
    views = []
    for line in present:
        listing = listings[line.listing_id]
        variant = variants.get(line.variant_id)
        unit_price = merch.price_in(variant, listing, currency) if variant is not None else listing.price_in(currency)
        problems = []
        if not listing.is_public or (line.variant_id is not None and (
                variant is None or variant.listing_id != listing.id or not variant.is_active)):
            problems.append(CartProblem.UNAVAILABLE)
        if unit_price is None:
            problems.append(CartProblem.NO_PRICE)
        line_total = Money(unit_price.amount * line.quantity, currency) if unit_price and not problems else None
        if line_total is not None:
            subtotal += line_total
        views.append(LineView(line.id, listing, line.variant_id, line.quantity, unit_price, line_total, problems, variant))
    cart_problems = [] if views else [CartProblem.EMPTY]
    for code in (CartProblem.UNAVAILABLE, CartProblem.NO_PRICE):
        if any(code in view.problems for view in views):
            cart_problems.append(code)
    return CartSummary(currency, currencies, views, subtotal, cart_problems)
