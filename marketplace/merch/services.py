"""Merch rules: a listing's variants (options, SKU, stock, prices) and the stock that never oversells.

`Variant.stock` is what can still be sold. Checkout takes units out with a guarded UPDATE
(`stock = stock - q WHERE stock >= q`), after locking the order's variant rows in primary-key order, so two
checkouts racing for the last units cannot both win and two orders sharing variants cannot deadlock; the
database's CHECK (stock >= 0) backs it. A reservation is released (units back) when its order expires or is
cancelled, and allocated when the payment arrives. Functions flush, never commit.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.db import utcnow
from app.errors import Conflict, Errors, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.money import Money
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing
from marketplace.merch.models import MAX_STOCK, ReservationStatus, StockReservation, Variant, VariantPrice

KIND = "merch"
MAX_SKU = 64
MAX_OPTION = 40
MAX_OPTIONS = 5
#: the most variants one listing holds (sizes x colours)
MAX_VARIANTS = 100
#: fields a PATCH may change
PATCHABLE = ("sku", "options", "stock", "weight_grams", "prices", "is_active", "position")


# ---------------------------------------------------------------- reading

def listing_variants(listing_id: int, active_only: bool = False) -> list[Variant]:
    query = select(Variant).where(Variant.listing_id == listing_id)
    if active_only:
        query = query.where(Variant.is_active.is_(True))
    return list(db.session.scalars(query.order_by(Variant.position, Variant.id)))


def has_variants(listing_id: int) -> bool:
    return db.session.scalar(select(func.count(Variant.id)).where(Variant.listing_id == listing_id)) > 0


def is_available(variant: Variant) -> bool:
    """Active and in stock (or unlimited)."""
    return bool(variant.is_active) and (variant.stock is None or variant.stock > 0)


def options_label(options: dict | None) -> str:
    """The options as a fan reads them: "L / black"."""
    return " / ".join(str(value) for value in (options or {}).values())


def variant_title(title: str, variant: Variant | None) -> str:
    """A listing's title with the variant's options, e.g. "Hoodie — L / black"."""
    label = options_label(variant.options) if variant is not None else ""
    return f"{title} — {label}" if label else title


def price_in(variant: Variant, listing: Listing, currency: str) -> Money | None:
    """The variant's price in `currency`: its own override, else the listing's."""
    own = variant.price_override(currency)
    return Money(own, currency) if own is not None else listing.price_in(currency)


def may_manage(user, listing: Listing) -> bool:
    return catalog.is_owner(user, listing) or catalog.is_operator(user)


def _merch_listing(user, listing_id, manage: bool) -> Listing:
    """:raise 404: no such merch listing the user may see :raise 403: may see it, may not change it"""
    listing = db.session.get(Listing, listing_id) if isinstance(listing_id, int) else None
    if listing is None or not catalog.can_view(user, listing) or listing.kind != KIND:
        raise NotFound(_("There is no such merch listing."))
    if manage and not may_manage(user, listing):
        raise PermissionDenied(_("Only the listing's creator can change its variants."))
    return listing


def variants_for(user, listing_id) -> tuple[Listing, list[Variant]]:
    """A visible merch listing's variants (all for its owner and operators, the active ones for everyone else)."""
    listing = _merch_listing(user, listing_id, manage=False)
    return listing, listing_variants(listing.id, active_only=not may_manage(user, listing))


def get_variant(user, variant_id, manage: bool = False) -> Variant:
    """:raise 404: no such variant (or its listing is hidden from the user) :raise 403: manage and not the owner"""
    variant = db.session.get(Variant, variant_id) if isinstance(variant_id, int) else None
    if variant is None:
        raise NotFound(_("There is no such variant."))
    listing = _merch_listing(user, variant.listing_id, manage)
    if not manage and not variant.is_active and not may_manage(user, listing):
        raise NotFound(_("There is no such variant."))
    return variant


# ---------------------------------------------------------------- input

def _clean_sku(value, errors: Errors) -> str | None:
    sku = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(sku) <= MAX_SKU:
        errors.add("sku", _("Give a SKU of 1 to %(max)d characters.", max=MAX_SKU))
        return None
    return sku


def _clean_options(value, errors: Errors) -> dict | None:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        errors.add("options", _("Options are names with values, e.g. size: L."))
        return None
    if len(value) > MAX_OPTIONS:
        errors.add("options", _("Use at most %(max)d options.", max=MAX_OPTIONS))
        return None
    options = {}
    for name, option in value.items():
        name = name.strip() if isinstance(name, str) else ""
        option = option.strip() if isinstance(option, str) else ""
        if not 1 <= len(name) <= MAX_OPTION or not 1 <= len(option) <= MAX_OPTION:
            errors.add("options", _("Option names and values need 1 to %(max)d characters of text.", max=MAX_OPTION))
            return None
        options[name] = option
    return options


