"""The shopper's own earlier conversations: the widget's "Previous conversations".

The widget keeps the resume token of every conversation this browser had
(``localStorage``, per gateway and line); these routes answer only for those
tokens. A token is signed for one conversation (:mod:`handoff.auth`), so a
token reads its own conversation and nothing else. Tokens travel in a POST
body, never in a URL (URLs end up in logs). CORS "simple" requests
(``text/plain`` body, no custom header) as ``POST /api/transcript-email``:
a browser Origin must be one the websockets accept, and gets
``Access-Control-Allow-Origin``.

* ``POST /api/shopper/conversations`` ``{"tokens": [token, ...]}`` (at most
  :data:`MAX_TOKENS`) -> 200 ``{"conversations": [{"conversation_id",
  "created_at", "last_at", "line", "state": bot|waiting|agent|closed,
  "first_line", "messages"}]}``, newest first, for the valid tokens only
  (``first_line``: the shopper's first typed message, else the first
  message; ``messages``: how many the shopper can read). An invalid or
  expired token is left out, never an error: a browser keeps old ones.
* ``POST /api/shopper/transcript`` ``{"token"}`` -> 200 ``{"conversation":
  {"id", "created_at", "line", "state"}, "messages": [message frame...]}``:
  the last :data:`MESSAGES` messages as the shopper's ``welcome.history``
  gives them (private notes never; PROTOCOL.md "Private notes").

400 a body that is not that JSON (or too many tokens), 401 a transcript
token that is not a valid shopper token, 403 a foreign Origin, 405 not POST.
"""
from __future__ import annotations

import http
import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from sqlalchemy import and_, func, select

from .. import frames, models
from ..auth import SHOPPER as SHOPPER_TOKEN
from ..http_answers import Answer, allow_origin, error, json_answer
from ..web import origin_allowed
from . import audit

if TYPE_CHECKING:
    from ..service import Gateway

LIST, TRANSCRIPT = "/api/shopper/conversations", "/api/shopper/transcript"
MAX_TOKENS = 20  # the widget keeps this many; 20 tokens fit the port's 4 KiB body
MESSAGES = 200  # as the widget's welcome.history
FIRST_LINE = 120

conversations_t = models.table_of(models.Conversation)
messages_t = models.table_of(models.Message)


def first_lines(rows: List[Tuple[str, str, str]]) -> Dict[str, str]:
    """(conversation id, sender, text) oldest first -> the line a shopper recognises the
    conversation by: their first typed message (a button's ``/payload`` is not typed)."""
    found: Dict[str, str] = {}
    fallback: Dict[str, str] = {}
    for cid, sender, text in rows:
        flat = " ".join(text.split())
        if flat and cid not in fallback and not flat.startswith("/"):
            fallback[cid] = flat
        if sender == "shopper" and cid not in found and flat and not flat.startswith("/"):
            found[cid] = flat
    merged = {**fallback, **found}
    return {cid: (t if len(t) <= FIRST_LINE else t[:FIRST_LINE - 1].rstrip() + "…") for cid, t in merged.items()}


class ShopperHistoryRoutes:
    """The routes of the module docs, for one gateway."""

    def __init__(self, gateway: "Gateway") -> None:
        self.gateway = gateway

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        path = raw_path.partition("?")[0]
        if path not in (LIST, TRANSCRIPT):
            return None
        origin = headers.get("Origin") if headers is not None else None
        host = headers.get("Host") if headers is not None else None
        if not origin_allowed(origin, host, tuple(self.gateway.config.allowed_origins)):
            return error(http.HTTPStatus.FORBIDDEN, "this Origin may not use the chat")
        cors = allow_origin(origin)
        if method != "POST":
            return error(http.HTTPStatus.METHOD_NOT_ALLOWED, "use POST", ("Allow", "POST"), *cors)
        try:
            data = json.loads((body or b"").decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if path == LIST:
            tokens = data.get("tokens") if isinstance(data, dict) else None
            if not isinstance(tokens, list) or len(tokens) > MAX_TOKENS:
                return error(http.HTTPStatus.BAD_REQUEST, f'send {{"tokens": [up to {MAX_TOKENS} tokens]}}', *cors)
            return json_answer(http.HTTPStatus.OK, {"conversations": await self.listed(tokens)}, *cors)
        token = data.get("token") if isinstance(data, dict) else None
        cid = self._conversation(token)
        if cid is None:
            return error(http.HTTPStatus.UNAUTHORIZED, "this conversation token is not valid", *cors)
        return json_answer(http.HTTPStatus.OK, await self.transcript(cid), *cors)

    def _conversation(self, token: Any) -> Optional[str]:
        claims = self.gateway.signer.verify(token, SHOPPER_TOKEN) if isinstance(token, str) else None
        return claims.subject if claims is not None else None

    async def listed(self, tokens: List[Any]) -> List[Dict[str, Any]]:
        cids = sorted({cid for cid in map(self._conversation, tokens) if cid is not None})
        if not cids:
            return []
        c, m = conversations_t, messages_t
        shown = and_(m.c.conversation_id.in_(cids), m.c.sender != "note")  # notes are the agents'
        async with self.gateway.storage.engine.connect() as connection:
            started = (await connection.execute(select(c.c.id, c.c.created_at, c.c.line).where(c.c.id.in_(cids)))).all()
            counts = {row[0]: (row[1], row[2]) for row in await connection.execute(
                select(m.c.conversation_id, func.count(), func.max(m.c.created_at)).where(shown)
                .group_by(m.c.conversation_id))}
            # the first few messages of each are enough to find its first line
            early = select(m.c.conversation_id, m.c.sender, m.c.text, m.c.seq,
                           func.row_number().over(partition_by=m.c.conversation_id, order_by=m.c.seq).label("n")
                           ).where(shown).subquery()
            lines = first_lines([(r[0], r[1], r[2]) for r in await connection.execute(
                select(early.c.conversation_id, early.c.sender, early.c.text).where(early.c.n <= 20)
                .order_by(early.c.conversation_id, early.c.seq))])
        found = []
        for cid, created_at, line in started:
            count, last = counts.get(cid, (0, None))
            found.append({"conversation_id": cid, "created_at": audit.iso(created_at),
                          "last_at": audit.iso(last or created_at), "line": line,
                          "state": (await self.gateway.live.get(cid)).state,
                          "first_line": lines.get(cid, ""), "messages": count})
        return sorted(found, key=lambda f: f["created_at"], reverse=True)

    async def transcript(self, cid: str) -> Dict[str, Any]:
        conversation = await self.gateway.storage.conversation(cid)
        history = await self.gateway.storage.history(cid, MESSAGES)  # never notes (notes=False)
        state = (await self.gateway.live.get(cid)).state
        return {"conversation": {"id": cid, "line": conversation.line if conversation else None,
                                 "created_at": audit.iso(conversation.created_at) if conversation else None,
                                 "state": state},
                "messages": frames.messages(history)}
