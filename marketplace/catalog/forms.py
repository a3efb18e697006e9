"""Catalog forms: the listing form, with prices in major units and comma-separated tags and partners.

The forms only parse what the browser sent; the rules live in marketplace.catalog.services. `ListingForm.to_data`
turns the form into the service's input, and `ListingForm.show_errors` puts the service's field errors
("prices.1.amount", "title", ...) back next to the right inputs.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import Form, FormField, SelectField, StringField, TextAreaField
from wtforms.fields import FieldList

from app.errors import Errors
from app.money import CURRENCY_EXPONENTS, SUPPORTED_CURRENCIES, Money, MoneyError
from marketplace import kinds

#: currencies offered as the first price rows of a new listing
DEFAULT_PRICE_CURRENCIES = ("CNY", "USD")
MAX_PRICE_ROWS = len(SUPPORTED_CURRENCIES)


def _currency_choices():
    return [("", _l("Currency…"))] + [(code, code) for code in SUPPORTED_CURRENCIES]


def _shipping_choices():
    """The signed-in streamer's shipping profiles (merch listings ship by one of them)."""
    from flask_login import current_user

    from marketplace.merch import shipping

    profiles = shipping.own_profiles(current_user) if current_user.is_authenticated and current_user.creator_profile else []
    return [("", _l("No shipping profile"))] + [(str(profile.id), profile.name) for profile in profiles]


def _split_list(text: str | None) -> list[str]:
    """"cats, cute ,  " -> ["cats", "cute"]; full-width commas count too (Chinese keyboards)."""
    return [part.strip() for part in (text or "").replace("，", ",").split(",") if part.strip()]


def _set_error(field, message: str) -> None:
    field.errors = [*field.errors, message]


class PriceRowForm(Form):
    """One price: a currency and an amount in major units ("12.50"); a row without an amount is ignored."""

    currency = SelectField(_l("Currency"), choices=_currency_choices, validate_choice=False, default="")
    amount = StringField(_l("Price"), default="", render_kw={"inputmode": "decimal", "placeholder": "12.50"})

    @property
    def is_blank(self) -> bool:
        return not (self.amount.data or "").strip()


