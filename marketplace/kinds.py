"""The ProductKind registry: each product package registers how its listings are shown and validated.

The marketplace only ever reaches a product package through this registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flask_babel import LazyString

#: checks kind-specific rules on listing input; adds messages to the Errors collector it is given
ListingValidator = Callable[[dict, "object"], None]


@dataclass(frozen=True)
class ProductKind:
    code: str
    label: LazyString | str
    #: a short line for the browse filter and empty dashboards
    blurb: LazyString | str
    #: digital kinds are delivered as downloads or access; physical ones ship
    is_physical: bool = False
    validators: tuple[ListingValidator, ...] = field(default_factory=tuple)


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
