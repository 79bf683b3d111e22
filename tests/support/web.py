"""Driving the Flask test client as a person would: read the form's CSRF token, log in."""

from __future__ import annotations

import re


def token(client, path: str) -> str:
    """The CSRF token of the form on the page at `path`."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def login(client, username: str, password: str):
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token(client, "/login")}
    )
