"""Plain HTTP on the websocket port: login, static pages, health.

``websockets`` 10.4 reads only ``GET`` requests and lets a ``process_request``
hook answer them without upgrading. :class:`HttpProtocol` widens that a
little: it parses the request line itself, accepts ``POST`` with a
``Content-Length`` body of at most 4 KiB, and answers every non-websocket
path from :meth:`HttpRoutes.respond` (one response per connection, then
``Connection: close``). Routes:

* ``POST /api/login`` ``{"username", "password"}`` -> 200 ``{"token", "agent"}``
  / 401 ``{"error"}`` / 400 bad body;
* ``GET /`` -> ``widget/demo.html``, ``/console`` -> ``widget/console.html``,
  ``/emergency`` -> ``widget/emergency.html``, ``/widget/<file>`` -> a file of
  ``widget/`` (no path escapes it);
* ``GET /healthz`` -> ``ok``;
* ``GET /ws/shopper``, ``GET /ws/agent``: the websocket handshake goes on.
"""
from __future__ import annotations

import asyncio
import http
import json
import mimetypes
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple, Type

from websockets.datastructures import Headers
from websockets.exceptions import InvalidMessage
from websockets.legacy.http import read_headers, read_line

from .connection import LeanProtocol

MAX_BODY_BYTES = 4096
WEBSOCKET_PATHS = ("/ws/shopper", "/ws/agent")
PAGES = {"/": "demo.html", "/console": "console.html", "/emergency": "emergency.html"}

Response = Tuple[http.HTTPStatus, Headers, bytes]
Login = Callable[[str, str], Awaitable[Optional[Dict[str, Any]]]]
#: (method, path with query, headers) -> (status, headers, body), or None: not its path
Extra = Callable[[str, str, Headers], Awaitable[Optional[Tuple[http.HTTPStatus, Any, bytes]]]]


def _json(status: http.HTTPStatus, body: Dict[str, Any]) -> Response:
    headers = Headers([("Content-Type", "application/json"), ("Cache-Control", "no-store")])
    return status, headers, json.dumps(body).encode("utf-8")


def _text(status: http.HTTPStatus, text: str) -> Response:
    return status, Headers([("Content-Type", "text/plain; charset=utf-8")]), text.encode("utf-8")


class HttpRoutes:
    def __init__(self, widget_dir: Path, login: Login, extra: Optional[Extra] = None) -> None:
        self.widget_dir = Path(widget_dir).resolve()
        self.login = login
        self.extra = extra  # the operations routes (handoff/ops/http.py)

    async def respond(
        self, method: str, path: str, body: Optional[bytes], headers: Optional[Headers] = None
    ) -> Optional[Response]:
        """None lets the websocket handshake go on."""
        if self.extra is not None and (found := await self.extra(method, path, headers or Headers())) is not None:
            return found[0], Headers(found[1]), found[2]  # ops routes: reports, /metrics (handoff/ops/http.py)
        path = path.split("?", 1)[0]
        if path in WEBSOCKET_PATHS:
            if method == "GET":
                return None
            return _text(http.HTTPStatus.METHOD_NOT_ALLOWED, "Use a websocket client.\n")
        if path == "/api/login":
            if method != "POST":
                return _json(http.HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST"})
            return await self._login(body)
        if method != "GET":
            return _text(http.HTTPStatus.METHOD_NOT_ALLOWED, "Method not allowed.\n")
        if path == "/healthz":
            return _text(http.HTTPStatus.OK, "ok\n")
        if path in PAGES:
            return self._file(PAGES[path])
        if path.startswith("/widget/"):
            return self._file(path[len("/widget/"):])
        return _text(http.HTTPStatus.NOT_FOUND, "Not found.\n")

    async def _login(self, body: Optional[bytes]) -> Response:
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
        result = await self.login(data["username"], data["password"])
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


class HttpProtocol(LeanProtocol):
    """The gateway's connection class: also answers plain HTTP (see module docs)."""

    routes: HttpRoutes  # set by :func:`bind`
    http_method = "GET"
    http_body: Optional[bytes] = b""

    async def read_http_request(self) -> Tuple[str, Headers]:
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
            return await asyncio.wait_for(self.reader.readexactly(length), timeout=10)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
            raise InvalidMessage("incomplete request body") from exc

    async def process_request(self, path: str, request_headers: Headers) -> Optional[Response]:  # type: ignore[override]
        return await self.routes.respond(self.http_method, path, self.http_body, request_headers)


def bind(routes: HttpRoutes) -> Type[HttpProtocol]:
    """A protocol class answering HTTP with ``routes`` (for ``create_protocol``)."""
    return type("BoundHttpProtocol", (HttpProtocol,), {"routes": routes})
