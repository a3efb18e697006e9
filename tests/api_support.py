"""Helpers shared by the API tests: bearer headers and the problem+json check."""
from __future__ import annotations


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def bearer_for(make, user) -> dict[str, str]:
    """A bearer header with a fresh token of `user`."""
    return bearer(make.api_token(user))


def assert_problem(response, status: int) -> dict:
    """The response is an RFC 9457 problem with this status and every member filled in."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body