def _clean_count(value, field: str, maximum: int, errors: Errors) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        errors.add(field, _("Give a whole number from 0 to %(max)d.", max=maximum))
        return None
    return value


def _clean_prices(value, errors: Errors) -> list[tuple[str, int]]:
    """Per-currency overrides: like a listing's prices, but an empty list is allowed (the listing's apply)."""
    if value is None or value == []:
        return []
    inner = Errors()
    prices = catalog._clean_prices(value, inner)
    for field, messages in inner.errors.items():
        for message in messages:
            errors.add(field, message)
    return prices


def _check_option_names(listing_id: int, options: dict, exclude_id: int | None, errors: Errors) -> None:
    """Every variant of a listing uses the same option names."""
    others = [variant for variant in listing_variants(listing_id) if variant.id != exclude_id]
    if not others:
        return
    expected = set(others[0].options or {})
    if set(options) != expected:
        errors.add("options", _("This listing's variants use the options: %(names)s.",
                                names=", ".join(sorted(expected)) or "-"))


def _sku_taken(listing_id: int, sku: str, exclude_id: int | None) -> bool:
    query = select(Variant.id).where(Variant.listing_id == listing_id, Variant.sku == sku)
    if exclude_id is not None:
        query = query.where(Variant.id != exclude_id)
    return db.session.scalar(query) is not None


def _set_prices(variant: Variant, prices: list[tuple[str, int]]) -> None:
    variant.prices = [VariantPrice(currency=currency, amount=amount) for currency, amount in prices]


def _flush_or_sku_conflict() -> None:
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ValidationFailed.one("sku", _("Another variant of this listing has this SKU.")) from None


def create_variant(user, listing_id, data: dict) -> Variant:
    """Add a variant to a merch listing. :raise 403: not its creator or an operator :raise 404: no such listing
    :raise 422: bad SKU (or taken), options, stock, weight or prices"""
    listing = _merch_listing(user, listing_id, manage=True)
    errors = Errors()
    sku = _clean_sku(data.get("sku"), errors)
    options = _clean_options(data.get("options"), errors)
    stock = _clean_count(data.get("stock"), "stock", MAX_STOCK, errors)
    weight = _clean_count(data.get("weight_grams"), "weight_grams", MAX_STOCK, errors)
    position = _clean_count(data.get("position"), "position", 10_000, errors)
    prices = _clean_prices(data.get("prices"), errors)
    if options is not None:
        _check_option_names(listing.id, options, None, errors)
    if sku and _sku_taken(listing.id, sku, None):
        errors.add("sku", _("Another variant of this listing has this SKU."))
    if len(listing_variants(listing.id)) >= MAX_VARIANTS:
        errors.add("sku", _("A listing holds at most %(max)d variants.", max=MAX_VARIANTS))
    errors.raise_if_any()
    variant = Variant(listing_id=listing.id, sku=sku, options=options, stock=stock, weight_grams=weight,
                      position=position if position is not None else len(listing_variants(listing.id)),
                      is_active=True if data.get("is_active") is None else bool(data.get("is_active")))
    _set_prices(variant, prices)
    db.session.add(variant)
    _flush_or_sku_conflict()
    return variant


def update_variant(user, variant_id, data: dict) -> Variant:
    """Change a variant's SKU, options, stock (what can still be sold), weight, prices or active flag; only the
    fields given change. :raise 403 :raise 404 :raise 422: as create_variant"""
    variant = get_variant(user, variant_id, manage=True)
    errors = Errors()
    changes = {}
    if "sku" in data:
        changes["sku"] = _clean_sku(data["sku"], errors)
        if changes["sku"] and _sku_taken(variant.listing_id, changes["sku"], variant.id):
            errors.add("sku", _("Another variant of this listing has this SKU."))
    if "options" in data:
        changes["options"] = _clean_options(data["options"], errors)
        if changes["options"] is not None:
            _check_option_names(variant.listing_id, changes["options"], variant.id, errors)
    if "stock" in data:
        changes["stock"] = _clean_count(data["stock"], "stock", MAX_STOCK, errors)
    if "weight_grams" in data:
        changes["weight_grams"] = _clean_count(data["weight_grams"], "weight_grams", MAX_STOCK, errors)
    if "position" in data:
        position = _clean_count(data["position"], "position", 10_000, errors)
        if data["position"] is None:
            errors.add("position", _("Give a whole number from 0 to %(max)d.", max=10_000))
        changes["position"] = position
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            errors.add("is_active", _("Say true or false."))
        changes["is_active"] = data["is_active"]
    prices = _clean_prices(data["prices"], errors) if "prices" in data else None
    errors.raise_if_any()
    if "stock" in changes:
        # set under the row lock, so a checkout taking units at the same moment is not lost in between
        db.session.execute(select(Variant.id).where(Variant.id == variant.id).with_for_update())
    for name, value in changes.items():
        setattr(variant, name, value)
    if prices is not None:
        _set_prices(variant, prices)
    _flush_or_sku_conflict()
    return variant


