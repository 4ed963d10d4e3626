"""Plain HTTP on the websocket port: login, static pages, health.

``websockets`` 10.4 reads only ``GET`` requests and lets a ``process_request``
hook answer them without upgrading. :class:`HttpProtocol` widens that a
little: it parses the request line itself, accepts ``POST`` with a
``Content-Length`` body of at most 4 KiB, and answers every non-websocket
path from :meth:`HttpRoutes.respond` (one response per connection, then
``Connection: close``). Routes:

* ``POST /api/login`` ``{"username", "password"}`` -> 200 ``{"token", "agent"}``
  / 401 ``{"error"}`` / 400 bad body / 429 ``{"error", "retry_after"}`` with
  ``Retry-After`` (too many attempts, :mod:`handoff.throttle`);
* ``GET /`` -> ``widget/demo.html``, ``/console`` -> ``widget/console.html``,
  ``/emergency`` -> ``widget/emergency.html``, ``/widget/<file>`` -> a file of
  ``widget/`` (no path escapes it);
* ``GET /healthz`` -> ``ok``;
* ``GET /ws/shopper``, ``GET /ws/agent``: the websocket handshake goes on,
  if the browser's ``Origin`` is allowed (:func:`origin_allowed`), else 403.

A request not read completely within ``open_timeout_s`` of the connection
(slow headers, a body that never comes, a socket that sends nothing) is
answered 408 and closed: an idle connection holds a file descriptor.
"""
from __future__ import annotations

import asyncio
import http
import json
import math
import mimetypes
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Sequence, Tuple, Type

from websockets.datastructures import Headers
from websockets.exceptions import AbortHandshake, InvalidMessage
from websockets.legacy.http import read_headers, read_line

from .connection import LeanProtocol
from .throttle import Throttled, client_address

MAX_BODY_BYTES = 4096
WEBSOCKET_PATHS = ("/ws/shopper", "/ws/agent")
PAGES = {"/": "demo.html", "/console": "console.html", "/emergency": "emergency.html"}

Response = Tuple[http.HTTPStatus, Headers, bytes]
#: (username, password, client address) -> the login answer, None if refused; may raise Throttled
Login = Callable[[str, str, str], Awaitable[Optional[Dict[str, Any]]]]


def _json(status: http.HTTPStatus, body: Dict[str, Any]) -> Response:
    headers = Headers([("Content-Type", "application/json"), ("Cache-Control", "no-store")])
    return status, headers, json.dumps(body).encode("utf-8")


def _text(status: http.HTTPStatus, text: str) -> Response:
    return status, Headers([("Content-Type", "text/plain; charset=utf-8")]), text.encode("utf-8")


def origin_allowed(origin: Optional[str], host: Optional[str], allowed: Sequence[str]) -> bool:
    """Whether a websocket handshake with this ``Origin`` may go on: no
    Origin (not a browser) always; otherwise one of ``allowed`` (``*``: any),
    or, with none configured, the gateway's own (the same host and port as
    the request's ``Host``, over http or https)."""
    if origin is None:
        return True
    if allowed:
        return "*" in allowed or origin in allowed
    if not host:
        return False
    return origin.lower() in (f"http://{host}".lower(), f"https://{host}".lower())


