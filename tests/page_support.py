"""Helpers for page tests: a signed-in test client and a response's text."""
from __future__ import annotations


def logged_in(app, make, user):
    """A fresh test client signed in as `user` through the real login form."""
    client = app.test_client()
    response = make.login(client, user.email)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def text_of(response) -> str:
    return response.get_data(as_text=True)
