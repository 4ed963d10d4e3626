"""``POST /api/attachments`` (send a file) and ``GET /api/attachments/ID`` (fetch one).

Sending: the request body is the file itself (at most
``attachment_max_bytes``; more is 413 before it is read). Who sends it:

* a shopper: ``?token=`` their conversation token (the ``welcome`` frame's);
  a browser Origin must be one the websockets accept (403 otherwise). The
  widget sends it as a CORS "simple" request (``text/plain``, no custom
  header, so no preflight);
* an agent: ``Authorization: Bearer <token of /api/login>`` and
  ``?conversation_id=``: a chat they own (403 otherwise).

``?name=`` is the file's name and ``?client_id=`` makes a resend safe (the
same file is stored once), both optional. The ``Content-Type`` and the name
are advice only: the bytes decide (:mod:`handoff.attachments.content`): 415
``{"error"}`` for anything but JPEG, PNG, WebP or PDF; images are re-encoded
without metadata. Too many files for one conversation in the window is 429
``{"error", "retry_after"}`` + ``Retry-After`` (counted in the live state, so
every gateway process counts together). Taken: 201 ``{"message": <message
frame>}``, the transcript message that carries the file as ``attachment``
``{id, name, content_type, size, url}``, stored before this answer and
relayed to the conversation's sockets and its agent like any message.

Fetching ``url``: with the conversation's own shopper token (``?token=`` or
``Authorization: Bearer``) or any signed-in agent's (``Bearer`` only, never in
a URL); 401 without a valid token, 404 for another conversation's file or one
no longer kept. Served with its sniffed type, ``X-Content-Type-Options:
nosniff``, a CSP that runs nothing, and a PDF only as a download
(``Content-Disposition: attachment``).
"""
from __future__ import annotations

import asyncio
import http
import logging
import re
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

from .. import frames
from ..auth import SHOPPER as SHOPPER_TOKEN
from ..http_answers import Answer, allow_origin, bearer, json_answer
from ..protocol import ProtocolError
from ..records import AgentRecord, MessageRecord, new_id, utcnow
from ..throttle import Limit, Throttle, Throttled
from ..web import origin_allowed
from . import rows
from .content import PDF, Cleaned, Refused, clean
from .store import AttachmentStore, key_of, store_for

if TYPE_CHECKING:
    from ..service import Gateway

logger = logging.getLogger(__name__)

PATH = "/api/attachments"
_ID = re.compile(r"^[0-9a-f]{32}$")
#: what a served file may do in a browser: nothing (no script, no plugin, no form)
FILE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@dataclass(frozen=True)
class Sender:
    conversation_id: str
    #: None: the conversation's shopper
    agent: Optional[AgentRecord]


def _megabytes(n: int) -> str:
    return f"{n / 1_048_576:.0f} MB" if n >= 1_048_576 else f"{max(1, n // 1024)} KB"


