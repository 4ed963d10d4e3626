"""The agent desk's HTTP routes on the gateway port: the ticket inbox, ratings.

Every route wants ``Authorization: Bearer <agent token>`` (the token of
``POST /api/login``; the account is read at each request, so a deactivated
agent is refused at once): 401 without a valid one, 403 for a shopper's
token. Answers are JSON; errors are ``{"error": "..."}``.

* ``GET /api/tickets?status=open|answered|closed[&limit=100][&after=ID]`` ->
  ``{"status", "counts": {status: n}, "tickets": [...]}``, oldest first (the
  longest waiting on top); each ticket: ``id, conversation_id, email, text,
  created_at, status, answered_at, answered_by, closed_at, queue, reason,
  replies``. ``after``: the last id of the previous page.
* ``GET /api/tickets/ID`` -> ``{"ticket", "replies": [...], "transcript":
  [...]}``: the conversation the ticket came from (its last 200 messages,
  oldest first: ``sender, text, agent_name, created_at``) and every reply
  (``agent, text, created_at, sent_at, error``); 404 for an unknown id.
* ``POST /api/tickets/ID/reply`` ``{"text"}`` (1..4000 characters) -> the
  reply is stored, then emailed to the ticket's address (:mod:`handoff.mail`)
  and the ticket marked answered: 200 ``{"sent": true, "reply", "ticket"}``.
  When the mail server does not take it: 502 ``{"sent": false, "error":
  "not sent: ...", "reply", "ticket"}``, the reply kept (with the error) and
  the ticket still open. 400 for a bad body, 409 for a closed ticket.
* ``POST /api/tickets/ID/close`` -> 200 ``{"ticket"}``; 409 if it was closed.
* ``GET /api/ratings[?limit=50]`` -> the signed-in agent's rated chats
  (closed by them), newest first: ``{"summary": {"rated", "mean",
  "distribution"}, "ratings": [{conversation_id, queue, reason, score,
  comment, closed_at}]}``.
* ``POST /api/transcript-email``: the shopper's own route (their conversation
  token, not an agent's), :mod:`handoff.desk.transcript_mail`.
"""
from __future__ import annotations

import datetime as dt
import http
import json
import logging
import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

from ..auth import SHOPPER as SHOPPER_TOKEN
from ..http_answers import Answer, bearer
from ..http_answers import error as _error
from ..http_answers import json_answer as _json
from ..mail import Mailer, MailError
from ..protocol import ProtocolError
from ..storage import AgentRecord
from . import inbox
from .transcript_mail import PATH as TRANSCRIPT_EMAIL, TranscriptRoutes

if TYPE_CHECKING:
    from ..service import Gateway

logger = logging.getLogger(__name__)


TICKETS, RATINGS = "/api/tickets", "/api/ratings"
ONE_TICKET = re.compile(r"^/api/tickets/(\d{1,12})(?:/(reply|close))?$")
MAX_REPLY_CHARS = 4000
TRANSCRIPT_MESSAGES = 200


def iso(value: Optional[dt.datetime]) -> Optional[str]:
    """ISO 8601 UTC (PostgreSQL answers in its session's timezone)."""
    return None if value is None else value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def ticket_json(t: inbox.Ticket) -> Dict[str, Any]:
    return {"id": t.id, "conversation_id": t.conversation_id, "email": t.email, "text": t.text,
            "created_at": iso(t.created_at), "status": t.status, "answered_at": iso(t.answered_at),
            "answered_by": t.answered_by, "closed_at": iso(t.closed_at), "queue": t.queue, "reason": t.reason,
            "replies": t.replies}


def reply_json(r: inbox.Reply) -> Dict[str, Any]:
    return {"id": r.id, "agent": r.agent, "text": r.text, "created_at": iso(r.created_at),
            "sent_at": iso(r.sent_at), "sent": r.sent_at is not None, "error": r.error}


def reply_mail(t: inbox.Ticket, agent_name: str, text: str) -> Tuple[str, str]:
    """Subject and body of the email answering ticket ``t``."""
    from actions.policy import load_policy

    company = load_policy().company_name
    subject = f"Re: your message to {company} (ticket #{t.id})"
    quoted = "\n".join("> " + line for line in t.text.splitlines())
    body = (f"{text}\n\n{agent_name}\n{company} support\n\n"
            f"You wrote on {t.created_at.strftime('%d %B %Y, %H:%M')} UTC:\n{quoted}\n")
    return subject, body


def _body(body: Optional[bytes]) -> Dict[str, Any]:
    """The JSON object of a POST body; ValueError says what is wrong."""
    if not body:
        return {}
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("send a JSON object") from None
    if not isinstance(data, dict):
        raise ValueError("send a JSON object")
    return data


def _number(query: Dict[str, List[str]], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[-1]
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name}: a whole number from {low} to {high}")
    return int(raw)