class HttpRoutes:
    def __init__(
        self,
        widget_dir: Path,
        login: Login,
        allowed_origins: Sequence[str] = (),
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        self.widget_dir = Path(widget_dir).resolve()
        self.login = login
        self.allowed_origins = tuple(allowed_origins)
        self.trusted_proxies = tuple(trusted_proxies)

    def address(self, peer: object, headers: Headers) -> str:
        """The client address a request is counted under (handoff.throttle)."""
        return client_address(peer, headers.get("X-Forwarded-For"), self.trusted_proxies)

    async def respond(
        self, method: str, path: str, body: Optional[bytes], headers: Headers = Headers(), peer: object = None
    ) -> Optional[Response]:
        """None lets the websocket handshake go on."""
        path = path.split("?", 1)[0]
        if path in WEBSOCKET_PATHS:
            if method != "GET":
                return _text(http.HTTPStatus.METHOD_NOT_ALLOWED, "Use a websocket client.\n")
            if not origin_allowed(headers.get("Origin"), headers.get("Host"), self.allowed_origins):
                return _text(http.HTTPStatus.FORBIDDEN, "This Origin may not open a websocket here.\n")
            return None
        if path == "/api/login":
            if method != "POST":
                return _json(http.HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST"})
            return await self._login(body, self.address(peer, headers))
        if method != "GET":
            return _text(http.HTTPStatus.METHOD_NOT_ALLOWED, "Method not allowed.\n")
        if path == "/healthz":
            return _text(http.HTTPStatus.OK, "ok\n")
        if path in PAGES:
            return self._file(PAGES[path])
        if path.startswith("/widget/"):
            return self._file(path[len("/widget/"):])
        return _text(http.HTTPStatus.NOT_FOUND, "Not found.\n")

    async def _login(self, body: Optional[bytes], address: str) -> Response:
        if body is None:
            return _json(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large or missing length"})
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("username"), str)
            or not isinstance(data.get("password"), str)
        ):
            return _json(http.HTTPStatus.BAD_REQUEST, {"error": "send JSON {\"username\", \"password\"}"})
        try:
            result = await self.login(data["username"], data["password"], address)
        except Throttled as throttled:
            wait = throttled.retry_after
            status, headers, text = _json(
                http.HTTPStatus.TOO_MANY_REQUESTS,
                {"error": f"Too many sign-in attempts; try again in {_duration(wait)}.", "retry_after": wait},
            )
            headers["Retry-After"] = str(wait)
            return status, headers, text
        if result is None:
            return _json(http.HTTPStatus.UNAUTHORIZED, {"error": "wrong username or password"})
        return _json(http.HTTPStatus.OK, result)

    def _file(self, name: str) -> Response:
        if not name or "\\" in name or any(part in ("", ".", "..") or part.startswith(".") for part in name.split("/")):
            return _text(http.HTTPStatus.NOT_FOUND, "Not found.\n")
        target = (self.widget_dir / name).resolve()
        if self.widget_dir not in target.parents or not target.is_file():
            return _text(http.HTTPStatus.NOT_FOUND, "Not found.\n")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        headers = Headers([("Content-Type", kind), ("Cache-Control", "no-cache")])
        return http.HTTPStatus.OK, headers, target.read_bytes()


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} s"
    return f"{math.ceil(seconds / 60)} minutes"


class HttpProtocol(LeanProtocol):
    """The gateway's connection class: also answers plain HTTP (see module docs)."""

    routes: HttpRoutes  # set by :func:`bind`
    open_timeout_s: float = 10.0  # set by :func:`bind`
    http_method = "GET"
    http_body: Optional[bytes] = b""

    async def read_http_request(self) -> Tuple[str, Headers]:
        try:
            return await asyncio.wait_for(self._read_http_request(), self.open_timeout_s)
        except asyncio.TimeoutError:
            raise AbortHandshake(
                http.HTTPStatus.REQUEST_TIMEOUT, Headers([("Connection", "close")]), b"Request timeout.\n"
            ) from None

    async def _read_http_request(self) -> Tuple[str, Headers]:
        try:
            request_line = await read_line(self.reader)
            method, raw_path, version = request_line.split(b" ", 2)
            if version not in (b"HTTP/1.1", b"HTTP/1.0"):
                raise ValueError("unsupported HTTP version")
            headers = await read_headers(self.reader)
        except asyncio.CancelledError:  # pragma: no cover
            raise
        except Exception as exc:
            raise InvalidMessage("did not receive a valid HTTP request") from exc
        self.http_method = method.decode("ascii", "replace")
        if method == b"POST":
            self.http_body = await self._read_body(headers)
        path = raw_path.decode("ascii", "surrogateescape")
        self.path = path
        self.request_headers = headers
        return path, headers

    async def _read_body(self, headers: Headers) -> Optional[bytes]:
        try:
            length = int(headers.get("Content-Length", ""))
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY_BYTES:
            return None
        try:
            return await self.reader.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            raise InvalidMessage("incomplete request body") from exc

    async def process_request(self, path: str, request_headers: Headers) -> Optional[Response]:  # type: ignore[override]
        return await self.routes.respond(
            self.http_method, path, self.http_body, request_headers, self.remote_address
        )


def bind(routes: HttpRoutes, open_timeout_s: float) -> Type[HttpProtocol]:
    """A protocol class answering HTTP with ``routes`` (for ``create_protocol``)."""
    return type("BoundHttpProtocol", (HttpProtocol,), {"routes": routes, "open_timeout_s": open_timeout_s})