class AttachmentRoutes:
    """The two routes of the module docs, for one gateway."""

    def __init__(self, gateway: "Gateway", store: Optional[AttachmentStore] = None) -> None:
        config = gateway.config
        self.gateway = gateway
        self.store = store or store_for(config)
        self.max_bytes = config.attachment_max_bytes
        self.throttle = Throttle(gateway.live)
        self.limit = Limit("attachments", config.attachments_per_conversation, config.attachments_window_s)

    def too_large(self) -> Answer:
        return json_answer(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {
            "error": f"This file is too large to send: at most {_megabytes(self.max_bytes)}."})

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        path, _, query = raw_path.partition("?")
        if path != PATH and not path.startswith(PATH + "/"):
            return None
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        if path == PATH:
            return await self._post(method, params, headers, body)
        if method != "GET":
            return _error(http.HTTPStatus.METHOD_NOT_ALLOWED, "use GET", None, ("Allow", "GET"))
        return await self._download(path[len(PATH) + 1:], params, headers)

    async def _post(self, method: str, params: Dict[str, str], headers: Any, body: Optional[bytes]) -> Answer:
        origin = headers.get("Origin")
        if not origin_allowed(origin, headers.get("Host"), tuple(self.gateway.config.allowed_origins)):
            return _error(http.HTTPStatus.FORBIDDEN, "this Origin may not use the chat", None)
        if method != "POST":
            return _error(http.HTTPStatus.METHOD_NOT_ALLOWED, "use POST", origin, ("Allow", "POST"))
        sender = await self._sender(params, headers)
        if not isinstance(sender, Sender):
            return _cors(sender, origin)
        if body is None or len(body) > self.max_bytes:
            return _cors(self.too_large(), origin)
        return _cors(await self._upload(sender, params, body), origin)

    async def _sender(self, params: Dict[str, str], headers: Any) -> Union[Sender, Answer]:
        """Who sends the file, to which conversation; or the 401 / 403 / 404 answer."""
        token = bearer(headers)
        if token is not None and "token" not in params:
            try:
                agent = await self.gateway.agent_from_token(token)
            except ProtocolError:
                return _error(http.HTTPStatus.UNAUTHORIZED, "sign in again: this token is not valid", None)
            cid = params.get("conversation_id", "")
            try:
                await self.gateway.attachment_recipient(cid, agent)
            except ProtocolError as refused:
                return _error(http.HTTPStatus.FORBIDDEN, refused.message, None)
            return Sender(cid, agent)
        claims = self.gateway.signer.verify(params.get("token", ""), SHOPPER_TOKEN)
        if claims is None or await self.gateway.storage.conversation(claims.subject) is None:
            return _error(http.HTTPStatus.UNAUTHORIZED, "this conversation token is not valid", None)
        return Sender(claims.subject, None)

    async def _upload(self, sender: Sender, params: Dict[str, str], body: bytes) -> Answer:
        cid, agent = sender.conversation_id, sender.agent
        client_id = params.get("client_id") or None
        if client_id is not None and not 1 <= len(client_id) <= 64:
            return _error(http.HTTPStatus.BAD_REQUEST, "client_id: 1 to 64 characters", None)
        if client_id is not None:
            earlier = await self.gateway.storage.find_message(cid, client_id)
            if earlier is not None and earlier.extra and "attachment" in earlier.extra:
                return json_answer(http.HTTPStatus.OK, {"message": frames.message_frame(earlier)})
        try:
            cleaned = await asyncio.to_thread(clean, body, params.get("name"))
        except Refused as refused:
            return _error(http.HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(refused), None)
        try:
            await self.throttle.take_all((self.limit, cid))
        except Throttled as wait:
            minutes = max(1, round(wait.retry_after / 60))
            return json_answer(http.HTTPStatus.TOO_MANY_REQUESTS, {
                "error": f"Too many files were sent in this conversation; try again in {minutes} minutes.",
                "retry_after": wait.retry_after}, ("Retry-After", str(wait.retry_after)))
        try:
            message = await self._keep(cid, agent, cleaned, client_id)
        except ProtocolError as refused:  # the agent's chat was transferred or closed meanwhile
            return _error(http.HTTPStatus.FORBIDDEN, refused.message, None)
        except OSError:  # the directory or the object store (handoff/attachments/s3.py StoreError)
            logger.exception("an attachment could not be kept")
            return _error(http.HTTPStatus.SERVICE_UNAVAILABLE,
                          "The file could not be stored just now; nothing was sent. Please try again.", None)
        return json_answer(http.HTTPStatus.CREATED, {"message": frames.message_frame(message)})

    async def _keep(self, cid: str, agent: Optional[AgentRecord], cleaned: Cleaned,
                    client_id: Optional[str]) -> MessageRecord:
        """The bytes, then the row, then the message: once a socket hears of
        the file, it can be fetched."""
        recipient = await self.gateway.attachment_recipient(cid, agent)  # (again: the chat may have moved)
        aid, now = new_id(), utcnow()
        key = key_of(cid, aid)
        await asyncio.to_thread(self.store.put, key, cleaned.data, cleaned.content_type)
        message = MessageRecord(
            conversation_id=cid, sender="agent" if agent else "shopper", text=cleaned.name, created_at=now,
            extra={"attachment": {"id": aid, "name": cleaned.name, "content_type": cleaned.content_type,
                                  "size": len(cleaned.data), "url": f"{PATH}/{aid}"}},
            agent_id=agent.id if agent else None, agent_name=agent.name if agent else None, client_id=client_id)
        await rows.insert(self.gateway.storage.engine, rows.AttachmentRow(
            aid, cid, message.id, message.sender, message.agent_id, cleaned.name, cleaned.content_type,
            len(cleaned.data), cleaned.sha256, key, now))
        return await self.gateway.post_attachment(message, recipient)

    async def _download(self, aid: str, params: Dict[str, str], headers: Any) -> Answer:
        token = bearer(headers) or params.get("token")
        if not token:
            return _error(http.HTTPStatus.UNAUTHORIZED, "send the conversation's token", None)
        shopper = self.gateway.signer.verify(token, SHOPPER_TOKEN)
        if shopper is None and (bearer(headers) is None or not await self._is_agent(token)):
            return _error(http.HTTPStatus.UNAUTHORIZED, "this token is not valid", None)
        row = await rows.find(self.gateway.storage.engine, aid) if _ID.match(aid) else None
        if row is None or (shopper is not None and shopper.subject != row.conversation_id):
            return _error(http.HTTPStatus.NOT_FOUND, "no such file", None)
        try:
            data = await asyncio.to_thread(self.store.get, row.storage_key)
        except OSError:
            logger.exception("an attachment could not be read")
            return _error(http.HTTPStatus.SERVICE_UNAVAILABLE, "the file cannot be fetched just now; try again", None)
        if data is None:
            return _error(http.HTTPStatus.NOT_FOUND, "this file is no longer kept", None)
        disposition = "attachment" if row.content_type == PDF else "inline"
        quoted = urllib.parse.quote(row.name, safe="")
        return http.HTTPStatus.OK, [
            ("Content-Type", row.content_type), ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", FILE_POLICY), ("Cache-Control", "private, no-store"),
            ("Content-Disposition", f"{disposition}; filename=\"{row.id}.{row.name.rsplit('.', 1)[-1]}\"; "
                                    f"filename*=UTF-8''{quoted}"),
            ("Referrer-Policy", "no-referrer"), ("Cross-Origin-Resource-Policy", "cross-origin"),
        ], data

    async def _is_agent(self, token: str) -> bool:
        try:
            await self.gateway.agent_from_token(token)
        except ProtocolError:
            return False
        return True


def _error(status: http.HTTPStatus, message: str, origin: Optional[str], *extra: Tuple[str, str]) -> Answer:
    return _cors(json_answer(status, {"error": message}, *extra), origin)


def _cors(answer: Answer, origin: Optional[str]) -> Answer:
    """An answer an allowed Origin's page may read (the widget on a shop's own site)."""
    status, headers, body = answer
    return status, [*headers, *allow_origin(origin)], body
