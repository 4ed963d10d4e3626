"""Plain HTTP on the websocket port: login, static pages, health.

``websockets`` answers any ``GET`` without upgrading when ``process_request``
returns a response (:func:`process_request`). It refuses a request with a
body, so ``POST /api/login`` is read by :class:`GatewayConnection` itself
before ``websockets`` sees a byte (``create_connection``, the documented way
to customise connections): a request line, headers and a ``Content-Length``
body of at most 4 KiB, one response, ``Connection: close``. Routes
(:class:`HttpRoutes`):

* ``POST /api/login`` ``{"username", "password"}`` -> 200 ``{"token", "agent"}``
  / 401 ``{"error"}`` / 400 bad body / 413 body too large or without length /
  429 ``{"error", "retry_after"}`` with ``Retry-After`` (too many attempts,
  :mod:`handoff.throttle`);
* ``GET /`` -> ``widget/demo.html``, ``/console`` -> ``widget/console.html``,
  ``/emergency`` -> ``widget/emergency.html``, ``/widget/<file>`` -> a file of
  ``widget/`` (no path escapes it);
* ``GET /healthz`` -> ``ok``;
* ``GET /ws/shopper``, ``GET /ws/agent``: the websocket handshake goes on,
  if the browser's ``Origin`` is allowed (:func:`origin_allowed`), else 403.

A request not read completely within ``open_timeout_s`` of the connection
(slow headers, a body that never comes, a socket that sends nothing) is
answered 408 and closed (``websockets``' own ``open_timeout``, a second
later, is the backstop): an idle connection holds a file descriptor.
"""
from __future__ import annotations

import asyncio
import email.utils
import http
import json
import math
import mimetypes
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .throttle import Throttled, client_address

MAX_BODY_BYTES = 4096
#: request line and headers of a POST, at most
MAX_HEAD_BYTES = 8192
WEBSOCKET_PATHS = ("/ws/shopper", "/ws/agent")
PAGES = {"/": "demo.html", "/console": "console.html", "/emergency": "emergency.html"}

Answer = Tuple[http.HTTPStatus, Headers, bytes]
#: (username, password, client address) -> the login answer, None if refused; may raise Throttled
Login = Callable[[str, str, str], Awaitable[Optional[Dict[str, Any]]]]
#: (method, path with query, headers, body of a POST or None) -> (status, headers, body),
#: or None: not its path. The operations routes (handoff/ops/http.py) and the
#: agent desk's are of this shape; each says None for every path not its own.
Extra = Callable[[str, str, Headers, Optional[bytes]], Awaitable[Optional[Tuple[http.HTTPStatus, Any, bytes]]]]


@dataclass(frozen=True)
class Upload:
    """A POST route whose body may be larger than :data:`MAX_BODY_BYTES` (a
    file, :mod:`handoff.attachments`): at most ``max_bytes``, read within
    ``timeout_s`` of the connection; ``too_large()`` answers a larger one."""

    max_bytes: int
    timeout_s: float
    too_large: Callable[[], Tuple[http.HTTPStatus, Any, bytes]]


def _json(status: http.HTTPStatus, body: Dict[str, Any]) -> Answer:
    headers = Headers([("Content-Type", "application/json"), ("Cache-Control", "no-store")])
    return status, headers, json.dumps(body).encode("utf-8")


def _text(status: http.HTTPStatus, text: str) -> Answer:
    return status, Headers([("Content-Type", "text/plain; charset=utf-8")]), text.encode("utf-8")


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} s"
    return f"{math.ceil(seconds / 60)} minutes"


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
        extra: Sequence[Extra] = (),
        uploads: Optional[Mapping[str, Upload]] = None,
    ) -> None:
        self.widget_dir = Path(widget_dir).resolve()
        self.login = login
        self.extra = tuple(extra)  # asked in order before the routes below
        self.allowed_origins = tuple(allowed_origins)
        self.trusted_proxies = tuple(trusted_proxies)
        self.uploads = dict(uploads or {})  # path -> its larger body

    def address(self, peer: object, headers: Headers) -> str:
        """The client address a request is counted under (handoff.throttle)."""
        return client_address(peer, headers.get("X-Forwarded-For"), self.trusted_proxies)

    async def respond(
        self, method: str, path: str, body: Optional[bytes], headers: Headers, peer: object
    ) -> Optional[Answer]:
        """None lets the websocket handshake go on."""
        for routes in self.extra:
            if (found := await routes(method, path, headers, body)) is not None:
                return found[0], Headers(found[1]), found[2]
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

    async def _login(self, body: Optional[bytes], address: str) -> Answer:
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

    def _file(self, name: str) -> Answer:
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


def _response(answer: Answer) -> Response:
    status, headers, body = answer
    headers["Date"] = email.utils.formatdate(usegmt=True)
    headers["Content-Length"] = str(len(body))
    headers["Connection"] = "close"
    return Response(status.value, status.phrase, headers, body)


def process_request(routes: HttpRoutes) -> Callable[[ServerConnection, Request], Awaitable[Optional[Response]]]:
    """``websockets``' ``process_request``: every GET goes through ``routes``."""

    async def process(connection: ServerConnection, request: Request) -> Optional[Response]:
        answer = await routes.respond("GET", request.path, None, request.headers, connection.remote_address)
        return None if answer is None else _response(answer)

    return process


