"""The ProductKind registry: each product package registers how its listings are shown and validated.

The marketplace only ever reaches a product package through this registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flask_babel import LazyString

#: checks kind-specific rules on listing input; adds messages to the Errors collector it is given
ListingValidator = Callable[[dict, "object"], None]
#: what still keeps a listing from review (e.g. a sticker pack with no exports): messages, empty when ready
SubmitCheck = Callable[["object"], list[str]]
#: extra HTML for the public listing page (the listing, the viewing user), or None
ListingSection = Callable[["object", "object"], "str | None"]
#: a step of an order line's life (marketplace.orders.models.OrderLine), run inside the order's transaction
LineHook = Callable[["object"], None]


@dataclass(frozen=True, eq=False)
class FulfilLines:
    """ProductKind.fulfil_lines: functions answering the statement (built once, on first use: product packages
    register before the models are imported) and its parameters for delivering the lines of these ids."""

    statement: Callable[[], object]
    params: Callable[[tuple[int, ...]], dict]


@dataclass(frozen=True)
class DownloadableFile:
    """A file a buyer of a listing may download (an export the kind built, an attachment the seller added)."""

    #: stable within the listing, safe in a URL path segment (e.g. "file-12", "sticker-line")
    ref: str
    #: the name the buyer's browser saves it under
    name: str
    key: str
    size: int
    content_type: str


@dataclass(frozen=True)
class ProductKind:
    code: str
    label: LazyString | str
    #: a short line for the browse filter and empty dashboards
    blurb: LazyString | str
    #: digital kinds are delivered as downloads or access; physical ones ship
    is_physical: bool = False
    validators: tuple[ListingValidator, ...] = field(default_factory=tuple)
    submit_checks: tuple[SubmitCheck, ...] = field(default_factory=tuple)
    #: rendered under the listing's details on its public page
    listing_section: ListingSection | None = None
    #: the kind's own editor for a listing's content (sticker art, course lessons), linked from the dashboard
    manage_endpoint: str | None = None
    manage_label: LazyString | str | None = None
    #: fills a demo listing's content (sticker art, lessons) so `encore seed-demo` can submit it: (listing, owner)
    prepare_demo: Callable[["object", "object"], None] | None = None
    # The order hooks, each given an order line inside the transaction that changes the order; None = nothing
    # to do (digital goods reserve nothing). A hook that raises undoes the whole step. `allocate` and `fulfil`
    # get the payment's and the fulfilment task's narrow read of it (marketplace.orders.services.LockedLine:
    # id, kind, listing_id, variant_id, quantity, title, totals, order_id), the others an OrderLine.
    #: at checkout, before the order exists for good: hold what the line needs (merch stock) until
    #: `line.order.expires_at`; raise app.errors.Conflict when it cannot
    reserve: LineHook | None = None
    #: the order expired or was cancelled unpaid: give back what `reserve` held (safe to call twice)
    release: LineHook | None = None
    #: payment arrived: turn the reservation into an allocation; answer False when the goods are gone (the
    #: reservation was released and nothing is left), which flags the order for an operator
    allocate: Callable[["object"], bool] | None = None
    #: deliver the line (a download entitlement, an enrolment, a licence grant, a shipment to prepare);
    #: called once per line, from a Celery task after the payment's commit
    fulfil: LineHook | None = None
    #: optional, PostgreSQL: what `fulfil` does, for many lines at once, as an INSERT ... SELECT (a Core statement)
    #: that the fulfilment task writes inside the statement moving the order to fulfilled, a round trip fewer than a
    #: call per line. Its parameters (the lines' ids among them) come from `params(line_ids)`. Kinds that deliver
    #: alike share one statement (marketplace.downloads).
    fulfil_lines: FulfilLines | None = None
    #: the line was refunded: take back what `fulfil` granted (safe when nothing was granted yet)
    revoke: LineHook | None = None
    #: the files the kind itself builds for a listing's buyers (sticker exports), beside the files the seller
    #: attached (marketplace.downloads): (listing) -> list[DownloadableFile]
    downloadable_files: Callable[["object"], list[DownloadableFile]] | None = None


_registry: dict[str, ProductKind] = {}


def register(kind: ProductKind) -> ProductKind:
    existing = _registry.get(kind.code)
    if existing is not None and existing != kind:
        raise ValueError(f"product kind {kind.code!r} is already registered")
    _registry[kind.code] = kind
    return kind


def get(code: str) -> ProductKind | None:
    return _registry.get(code)


def all_kinds() -> list[ProductKind]:
    return list(_registry.values())


def codes() -> list[str]:
    return list(_registry)
