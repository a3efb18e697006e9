"""Operators verify brands: the service, the /operator/brands page and the brands API, with their refusals."""
from __future__ import annotations

import re

import pytest

from app.accounts import services as accounts
from app.errors import PermissionDenied
from app.extensions import db
from tests.api_support import assert_problem, bearer
from tests.page_support import logged_in


def acme(make):
    """The Acme Lights brand with two members; returns (brand, owner)."""
    owner = make.brand_member(brand_name="Acme Lights")
    make.brand_member(brand_name="Acme Lights")
    return accounts.find_brand("acme-lights"), owner


def is_verified(slug: str) -> bool:
    db.session.expire_all()
    return accounts.find_brand(slug).verified


# ---------------------------------------------------------------- service


def test_list_brands_counts_members_and_sorts_by_name(make):
    acme(make)
    make.brand_member(brand_name="Zephyr Audio")
    accounts.create_brand("Bolt Cables")  # a brand nobody has joined yet
    db.session.commit()

    rows = [(brand.slug, members) for brand, members in accounts.list_brands()]

    assert rows == [("acme-lights", 2), ("bolt-cables", 0), ("zephyr-audio", 1)]


def test_operator_verifies_and_unverifies_a_brand(make):
    brand, _owner = acme(make)
    operator = make.operator()

    accounts.set_brand_verified(operator, brand, True)
    assert brand.verified is True
    accounts.set_brand_verified(operator, brand, False)
    assert brand.verified is False


@pytest.mark.parametrize("who", ["fan", "streamer", "member"])
def test_only_operators_may_verify_a_brand(make, who):
    brand, owner = acme(make)
    actor = {"fan": make.user, "streamer": make.streamer, "member": lambda: owner}[who]()

    with pytest.raises(PermissionDenied):
        accounts.set_brand_verified(actor, brand, True)
    assert brand.verified is False


# ---------------------------------------------------------------- page


def test_operator_sees_brands_with_member_counts_and_a_nav_link(app, make):
    acme(make)
    client = logged_in(app, make, make.operator())

    page = client.get("/operator/brands")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Acme Lights" in text and "acme-lights" in text
    assert re.search(r'data-label="Members">2</td>', text)
    assert "Not verified" in text and ">Verify</button>" in text
    assert 'href="/operator/brands" aria-current="page"' in text


def test_operator_verifies_a_brand_from_the_page_and_can_take_it_back(app, make):
    acme(make)
    client = logged_in(app, make, make.operator())

    response = client.post("/operator/brands/acme-lights/verify")

    assert response.status_code == 302 and response.headers["Location"].endswith("/operator/brands")
    assert is_verified("acme-lights")
    page = client.get("/operator/brands").get_data(as_text=True)
    assert "Acme Lights is now verified." in page
    assert "Remove verification" in page

    client.post("/operator/brands/acme-lights/unverify")
    assert not is_verified("acme-lights")
    assert "Acme Lights is no longer verified." in client.get("/operator/brands").get_data(as_text=True)


@pytest.mark.parametrize("who", ["fan", "streamer", "member"])
def test_non_operators_get_403_on_the_brands_page_and_cannot_verify(app, make, who):
    _brand, owner = acme(make)
    user = {"fan": make.user, "streamer": make.streamer, "member": lambda: owner}[who]()
    client = logged_in(app, make, user)

    assert client.get("/operator/brands").status_code == 403
    assert client.post("/operator/brands/acme-lights/verify").status_code == 403
    assert not is_verified("acme-lights")
    assert 'href="/operator/brands"' not in client.get("/settings").get_data(as_text=True)


def test_anonymous_visitor_is_sent_to_login_from_the_brands_page(client, make):
    acme(make)

    for response in (client.get("/operator/brands"), client.post("/operator/brands/acme-lights/verify")):
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert not is_verified("acme-lights")


def test_unknown_brand_or_action_on_the_page_is_404(app, make):
    acme(make)
    client = logged_in(app, make, make.operator())

    assert client.post("/operator/brands/no-such-brand/verify").status_code == 404
    assert client.post("/operator/brands/acme-lights/promote").status_code == 404


def test_verify_form_needs_its_csrf_token_when_csrf_is_on(app, make):
    acme(make)
    client = logged_in(app, make, make.operator())
    app.config["WTF_CSRF_ENABLED"] = True

    assert client.post("/operator/brands/acme-lights/verify").status_code == 400
    assert not is_verified("acme-lights")

    page = client.get("/operator/brands").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/operator/brands/acme-lights/verify", data={"csrf_token": token})
    assert response.status_code == 302
    assert is_verified("acme-lights")


def test_brands_page_with_no_brands_says_so(app, make):
    client = logged_in(app, make, make.operator())

    assert "No brands yet." in client.get("/operator/brands").get_data(as_text=True)


# ---------------------------------------------------------------- API


def test_anyone_lists_brands_with_slug_name_and_verified_only(client, make):
    acme(make)
    make.brand_member(brand_name="Zephyr Audio")
    accounts.set_brand_verified(make.operator(), accounts.find_brand("zephyr-audio"), True)
    db.session.commit()

    response = client.get("/api/v1/brands")

    assert response.status_code == 200
    assert response.get_json() == {
        "items": [
            {"slug": "acme-lights", "name": "Acme Lights", "verified": False},
            {"slug": "zephyr-audio", "name": "Zephyr Audio", "verified": True},
        ]
    }


def test_operator_verifies_and_unverifies_a_brand_through_the_api(client, make):
    acme(make)
    token = make.api_token(make.operator())

    verified = client.post("/api/v1/brands/acme-lights/verify", headers=bearer(token))

    assert verified.status_code == 200
    assert verified.get_json() == {"slug": "acme-lights", "name": "Acme Lights", "verified": True}
    assert is_verified("acme-lights")

    unverified = client.post("/api/v1/brands/acme-lights/unverify", headers=bearer(token))
    assert unverified.get_json()["verified"] is False
    assert not is_verified("acme-lights")


@pytest.mark.parametrize("who", ["fan", "streamer", "member"])
def test_non_operators_get_403_from_the_verify_api(client, make, who):
    _brand, owner = acme(make)
    user = {"fan": make.user, "streamer": make.streamer, "member": lambda: owner}[who]()
    token = make.api_token(user)

    for action in ("verify", "unverify"):
        body = assert_problem(client.post(f"/api/v1/brands/acme-lights/{action}", headers=bearer(token)), 403)
        assert body["detail"] == "Only operators can verify brands."
    assert not is_verified("acme-lights")


def test_anonymous_gets_401_from_the_verify_api(client, make):
    acme(make)

    assert_problem(client.post("/api/v1/brands/acme-lights/verify"), 401)
    assert_problem(client.post("/api/v1/brands/acme-lights/verify", headers=bearer("not-a-token")), 401)
    assert not is_verified("acme-lights")


def test_verifying_an_unknown_brand_through_the_api_is_404(client, make):
    token = make.api_token(make.operator())

    for action in ("verify", "unverify"):
        body = assert_problem(client.post(f"/api/v1/brands/no-such-brand/{action}", headers=bearer(token)), 404)
        assert body["detail"] == "No brand called no-such-brand."
