"""The installation's side of online enrolment over HTTP, with explicit timeouts."""

from __future__ import annotations

import requests

from provisioning.errors import EnrolmentRefused

TIMEOUT_S = (5, 30)  # connect, read


def _url(hub_url: str, path: str) -> str:
    return hub_url.rstrip("/") + path


def fetch_directory(hub_url: str) -> dict:
    return _get(hub_url, "/api/v1/enrol/hub")


def fetch_trust(hub_url: str) -> dict:
    return _get(hub_url, "/api/v1/trust")


def _get(hub_url: str, path: str) -> dict:
    try:
        response = requests.get(_url(hub_url, path), timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise EnrolmentRefused(f"连不上枢纽 {hub_url}：{exc.__class__.__name__}") from exc
    if not response.ok:
        raise EnrolmentRefused(_message(response))
    try:
        return response.json()
    except ValueError as exc:
        raise EnrolmentRefused(f"{hub_url} 的回答不是 OneTrip 枢纽的回答") from exc


def post_request(hub_url: str, sealed: bytes) -> bytes:
    return post(hub_url, "/api/v1/enrol", sealed)


def fetch_bundle(hub_url: str, sealed_code: bytes) -> bytes:
    """The station's enrolment bundle, for a code sealed to the hub (`enrolment.seal_code`)."""
    return post(hub_url, "/api/v1/enrol/bundle", sealed_code)


def post(hub_url: str, path: str, sealed: bytes) -> bytes:
    try:
        response = requests.post(
            _url(hub_url, path),
            data=sealed,
            headers={"Content-Type": "application/octet-stream"},
            timeout=TIMEOUT_S,
        )
    except requests.RequestException as exc:
        raise EnrolmentRefused(f"连不上枢纽 {hub_url}：{exc.__class__.__name__}") from exc
    if not response.ok:
        raise EnrolmentRefused(_message(response))
    return response.content


def _message(response: requests.Response) -> str:
    try:
        return f"枢纽拒绝了请求：{response.json()['message']}"
    except (ValueError, KeyError):
        return f"枢纽返回错误 {response.status_code}"