def submit_problems(listing: Listing) -> list[str]:
    """A merch listing goes to review with at least one active variant."""
    if listing.kind != KIND or listing_variants(listing.id, active_only=True):
        return []
    return [_("Add at least one variant (a size or colour with its stock) before submitting.")]


def prepare_demo(listing: Listing, owner) -> None:
    """A demo merch listing gets one variant with some stock (seed-demo)."""
    if has_variants(listing.id):
        return
    if "hoodie" in listing.slug:  # sizes, the largest sold out, so the page shows how that looks
        for position, (size, stock) in enumerate((("S", 8), ("M", 20), ("L", 20), ("XL", 0))):
            db.session.add(Variant(listing_id=listing.id, sku=f"{listing.slug[:50]}-{size}", options={"size": size},
                                   stock=stock, position=position, is_active=True))
    else:
        db.session.add(Variant(listing_id=listing.id, sku=f"{listing.slug[:50]}-1", options={"size": "One size"},
                               stock=25, position=0, is_active=True))
    db.session.flush()


# ---------------------------------------------------------------- the stock

def grace() -> timedelta:
    return timedelta(minutes=current_app.config.get("ENCORE_RESERVATION_GRACE_MINUTES", 15))


def _lock_variants(variant_ids) -> None:
    """Lock the variant rows in primary-key order (one order's lines, two orders' overlapping lines: no deadlock)."""
    ids = sorted({variant_id for variant_id in variant_ids if variant_id is not None})
    if ids:
        db.session.execute(select(Variant.id).where(Variant.id.in_(ids)).order_by(Variant.id).with_for_update())


def _order_variant_ids(line) -> list[int]:
    order = line.order
    return [other.variant_id for other in order.lines if other.kind == KIND] if order is not None else [line.variant_id]


def _take(variant_id: int, quantity: int) -> bool:
    """Take units out of stock if there are enough (unlimited variants always have); answers whether it could."""
    table = Variant.__table__
    taken = db.session.execute(
        update(table).where(table.c.id == variant_id, table.c.stock >= quantity).values(stock=table.c.stock - quantity)
    ).rowcount
    if taken:
        return True
    return db.session.scalar(select(Variant.id).where(Variant.id == variant_id, Variant.stock.is_(None))) is not None


def _put_back(variant_id: int, quantity: int) -> None:
    table = Variant.__table__
    db.session.execute(
        update(table).where(table.c.id == variant_id, table.c.stock.is_not(None)).values(stock=table.c.stock + quantity)
    )


def _expire_variant(variant_id: int) -> None:
    """The session's copy of the variant's stock is stale after a guarded UPDATE."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Variant) and obj.id == variant_id:
            db.session.expire(obj, ["stock"])


def _refuse(line, left: int) -> None:
    """:raise 409: naming what is left of the line's variant"""
    if left:
        raise Conflict(_("Only %(count)d left of %(title)s.", count=left, title=line.title), field="cart")
    raise Conflict(_("%(title)s is sold out.", title=line.title), field="cart")


def reserve(line) -> None:
    """Checkout: take the line's units out of its variant's stock until the order's payment window (plus a grace
    period) closes. :raise 409: not enough left, or the variant is no longer sold"""
    if line.variant_id is None:
        if listing_variants(line.listing_id, active_only=True):
            raise Conflict(_("Choose a size or colour for %(title)s.", title=line.title), field="cart")
        return  # a merch listing without variants sells without stock
    # a sold-out variant is refused without waiting for the row lock: the committed stock already says so, and
    # the many checkouts a drop refuses must not queue behind the few it serves
    committed = db.session.execute(select(Variant.stock).where(Variant.id == line.variant_id)).first()
    if committed is not None and committed.stock is not None and committed.stock < line.quantity:
        _refuse(line, committed.stock)
    _lock_variants(_order_variant_ids(line))
    variant = db.session.get(Variant, line.variant_id, populate_existing=True)
    if variant is None or variant.listing_id != line.listing_id or not variant.is_active:
        raise Conflict(_("%(title)s is no longer sold.", title=line.title), field="cart")
    if not _take(variant.id, line.quantity):
        db.session.refresh(variant, ["stock"])
        _refuse(line, variant.stock or 0)
    _expire_variant(variant.id)
    now = utcnow()
    db.session.add(StockReservation(
        variant_id=variant.id, order_id=line.order_id, order_line_id=line.id, quantity=line.quantity,
        status=ReservationStatus.HELD, expires_at=line.order.expires_at + grace(), created_at=now,
    ))
    db.session.flush()


