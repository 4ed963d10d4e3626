"""The shopper's "Email me this conversation": the transcript sent by the mailer.

``POST /api/transcript-email`` with the JSON body ``{"token", "email"}``:
``token`` is the shopper's own conversation token (the ``welcome`` frame's;
``Authorization: Bearer <token>`` works too), ``email`` where to send the
conversation's last 200 messages, as plain text, times in the policy's local
timezone. The widget sends it as a CORS "simple" request (``text/plain``, no
custom header, so no preflight); a browser Origin must be one the websockets
accept (:func:`handoff.web.origin_allowed`), and allowed origins are told so
with ``Access-Control-Allow-Origin``.

Answers: 200 ``{"sent": true, "email"}``; 400 bad body or address, or a
conversation with no message yet; 401 a token that is not a valid shopper
token; 403 a foreign Origin; 429 ``{"error", "retry_after"}`` +
``Retry-After`` past :data:`PER_CONVERSATION` sends per hour for the
conversation or :data:`PER_RECIPIENT` per day to one address (counted in
the live state, so every gateway process counts together; an attempt counts
even when the mail server then refuses it); 502 ``{"sent": false, "error":
"not sent: ..."}`` when the mail server did not take it.
"""
from __future__ import annotations

import datetime as dt
import http
import json
import re
from typing import TYPE_CHECKING, Any, List, Optional, Tuple

from ..auth import SHOPPER as SHOPPER_TOKEN
from ..http_answers import allow_origin, json_answer
from ..mail import Mailer, MailError
from ..storage import MessageRecord
from ..throttle import Limit, Throttle, Throttled
from ..web import origin_allowed

if TYPE_CHECKING:
    from ..service import Gateway

Answer = Tuple[http.HTTPStatus, List[Tuple[str, str]], bytes]

PATH = "/api/transcript-email"
PER_CONVERSATION = Limit("transcript-mail", 3, 3600.0)
PER_RECIPIENT = Limit("transcript-mail-to", 5, 86400.0)
MESSAGES = 200
EMAIL = re.compile(r"^[^\s@]{1,64}@[^\s@]{1,189}\.[^\s@]{2,63}$")  # the same shape the ticket frame checks


def transcript_text(messages: List[MessageRecord], company: str, zone: dt.tzinfo, zone_name: str) -> str:
    """The conversation as a shopper reads it in an email."""
    start = messages[0].created_at.astimezone(zone)
    lines = [f"Your conversation with {company} support, started {start.strftime('%d %B %Y')} "
             f"(times in {zone_name}).", ""]
    for m in messages:
        at = m.created_at.astimezone(zone).strftime("%H:%M")
        who = {"shopper": "You", "bot": "Assistant", "system": "Note"}.get(
            m.sender, f"{m.agent_name or 'Agent'} ({company})")
        lines.append(f"[{at}] {who}: {m.text}")
    return "\n".join(lines) + "\n"


class TranscriptRoutes:
    """The route of the module docs, for one gateway."""

    def __init__(self, gateway: "Gateway", mailer: Mailer) -> None:
        self.gateway = gateway
        self.mailer = mailer
        self.throttle = Throttle(gateway.live)

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        if raw_path.partition("?")[0] != PATH:
            return None
        origin = headers.get("Origin") if headers is not None else None
        allowed = tuple(self.gateway.config.allowed_origins)
        if not origin_allowed(origin, headers.get("Host") if headers is not None else None, allowed):
            return self._json(http.HTTPStatus.FORBIDDEN, {"error": "this Origin may not use the chat"}, None)
        if method != "POST":
            return self._json(http.HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST"}, origin, ("Allow", "POST"))
        try:
            data = json.loads((body or b"").decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            return self._json(http.HTTPStatus.BAD_REQUEST, {"error": 'send {"token", "email"}'}, origin)
        auth = headers.get("Authorization", "") if headers is not None else ""
        token = data.get("token") or (auth[7:].strip() if auth.lower().startswith("bearer ") else None)
        claims = self.gateway.signer.verify(token, SHOPPER_TOKEN) if isinstance(token, str) else None
        if claims is None:
            return self._json(http.HTTPStatus.UNAUTHORIZED, {"error": "this conversation token is not valid"}, origin)
        address = data.get("email")
        if not isinstance(address, str) or not EMAIL.match(address.strip()):
            return self._json(http.HTTPStatus.BAD_REQUEST, {"error": "Please enter a valid email address."}, origin)
        return await self._send(claims.subject, address.strip(), origin)

    async def _send(self, cid: str, address: str, origin: Optional[str]) -> Answer:
        messages = await self.gateway.storage.history(cid, MESSAGES)
        if not messages:
            return self._json(http.HTTPStatus.BAD_REQUEST, {"error": "There is nothing in this conversation yet."},
                              origin)
        try:
            await self.throttle.take_all((PER_CONVERSATION, cid), (PER_RECIPIENT, address.lower()))
        except Throttled as wait:
            minutes = max(1, round(wait.retry_after / 60))
            return self._json(http.HTTPStatus.TOO_MANY_REQUESTS, {
                "error": f"This conversation was emailed several times already; try again in {minutes} minutes.",
                "retry_after": wait.retry_after}, origin, ("Retry-After", str(wait.retry_after)))
        from actions.policy import load_policy

        policy = load_policy()
        text = transcript_text(messages, policy.company_name, policy.local_timezone, policy.local_timezone_name)
        subject = f"Your conversation with {policy.company_name} support"
        try:
            await self.mailer.send(address, subject, text)
        except MailError as exc:
            return self._json(http.HTTPStatus.BAD_GATEWAY, {"sent": False, "error": str(exc)}, origin)
        return self._json(http.HTTPStatus.OK, {"sent": True, "email": address}, origin)

    def _json(self, status: http.HTTPStatus, body: Any, origin: Optional[str], *extra: Tuple[str, str]) -> Answer:
        # only an allowed Origin gets here with one (respond checks it first)
        return json_answer(status, body, *extra, *allow_origin(origin))