class ListingForm(FlaskForm):
    title = StringField(_l("Title"), render_kw={"maxlength": 120})
    slug = StringField(
        _l("Web address"),
        description=_l("Optional: lower-case letters, digits and hyphens. Made from the title when left empty."),
        render_kw={"maxlength": 80},
    )
    description = TextAreaField(_l("Description"), render_kw={"rows": 8})
    tags = StringField(_l("Tags"), description=_l("Separate tags with commas, e.g. cats, cute, emotes."))
    prices = FieldList(FormField(PriceRowForm), min_entries=len(DEFAULT_PRICE_CURRENCIES) + 1, max_entries=MAX_PRICE_ROWS)
    partners = StringField(
        _l("Co-brand partners"), description=_l("Brand names as in their web address, separated by commas.")
    )
    cover = FileField(_l("Cover image"), description=_l("PNG, JPEG, WebP or GIF."), render_kw={"accept": "image/*"})
    shipping_profile_id = SelectField(
        _l("Shipping profile"), choices=_shipping_choices, validate_choice=False, default="",
        description=_l("Merch only: where it ships and for how much (manage profiles under Shipping)."),
    )

    #: general messages that belong to no single field
    form_errors: list[str]
    #: messages about the prices as a whole ("give at least one price")
    price_errors: list[str]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form_errors = []
        self.price_errors = []
        self._row_of_price: list[int] = []

    @classmethod
    def for_listing(cls, listing) -> "ListingForm":
        """A form filled from a stored listing, for the edit page."""
        rows = [{"currency": p.currency, "amount": p.money.major_str()} for p in listing.prices]
        return cls(
            formdata=None,
            data={
                "title": listing.title,
                "slug": listing.slug,
                "description": listing.description,
                "tags": ", ".join(listing.tag_names),
                "partners": ", ".join(brand.slug for brand in listing.partner_brands),
                "prices": price_rows(rows),
                "shipping_profile_id": str(listing.shipping_profile_id or ""),
            },
        )

    # ------------------------------------------------------------ form -> service input

    def to_data(self) -> tuple[dict, Errors]:
        """The service's input, and the errors found while reading it (amounts that are not numbers...)."""
        errors = Errors()
        prices: list[dict] = []
        self._row_of_price = []
        for row_index, row in enumerate(self.prices.entries):
            form = row.form
            if form.is_blank:
                continue
            currency = (form.currency.data or "").strip().upper()
            if currency not in CURRENCY_EXPONENTS:
                errors.add(f"row.{row_index}.currency", _("Choose a currency."))
                continue
            amount = _parse_amount(form.amount.data, currency, errors, f"row.{row_index}.amount")
            if amount is None:
                continue
            self._row_of_price.append(row_index)
            prices.append({"currency": currency, "amount": amount})
        data = {
            "title": self.title.data or "",
            "description": self.description.data or "",
            "slug": (self.slug.data or "").strip() or None,
            "tags": _split_list(self.tags.data),
            "partners": _split_list(self.partners.data),
            "prices": prices,
        }
        if "kind" in self._fields:
            data["kind"] = self.kind.data or ""
        if self.shipping_profile_id.raw_data:  # only when the form showed the select (merch)
            raw = (self.shipping_profile_id.data or "").strip()
            if not raw:
                data["shipping_profile_id"] = None
            elif raw.isdigit():
                data["shipping_profile_id"] = int(raw)
            else:
                errors.add("shipping_profile_id", _("Choose one of your shipping profiles."))
        return data, errors

    def cover_bytes(self) -> bytes | None:
        upload = self.cover.data
        if upload is None or not getattr(upload, "filename", ""):
            return None
        return upload.read()

    # ------------------------------------------------------------ errors -> fields

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        """Attach field errors from to_data ("row.N.x") and from the services ("prices.N.x") to the inputs."""
        row_has_error = any(name.startswith("row.") for name in errors)
        for name, messages in errors.items():
            parts = name.split(".")
            if parts[0] == "row" and len(parts) == 3:
                target = self._row_field(int(parts[1]), parts[2])
            elif parts[0] == "prices" and len(parts) >= 2 and parts[1].isdigit():
                index = int(parts[1])
                row = self._row_of_price[index] if index < len(self._row_of_price) else None
                target = self._row_field(row, parts[2] if len(parts) > 2 else "amount")
            elif name == "prices":
                if row_has_error:  # "give at least one price" only because the given ones could not be read
                    continue
                self.price_errors.extend(messages)
                continue
            else:
                target = self._fields.get(name) if name not in ("csrf_token", "prices") else None
            for message in messages:
                if target is None:
                    self.form_errors.append(message)
                else:
                    _set_error(target, message)

    def _row_field(self, row: int | None, name: str):
        if row is None or row >= len(self.prices.entries):
            return None
        return getattr(self.prices.entries[row].form, name, None)

    @property
    def has_price_errors(self) -> bool:
        return bool(self.price_errors) or any(row.form.currency.errors or row.form.amount.errors for row in self.prices)


class NewListingForm(ListingForm):
    """The create form: the kind is chosen once, here."""

    kind = SelectField(_l("Kind"), choices=lambda: [(k.code, k.label) for k in kinds.all_kinds()], validate_choice=False)


def price_rows(existing: list[dict], default_currency: str = "CNY") -> list[dict]:
    """Price rows for the form: the given ones, then the marketplace's default currency, CNY and USD
    if missing, then one free row."""
    rows = list(existing)
    have = {row["currency"] for row in rows}
    wanted = dict.fromkeys((default_currency, *DEFAULT_PRICE_CURRENCIES))
    rows.extend({"currency": code, "amount": ""} for code in wanted if code not in have)
    if len(rows) < MAX_PRICE_ROWS:
        rows.append({"currency": "", "amount": ""})
    return rows


def _parse_amount(text: str | None, currency: str, errors: Errors, field: str) -> int | None:
    """Major units text -> minor units; a field error (not an exception) when it cannot be read."""
    text = (text or "").strip()
    try:
        return Money.parse(text, currency).amount
    except MoneyError:
        try:
            readable = Decimal(text).is_finite()
        except InvalidOperation:
            readable = False
        if readable:
            errors.add(
                field,
                _("%(currency)s prices have at most %(places)d decimal places.", currency=currency, places=CURRENCY_EXPONENTS[currency]),
            )
        else:
            errors.add(field, _("Enter an amount like 12.50."))
        return None