def _parse_head(head: bytes) -> Tuple[str, str, Headers]:
    """Request line and headers (ValueError if they are not HTTP/1.x)."""
    lines = head.decode("latin-1").split("\r\n")
    method, path, version = lines[0].split(" ", 2)
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise ValueError("unsupported HTTP version")
    headers = Headers()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError("bad header line")
        headers[name] = value.strip()
    return method, path, headers


class GatewayConnection(ServerConnection):
    """The gateway's connection: also reads a ``POST`` (see module docs).
    Anything else goes to ``websockets`` unchanged."""

    routes: HttpRoutes  # set by :func:`bind`
    open_timeout_s: float = 10.0  # set by :func:`bind`
    #: None until the first bytes say which; True: a POST read here
    posting: Optional[bool] = None
    #: the POST was read: whatever else comes is ignored
    answering = False
    received: bytes = b""
    #: once a POST's head is read: (method, path, headers, Content-Length), and its body so far
    head: Optional[Tuple[str, str, Headers, int]] = None
    chunks: Optional[List[bytes]] = None
    have = 0
    #: an upload (:class:`Upload`) has its own, longer deadline
    upload_deadline = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.open_timeout_s > 0:
            asyncio.get_running_loop().call_later(self.open_timeout_s, self.too_slow)

    def too_slow(self, upload: bool = False) -> None:
        """The request is not read yet (a websocket handshake or a POST)."""
        if self.request is None and not self.answering and upload == self.upload_deadline:
            self.answer(_text(http.HTTPStatus.REQUEST_TIMEOUT, "Request timeout.\n"))

    def data_received(self, data: bytes) -> None:
        if self.posting is None:
            self.received += data
            if len(self.received) < 5 and b"POST ".startswith(self.received):
                return  # too little to tell yet
            self.posting = self.received.startswith(b"POST ")
            data, self.received = self.received, b""
            if self.posting:
                self.received = data
                self.post_received()
                return
        if self.posting:
            if self.answering:
                return
            if self.chunks is not None:  # the head is read: the body comes in chunks (a file may be MBs)
                self.chunks.append(data)
                self.have += len(data)
            else:
                self.received += data
            self.post_received()
            return
        super().data_received(data)

    def post_received(self) -> None:
        if self.head is None and not self.read_head():
            return
        assert self.head is not None and self.chunks is not None
        method, path, headers, length = self.head
        if self.have < length:
            return
        body = b"".join(self.chunks)[:length]
        self.answering = True  # nothing more is read
        self.received, self.chunks = b"", None
        peer = self.transport.get_extra_info("peername")
        task = asyncio.ensure_future(self.routes.respond(method, path, body, headers, peer))
        task.add_done_callback(self.answered)

    def read_head(self) -> bool:
        """Whether the request line and headers are read (and the body may
        come); a request refused at its head is answered here."""
        head, sep, body = self.received.partition(b"\r\n\r\n")
        if not sep:
            if len(head) > MAX_HEAD_BYTES:
                self.answer(_text(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Headers too large.\n"))
            return False
        try:
            method, path, headers = _parse_head(head)
            length = int(headers.get("Content-Length", ""))
        except ValueError:
            self.answer(_json(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large or missing length"})
                        if b"\r\n" in head else _text(http.HTTPStatus.BAD_REQUEST, "Bad request.\n"))
            return False
        upload = self.routes.uploads.get(path.split("?", 1)[0])
        if not 0 <= length <= (upload.max_bytes if upload else MAX_BODY_BYTES):
            too_large = upload.too_large() if upload else None
            self.answer((too_large[0], Headers(too_large[1]), too_large[2]) if too_large else
                        _json(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large or missing length"}))
            return False
        if upload is not None and upload.timeout_s > self.open_timeout_s > 0:
            self.upload_deadline = True  # the connection's deadline no longer applies: this one does
            asyncio.get_running_loop().call_later(upload.timeout_s, self.too_slow, True)
        self.head, self.chunks, self.have, self.received = (method, path, headers, length), [body], len(body), b""
        if headers.get("Expect", "").lower() == "100-continue" and len(body) < length:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it before a large body
        return True

    def answered(self, task: "asyncio.Future[Optional[Answer]]") -> None:
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None:
            self.logger.error("HTTP request failed", exc_info=failure)
        answer = task.result() if failure is None else None
        self.answer(answer or _text(http.HTTPStatus.INTERNAL_SERVER_ERROR, "Something went wrong.\n"))

    def answer(self, answer: Answer) -> None:
        self.answering = True
        self.received = b""
        if self.transport.is_closing():
            return
        self.transport.write(_response(answer).serialize())
        self.transport.close()


def bind(routes: HttpRoutes, open_timeout_s: float) -> Type[GatewayConnection]:
    """A connection class answering HTTP with ``routes`` (for ``create_connection``)."""
    return type("BoundGatewayConnection", (GatewayConnection,), {"routes": routes, "open_timeout_s": open_timeout_s})