def _release_where(*where, now: datetime, status: str = ReservationStatus.HELD) -> list[tuple[int, int]]:
    """Mark the reservations in `status` (held by default) matching `where` released (a guarded UPDATE: twice
    releases once) and put their units back; answers (variant id, quantity) of what this call released."""
    table = StockReservation.__table__
    rows = db.session.execute(
        select(table.c.id, table.c.variant_id, table.c.quantity).where(table.c.status == status, *where)
        .order_by(table.c.variant_id, table.c.id)
    ).all()
    released = []
    for reservation_id, variant_id, quantity in rows:
        done = db.session.execute(
            update(table).where(table.c.id == reservation_id, table.c.status == status)
            .values(status=ReservationStatus.RELEASED, released_at=now)
        ).rowcount
        if done:
            _put_back(variant_id, quantity)
            _expire_variant(variant_id)
            released.append((variant_id, quantity))
    _expire_reservations()
    return released


def _expire_reservations() -> None:
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, StockReservation):
            db.session.expire(obj)


def release(line) -> None:
    """The order expired or was cancelled unpaid: its held units go back to stock (safe to call twice)."""
    _release_where(StockReservation.__table__.c.order_line_id == line.id, now=utcnow())


def revoke(line) -> None:
    """The paid line was refunded: while it has not been shipped its units go back on sale (safe to call twice);
    a parcel already sent stays out of stock."""
    if line.shipped_at is None:
        _release_where(StockReservation.__table__.c.order_line_id == line.id, now=utcnow(),
                       status=ReservationStatus.ALLOCATED)


def allocate(line) -> bool:
    """The payment arrived: the held reservation becomes an allocation. When it was already released (the
    payment came after the window), the units are taken again if they are still there; False when they are not."""
    if line.variant_id is None:
        return True
    table = StockReservation.__table__
    now = utcnow()
    held = db.session.execute(
        update(table).where(table.c.order_line_id == line.id, table.c.status == ReservationStatus.HELD)
        .values(status=ReservationStatus.ALLOCATED, allocated_at=now)
    ).rowcount
    if held:
        _expire_reservations()
        return True
    row = db.session.execute(select(table.c.id, table.c.status).where(table.c.order_line_id == line.id)).first()
    if row is not None and row.status == ReservationStatus.ALLOCATED:
        return True
    _lock_variants(_order_variant_ids(line))
    if not _take(line.variant_id, line.quantity):
        return False
    _expire_variant(line.variant_id)
    if row is None:
        db.session.add(StockReservation(
            variant_id=line.variant_id, order_id=line.order_id, order_line_id=line.id, quantity=line.quantity,
            status=ReservationStatus.ALLOCATED, expires_at=now, created_at=now, allocated_at=now,
        ))
        db.session.flush()
    else:
        db.session.execute(update(table).where(table.c.id == row.id).values(
            status=ReservationStatus.ALLOCATED, allocated_at=now, released_at=None))
        _expire_reservations()
    return True


def release_overdue_reservations(now: datetime, limit: int = 500) -> int:
    """Release held reservations past their own expiry whose order never took money (the order sweep normally
    releases them when it expires the order; this catches any left behind). Answers how many it released."""
    from marketplace.orders.models import Order, OrderStatus

    unpaid = select(Order.id).where(Order.status.in_(
        (OrderStatus.PENDING_PAYMENT, OrderStatus.EXPIRED, OrderStatus.CANCELLED)))
    table = StockReservation.__table__
    ids = list(db.session.scalars(
        select(table.c.id).where(table.c.status == ReservationStatus.HELD, table.c.expires_at <= now,
                                 table.c.order_id.in_(unpaid)).order_by(table.c.id).limit(limit)
    ))
    if not ids:
        return 0
    return len(_release_where(table.c.id.in_(ids), now=now))
