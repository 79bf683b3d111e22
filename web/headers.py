"""What every answer tells the browser about itself: the security headers, and a session cookie that is
`Secure` whenever the request came over TLS (directly, or by a trusted proxy's word: `trusted_proxy`)."""

from __future__ import annotations

import secrets

from flask import Flask, Response, g, request
from flask.sessions import SecureCookieSessionInterface

# No inline script anywhere, and no inline style but the charts' own <style> element, which carries this
# request's nonce (`web/charts.py`). Nothing is fetched from elsewhere; no page may be framed.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# A seal's SVG image carries its own <style> (the font face); as a document of its own it runs nothing.
_SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; font-src 'self'; frame-ancestors 'none'"
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers older than frame-ancestors
    "Referrer-Policy": "same-origin",  # application numbers in paths never leave for another site
}
# A machine's answer (a sealed sync body, or its refusal in JSON) is no document: nothing in it runs or is framed.
MACHINE_HEADERS = [("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"), *_ALWAYS.items()]


def style_nonce() -> str:
    """This request's nonce for the one inline <style> the policy allows."""
    if "style_nonce" not in g:
        g.style_nonce = secrets.token_urlsafe(16)
    return g.style_nonce


class _SessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


def _add_headers(response: Response) -> Response:
    svg = response.mimetype == "image/svg+xml"
    response.headers.setdefault("Content-Security-Policy", _SVG_POLICY if svg else _POLICY.format(nonce=style_nonce()))
    for name, value in _ALWAYS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_app(app: Flask) -> None:
    app.session_interface = _SessionInterface()
    app.after_request(_add_headers)
