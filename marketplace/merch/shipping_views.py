"""Shipping pages: the streamer's /dashboard/shipping, where they list, create, change and delete their
shipping profiles. Views parse the form, call marketplace.merch.shipping, commit once and render or redirect.
"""
from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.errors import Errors, ValidationFailed
from app.extensions import db
from app.money import SUPPORTED_CURRENCIES, Money, MoneyError
from marketplace.merch import shipping

bp = Blueprint("merch_shipping", __name__, template_folder="templates")

#: rate rows a form offers beyond the profile's own
EXTRA_ROWS = 2
MAX_ROWS = 20


def _text(name: str) -> str:
    return request.form.get(name, "").strip()


def _row_count() -> int:
    raw = _text("rows")
    return min(int(raw), MAX_ROWS) if raw.isdigit() else 3


def _money(errors: Errors, name: str, currency: str) -> int | None:
    raw = _text(name)
    if not raw:
        return None
    try:
        return Money.parse(raw, currency if currency in SUPPORTED_CURRENCIES else "CNY").amount
    except MoneyError:
        errors.add(name, _("Enter an amount like 12.50."))
        return None


def _form_data() -> tuple[dict, Errors, dict[str, str]]:
    """The form as the service's input (blank rows left out), parse errors, and which form row each rate is."""
    errors = Errors()
    rates, rows = [], {}
    for row in range(_row_count()):
        prefix = f"rate-{row}-"
        countries = [code for code in re.split(r"[\s,;，、]+", _text(prefix + "countries")) if code]
        currency = _text(prefix + "currency").upper()
        if not countries and not _text(prefix + "amount") and not _text(prefix + "free_above"):
            continue
        amount = _money(errors, prefix + "amount", currency)
        if amount is None and not _text(prefix + "amount"):
            errors.add(prefix + "amount", _("Enter an amount (0 for free shipping)."))
        rows[f"rates.{len(rates)}"] = f"rate-{row}"
        rates.append({"countries": countries, "currency": currency, "amount": amount if amount is not None else 0,
                      "free_above": _money(errors, prefix + "free_above", currency)})
    return {"name": _text("name"), "rates": rates}, errors, rows


def _form_errors(errors: dict, rows: dict[str, str]) -> dict:
    """Service errors ("rates.0.amount") named like the form's fields ("rate-2-amount")."""
    out: dict[str, list[str]] = {}
    for name, messages in errors.items():
        for service_name, form_name in rows.items():
            if name.startswith(service_name + "."):
                name = form_name + "-" + name[len(service_name) + 1:]
                break
        out.setdefault(name, []).extend(messages)
    return out


def _profile_form(profile) -> dict:
    """A profile's values as the form shows them."""
    form = {"name": profile.name, "rows": str(len(profile.rates) + EXTRA_ROWS)}
    for row, rate in enumerate(profile.rates):
        prefix = f"rate-{row}-"
        form[prefix + "countries"] = ", ".join(rate.countries or [])
        form[prefix + "currency"] = rate.currency
        form[prefix + "amount"] = Money(rate.amount, rate.currency).major_str()
        if rate.free_above is not None:
            form[prefix + "free_above"] = Money(rate.free_above, rate.currency).major_str()
    return form


def _page(profile=None, form=None, errors: dict | None = None, status: int = 200):
    profiles = shipping.own_profiles(current_user)  # 403 for a fan
    form = form if form is not None else (_profile_form(profile) if profile else {"rows": "3"})
    rows = min(max(int(form.get("rows") or 3), 1), MAX_ROWS)
    return render_template(
        "merch/shipping.html", profiles=profiles, profile=profile, form=form, errors=errors or {}, rows=rows,
        currencies=SUPPORTED_CURRENCIES, country_name=shipping.country_name, money=Money,
    ), status


@bp.get("/dashboard/shipping")
@login_required
def profiles():
    return _page()


@bp.get("/dashboard/shipping/<int:profile_id>")
@login_required
def edit(profile_id: int):
    return _page(shipping.get_own_profile(current_user, profile_id))


def _save(profile_id: int | None):
    profile = shipping.get_own_profile(current_user, profile_id) if profile_id is not None else None
    data, errors, rows = _form_data()
    form = request.form.to_dict()
    form["rows"] = str(_row_count())
    try:
        if errors:  # amounts that could not be read, and whatever else the rules refuse
            try:
                shipping.clean_profile(data)
            except ValidationFailed as exc:
                for name, messages in _form_errors(exc.errors, rows).items():
                    if name not in errors.errors:
                        errors.errors[name] = messages
            raise ValidationFailed(errors.errors)
        if profile is None:
            profile = shipping.create_profile(current_user, data)
        else:
            profile = shipping.update_profile(current_user, profile_id, data)
    except ValidationFailed as exc:
        db.session.rollback()
        if profile_id is not None:
            profile = shipping.get_own_profile(current_user, profile_id)
        return _page(profile, form, exc.errors if errors else _form_errors(exc.errors, rows), 422)
    name = profile.name
    db.session.commit()
    flash(_("Shipping profile %(name)s saved.", name=name), "success")
    return redirect(url_for("merch_shipping.profiles"))


@bp.post("/dashboard/shipping")
@login_required
def create():
    shipping.own_profiles(current_user)  # a fan is refused (403) before any field error
    return _save(None)


@bp.post("/dashboard/shipping/<int:profile_id>")
@login_required
def update(profile_id: int):
    return _save(profile_id)


@bp.post("/dashboard/shipping/<int:profile_id>/delete")
@login_required
def delete(profile_id: int):
    name = shipping.get_own_profile(current_user, profile_id).name
    shipping.delete_profile(current_user, profile_id)
    db.session.commit()
    flash(_("Shipping profile %(name)s deleted.", name=name), "success")
    return redirect(url_for("merch_shipping.profiles"))