class DeskRoutes:
    """The routes of the module docs, for one gateway."""

    def __init__(self, gateway: "Gateway", mailer: Optional[Mailer] = None) -> None:
        self.gateway = gateway
        self.mailer = mailer or Mailer()
        self.engine = gateway.storage.engine
        self.transcripts = TranscriptRoutes(gateway, self.mailer)  # the shopper's, with its own token

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        path, _, query_text = raw_path.partition("?")
        if path == TRANSCRIPT_EMAIL:
            return await self.transcripts.respond(method, raw_path, headers, body)
        one = ONE_TICKET.match(path)
        if path not in (TICKETS, RATINGS) and one is None:
            return None
        action = one.group(2) if one else None
        wanted = "POST" if action else "GET"
        if method != wanted:
            return _error(http.HTTPStatus.METHOD_NOT_ALLOWED, f"use {wanted}", ("Allow", wanted))
        agent = await self._agent(headers)
        if not isinstance(agent, AgentRecord):
            return agent
        query = parse_qs(query_text, keep_blank_values=True)
        try:
            if path == RATINGS:
                return await self._ratings(agent, query)
            if one is None:
                return await self._list(query)
            ticket_id = int(one.group(1))
            if action == "reply":
                return await self._reply(agent, ticket_id, _body(body))
            if action == "close":
                return await self._close(ticket_id)
            return await self._one(ticket_id)
        except ValueError as exc:
            return _error(http.HTTPStatus.BAD_REQUEST, str(exc))

    async def _agent(self, headers: Any) -> "AgentRecord | Answer":
        """The signed-in agent, or the 401 / 403 answer."""
        token = bearer(headers)
        if token and self.gateway.signer.verify(token, SHOPPER_TOKEN) is not None:
            return _error(http.HTTPStatus.FORBIDDEN, "the agent desk is for agents")
        try:
            return await self.gateway.agent_from_token(token or "")
        except ProtocolError:
            return _error(http.HTTPStatus.UNAUTHORIZED, "sign in: send Authorization: Bearer <token of /api/login>",
                          ("WWW-Authenticate", 'Bearer realm="kara"'))

    async def _list(self, query: Dict[str, List[str]]) -> Answer:
        status = query.get("status", [inbox.OPEN])[-1]
        if status not in inbox.STATUSES:
            raise ValueError(f"status: one of {', '.join(inbox.STATUSES)}")
        limit = _number(query, "limit", 100, 1, 500)
        after = _number(query, "after", 0, 0, 10**12)
        found = await inbox.tickets(self.engine, status, limit=limit, after=after)
        return _json(http.HTTPStatus.OK, {"status": status, "counts": await inbox.counts(self.engine),
                                          "tickets": [ticket_json(t) for t in found]})

    async def _one(self, ticket_id: int) -> Answer:
        found = await inbox.ticket(self.engine, ticket_id)
        if found is None:
            return _error(http.HTTPStatus.NOT_FOUND, f"no ticket #{ticket_id}")
        t, replies = found
        history = await self.gateway.storage.history(t.conversation_id, TRANSCRIPT_MESSAGES)
        transcript = [{"sender": m.sender, "text": m.text, "agent_name": m.agent_name, "created_at": iso(m.created_at)}
                      for m in history]
        return _json(http.HTTPStatus.OK, {"ticket": ticket_json(t), "replies": [reply_json(r) for r in replies],
                                          "transcript": transcript})

    async def _reply(self, agent: AgentRecord, ticket_id: int, data: Dict[str, Any]) -> Answer:
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError('send {"text": "your reply"}')
        text = text.strip()
        if len(text) > MAX_REPLY_CHARS:
            raise ValueError(f"a reply has at most {MAX_REPLY_CHARS} characters ({len(text)} given)")
        found = await inbox.ticket(self.engine, ticket_id)
        if found is None:
            return _error(http.HTTPStatus.NOT_FOUND, f"no ticket #{ticket_id}")
        t = found[0]
        if t.status == inbox.CLOSED:
            return _error(http.HTTPStatus.CONFLICT, f"ticket #{ticket_id} is closed")
        reply_id = await inbox.add_reply(self.engine, t, agent.id, text)  # kept whatever the mail server says
        subject, body = reply_mail(t, agent.name, text)
        error: Optional[str] = None
        try:
            await self.mailer.send(t.email, subject, body)
        except MailError as exc:
            error = str(exc)
            await inbox.reply_failed(self.engine, reply_id, error)
        else:
            await inbox.reply_sent(self.engine, t.id, reply_id, agent.id)
        after = await inbox.ticket(self.engine, ticket_id)
        assert after is not None
        (reply,) = [r for r in after[1] if r.id == reply_id]
        answer = {"sent": error is None, "reply": reply_json(reply), "ticket": ticket_json(after[0])}
        if error is not None:
            logger.warning("ticket #%s: reply %s kept, not sent", ticket_id, reply_id)
            return _json(http.HTTPStatus.BAD_GATEWAY, {**answer, "error": error + " (the reply is kept; try again)"})
        return _json(http.HTTPStatus.OK, answer)

    async def _close(self, ticket_id: int) -> Answer:
        if await inbox.ticket(self.engine, ticket_id) is None:
            return _error(http.HTTPStatus.NOT_FOUND, f"no ticket #{ticket_id}")
        if not await inbox.close(self.engine, ticket_id):
            return _error(http.HTTPStatus.CONFLICT, f"ticket #{ticket_id} is closed already")
        found = await inbox.ticket(self.engine, ticket_id)
        assert found is not None
        return _json(http.HTTPStatus.OK, {"ticket": ticket_json(found[0])})

    async def _ratings(self, agent: AgentRecord, query: Dict[str, List[str]]) -> Answer:
        found, summary = await inbox.ratings(self.engine, agent.id, limit=_number(query, "limit", 50, 1, 500))
        return _json(http.HTTPStatus.OK, {"summary": summary, "ratings": [
            {"conversation_id": r.conversation_id, "queue": r.queue, "reason": r.reason, "score": r.score,
             "comment": r.comment, "closed_at": iso(r.closed_at)} for r in found]})
