"""The answers of the gateway's HTTP route sets (``handoff/ops/http.py``,
``handoff/desk/``): JSON bodies, errors, the bearer token, the supervisors'
pages. An answer is ``(status, [(header, value)...], body)``, no web
library's types (:class:`handoff.web.HttpRoutes` asks each route set in turn).
"""
from __future__ import annotations

import http
import json
from pathlib import Path
from typing import Any, List, Optional, Tuple

Answer = Tuple[http.HTTPStatus, List[Tuple[str, str]], bytes]

NO_STORE = ("Cache-Control", "no-store")
#: the console's own pages load only the gateway's scripts and styles, and talk only to it
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def json_answer(status: http.HTTPStatus, body: Any, *extra: Tuple[str, str]) -> Answer:
    headers = [("Content-Type", "application/json"), NO_STORE, *extra]
    return status, headers, json.dumps(body, ensure_ascii=False).encode("utf-8")


def error(status: http.HTTPStatus, message: str, *extra: Tuple[str, str]) -> Answer:
    """``{"error": message}``: what was wrong, in words a person reads."""
    return json_answer(status, {"error": message}, *extra)


def allow_origin(origin: Optional[str]) -> Tuple[Tuple[str, str], ...]:
    """The CORS headers of a shopper's route answering a browser ``origin`` already
    checked (:func:`handoff.web.origin_allowed`); none without an Origin."""
    return (("Access-Control-Allow-Origin", origin), ("Vary", "Origin")) if origin else ()


def bearer(headers: Any) -> Optional[str]:
    """The token of an ``Authorization: Bearer TOKEN`` header, else None."""
    value = headers.get("Authorization") if headers is not None else None
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def page(path: Path) -> Answer:
    """A console page (``widget/*.html``) under :data:`PAGE_POLICY`."""
    try:
        body = path.read_bytes()
    except OSError:
        return http.HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain; charset=utf-8")], b"Not found.\n"
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache"),
               ("Content-Security-Policy", PAGE_POLICY), ("X-Content-Type-Options", "nosniff"),
               ("Referrer-Policy", "no-referrer")]
    return http.HTTPStatus.OK, headers, body
