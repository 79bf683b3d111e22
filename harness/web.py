"""Driving a node's pages as a person would, through the Flask test client or over HTTP to a served node:
read the form's CSRF token, log in."""

from __future__ import annotations

import re

import requests

from provisioning.operators import create_operator, hash_password

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
GIVEN_PASSWORD = "given-by-county"


def token(client, path: str) -> str:
    """The CSRF token of the form on the page at `path`."""
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def login(client, username: str, password: str):
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token(client, "/login")}
    )


def csrf(session: requests.Session, url: str) -> str:
    """The CSRF token of the form on a served node's page."""
    return CSRF.search(session.get(url, timeout=5).text).group(1)


def logged_in(base_url: str, username: str, password: str) -> requests.Session:
    """A session logged in to a served node through its login form."""
    session = requests.Session()
    credentials = {"username": username, "password": password, "csrf_token": csrf(session, f"{base_url}/login")}
    session.post(f"{base_url}/login", data=credentials, timeout=5).raise_for_status()
    return session


def intake(item, request_token: str = "ab" * 16) -> dict:
    """A filing of `item` for a resident, as the JSON API takes it (POST /api/v1/applications)."""
    return {
        "item": item.code,
        "consent": True,
        "request_token": request_token,
        "applicant": {
            "name": "张秀英",
            "id_number": "11010519491231002X",
            "phone": "13800138000",
            "address": "青山村3组",
        },
    }


def account_to_change(node, username: str, role: str = "admin") -> None:
    """An account of the node's station whose password the county set (`GIVEN_PASSWORD`): it must change it
    before anything else."""
    create_operator(
        node.events,
        node.identity.station,
        username=username,
        name="新人",
        role=role,
        password_hash=hash_password(GIVEN_PASSWORD),
        must_change=True,
    )


RESIDENT_FORM = {
    "name": "张秀英",
    "id_number": "11010519491231002X",
    "phone": "13800138000",
    "address": "青山村3组",
    "consent": "yes",
}


def post_intake(client, item, request_token: str = "5ca9" * 8, **fields):
    """The intake form for `item`, filled for our resident unless `fields` say otherwise."""
    form = {"csrf_token": token(client, f"/work/new?item={item.code}"), "request_token": request_token}
    return client.post("/work/new", data={**form, "item": item.code, **RESIDENT_FORM, **fields})


def received(item) -> dict[str, str]:
    """The 受理 check of every material of `item` as received (原件): what the JSON API takes in `materials`."""
    return {m.key: "original" for m in item.materials}


def received_form(item) -> dict[str, str]:
    """The same check as the application page's 受理 form posts it."""
    return {f"check.{key}": value for key, value in received(item).items()}
