"""A small stand-in for the handoff gateway, speaking protocol v1 (handoff/PROTOCOL.md).

It serves the pages exactly as the real gateway does (``/``, ``/console``,
``/emergency``, ``/widget/<file>``, ``POST /api/login``, ``/ws/shopper``,
``/ws/agent``) with a scripted assistant instead of Rasa, so the pages can be
tested in seconds and in states that are hard to reach with the real stack:
nobody online (``offline``), the gateway going away and coming back, a rate
limit. The flows that matter end to end run against the real gateway and
the trained assistant in the other test files.

Run by hand: ``python -m tests.widget.fake_gateway --port 8765``.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

from aiohttp import WSMsgType, web

WIDGET = Path(__file__).resolve().parents[2] / "widget"
QUEUES = ("emergency", "security", "disputes", "general")
PRIORITY = {"emergency": 3, "security": 2, "disputes": 1, "general": 0}
AGENT = {"username": "ada", "password": "correct horse", "id": 1, "name": "Ada Obi"}

# What the scripted assistant says. Example addresses only: the real facts come from policy.yml.
FAQ = {
    "email": "You can write to us at help@example.com and we reply within a day or two.",
    "refund": "Refunds go back to your original payment method once the vendor confirms the return.",
}
HELP_BUTTONS = [
    {"title": "Track my order", "payload": "/track_order"},
    {"title": "Talk to a person", "payload": "/request_human"},
]


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


class Conversation:
    def __init__(self, role: str, line: str) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.token = "tok-" + uuid.uuid4().hex
        self.role = role
        self.line = line
        self.state = "bot"
        self.history: List[Dict[str, Any]] = []
        self.sockets: set = set()
        self.client_ids: Dict[str, Dict[str, Any]] = {}
        self.handoff: Optional[Dict[str, Any]] = None
        self.enqueued_at: Optional[dt.datetime] = None
        self.agent: Optional[str] = None


class FakeGateway:
    def __init__(self, *, agents_online: bool = True, bot_delay: float = 0.15) -> None:
        self.conversations: Dict[str, Conversation] = {}
        self.by_token: Dict[str, Conversation] = {}
        self.agent_sockets: set = set()
        self.agents_online = agents_online
        self.bot_delay = bot_delay
        self.ids = itertools.count(1)
        self.ratings: List[Dict[str, Any]] = []
        self.tickets: List[Dict[str, Any]] = []
        self.received: List[Dict[str, Any]] = []  # every client frame, for assertions

    # -- plumbing -----------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        page = lambda name: (lambda request: web.FileResponse(WIDGET / name))  # noqa: E731
        app.router.add_get("/", page("demo.html"))
        app.router.add_get("/console", page("console.html"))
        app.router.add_get("/emergency", page("emergency.html"))
        app.router.add_static("/widget/", WIDGET)
        app.router.add_post("/api/login", self.login)
        app.router.add_get("/ws/shopper", self.shopper)
        app.router.add_get("/ws/agent", self.agent)
        return app

    async def login(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("username") == AGENT["username"] and body.get("password") == AGENT["password"]:
            return web.json_response({"token": "agent-token", "agent": {"id": AGENT["id"], "name": AGENT["name"]}})
        return web.json_response({"error": "wrong username or password"}, status=401)

    @staticmethod
    async def send(sockets, frame: Dict[str, Any]) -> None:
        text = json.dumps(frame)
        for ws in list(sockets):
            if not ws.closed:
                await ws.send_str(text)

    async def to_shopper(self, conv: Conversation, frame: Dict[str, Any]) -> None:
        await self.send(conv.sockets, frame)

    async def to_agents(self, frame: Dict[str, Any]) -> None:
        await self.send(self.agent_sockets, frame)

    def message(self, conv: Conversation, sender: str, text: str, **extra: Any) -> Dict[str, Any]:
        msg = {"type": "message", "id": str(next(self.ids)), "sender": sender, "text": text, "ts": now(), **extra}
        conv.history.append({k: v for k, v in msg.items() if k != "type"})
        return msg

    def entry(self, conv: Conversation) -> Dict[str, Any]:
        waited = (dt.datetime.now(dt.timezone.utc) - conv.enqueued_at).total_seconds()
        h = conv.handoff or {}
        return {"conversation_id": conv.id, "queue": h["queue"], "priority": PRIORITY[h["queue"]],
                "reason": h["reason"], "summary": h["summary"], "context": h["context"],
                "enqueued_at": conv.enqueued_at.isoformat(), "waited_s": round(waited)}

    def queues(self) -> Dict[str, List[Dict[str, Any]]]:
        out: Dict[str, List[Dict[str, Any]]] = {q: [] for q in QUEUES}
        for conv in self.conversations.values():
            if conv.state == "waiting" and conv.handoff:
                out[conv.handoff["queue"]].append(self.entry(conv))
        return out

    def chat(self, conv: Conversation) -> Dict[str, Any]:
        h = conv.handoff or {}
        return {"conversation_id": conv.id,
                "handoff": {k: h.get(k) for k in ("queue", "reason", "summary", "context")},
                "transcript": conv.history}

    # -- shopper endpoint ---------------------------------------------------

    async def shopper(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conv: Optional[Conversation] = None
        async for raw in ws:
            if raw.type != WSMsgType.TEXT:
                continue
            frame = json.loads(raw.data)
            self.received.append(frame)
            kind, ref = frame.get("type"), frame.get("ref")
            if conv is None:
                if kind != "hello":
                    await ws.send_json({"type": "error", "code": "not_ready", "message": "Say hello first.", "ref": ref})
                    continue
                token = frame.get("token")
                if token and token not in self.by_token:
                    await ws.send_json({"type": "error", "code": "unauthorized", "message": "Unknown token."})
                    await ws.close(code=4401)
                    break
                fresh = not token
                conv = self.by_token[token] if token else Conversation(frame.get("role", "shopper"), frame.get("line", "chat"))
                self.conversations[conv.id] = conv
                self.by_token[conv.token] = conv
                conv.sockets.add(ws)
                welcome = {"type": "welcome", "v": 1, "conversation_id": conv.id, "token": conv.token,
                           "state": conv.state, "history": conv.history}
                if conv.state == "waiting":
                    welcome["queue"] = {"queue": conv.handoff["queue"], "position": 1, "estimated_wait_s": 90}
                if conv.agent:
                    welcome["agent"] = {"name": conv.agent}
                await ws.send_json(welcome)
                if fresh and conv.line == "emergency":
                    await self.shopper_text(conv, "/provider_emergency", None)
                continue
            if kind == "message":
                text = frame.get("text", "")
                if len(text) > 2000:
                    await ws.send_json({"type": "error", "code": "too_large", "message": "Messages are limited to 2000 characters.", "ref": ref})
                    continue
                await self.shopper_text(conv, text, frame.get("client_id"))
            elif kind == "typing":
                if conv.agent:
                    await self.to_agents({"type": "typing", "conversation_id": conv.id, "who": "shopper", "on": bool(frame.get("on"))})
            elif kind == "rating":
                self.ratings.append(frame)
            elif kind == "ticket":
                self.tickets.append(frame)
                await ws.send_json({"type": "ticket_saved", "ticket_id": f"T-{len(self.tickets):04d}"})
            else:
                await ws.send_json({"type": "error", "code": "unknown_type", "message": "Unknown frame type.", "ref": ref})
        if conv is not None:
            conv.sockets.discard(ws)
        return ws

    async def shopper_text(self, conv: Conversation, text: str, client_id: Optional[str]) -> None:
        if client_id and client_id in conv.client_ids:  # an idempotent resend
            await self.to_shopper(conv, {"type": "message", **conv.client_ids[client_id]})
            return
        msg = self.message(conv, "shopper", text, **({"client_id": client_id} if client_id else {}))
        if client_id:
            conv.client_ids[client_id] = {k: v for k, v in msg.items() if k != "type"}
        await self.to_shopper(conv, msg)
        if conv.state in ("agent", "waiting"):
            if conv.agent:
                await self.to_agents({**msg, "conversation_id": conv.id})
            return
        await self.to_shopper(conv, {"type": "typing", "who": "bot", "on": True})
        await asyncio.sleep(self.bot_delay)
        await self.bot_reply(conv, text)

    async def bot_reply(self, conv: Conversation, text: str) -> None:
        low = text.lower()
        if "hack" in low or low == "/request_human" or low == "/provider_emergency":
            queue = "emergency" if low == "/provider_emergency" else "security" if "hack" in low else "general"
            reason = {"emergency": "provider emergency", "security": "account security", "general": "asked for a person"}[queue]
            await self.to_shopper(conv, self.message(conv, "bot", "I'm connecting you with a person now. Meanwhile, don't share any codes with anyone."))
            conv.handoff = {"queue": queue, "reason": reason, "summary": f"{conv.role} on the {conv.line} line: {text}",
                            "context": {"role": conv.role, "line": conv.line, "order_number": "KH-204518"}}
            if not self.agents_online and queue != "emergency":
                await self.to_shopper(conv, {"type": "offline"})
                return
            conv.state = "waiting"
            conv.enqueued_at = dt.datetime.now(dt.timezone.utc)
            await self.to_shopper(conv, {"type": "state", "state": "waiting"})
            await self.to_shopper(conv, {"type": "queue", "queue": queue, "position": 2, "estimated_wait_s": 240})
            if queue == "emergency":
                await self.to_shopper(conv, {"type": "paged"})
            await self.to_agents({"type": "handoff", "entry": self.entry(conv)})
            await self.to_agents({"type": "queues", "queues": self.queues()})
            return
        for key, answer in FAQ.items():
            if key in low:
                await self.to_shopper(conv, self.message(conv, "bot", answer))
                return
        await self.to_shopper(conv, self.message(conv, "bot", "Sorry, I didn't get that. Pick one:", buttons=HELP_BUTTONS))

    # -- agent endpoint -----------------------------------------------------

    async def agent(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        ready = False
        async for raw in ws:
            if raw.type != WSMsgType.TEXT:
                continue
            frame = json.loads(raw.data)
            self.received.append(frame)
            kind, ref = frame.get("type"), frame.get("ref")
            if not ready:
                if kind != "hello" or frame.get("token") != "agent-token":
                    await ws.send_json({"type": "error", "code": "unauthorized", "message": "Sign in again."})
                    await ws.close(code=4401)
                    break
                ready = True
                self.agent_sockets.add(ws)
                mine = [self.chat(c) for c in self.conversations.values() if c.agent == AGENT["name"] and c.state == "agent"]
                await ws.send_json({"type": "welcome", "v": 1, "agent": {"id": AGENT["id"], "name": AGENT["name"]},
                                    "queues": self.queues(), "chats": mine})
                continue
            conv = self.conversations.get(frame.get("conversation_id", ""))
            if conv is None:
                await ws.send_json({"type": "error", "code": "not_found", "message": "No such conversation.", "ref": ref})
                continue
            if kind == "claim":
                if conv.state != "waiting":
                    await ws.send_json({"type": "error", "code": "already_claimed", "message": "Claimed already.", "ref": ref})
                    continue
                conv.state, conv.agent = "agent", AGENT["name"]
                await ws.send_json({"type": "claimed", "chat": self.chat(conv)})
                await self.to_shopper(conv, {"type": "agent_joined", "agent": {"name": conv.agent}})
                await self.to_shopper(conv, {"type": "state", "state": "agent", "agent": {"name": conv.agent}})
                await self.to_agents({"type": "queues", "queues": self.queues()})
            elif kind == "message":
                msg = self.message(conv, "agent", frame["text"], agent_name=conv.agent)
                await self.to_shopper(conv, msg)
                await self.to_agents({**msg, "conversation_id": conv.id})
            elif kind == "typing":
                await self.to_shopper(conv, {"type": "typing", "who": "agent", "on": bool(frame.get("on")), "name": conv.agent})
            elif kind in ("handback", "close", "transfer"):
                conv.agent = None
                if kind == "handback":
                    conv.state = "bot"
                    await self.to_shopper(conv, {"type": "state", "state": "bot"})
                    await self.to_shopper(conv, self.message(conv, "bot", "Hi again! I'm the assistant. How else can I help?"))
                    why = "handed_back"
                elif kind == "close":
                    conv.state = "closed"
                    await self.to_shopper(conv, {"type": "state", "state": "closed"})
                    await self.to_shopper(conv, {"type": "rating_request"})
                    why = "closed"
                else:
                    conv.state = "waiting"
                    conv.handoff["queue"] = frame["queue"]
                    conv.enqueued_at = dt.datetime.now(dt.timezone.utc)
                    await self.to_shopper(conv, {"type": "state", "state": "waiting"})
                    await self.to_shopper(conv, {"type": "queue", "queue": frame["queue"], "position": 1, "estimated_wait_s": 60})
                    why = "transferred"
                await self.to_agents({"type": "chat_ended", "conversation_id": conv.id, "why": why})
                await self.to_agents({"type": "queues", "queues": self.queues()})
        self.agent_sockets.discard(ws)
        return ws


async def serve(port: int, **options: Any) -> None:
    runner = web.AppRunner(FakeGateway(**options).app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"gateway listening on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--offline", action="store_true", help="no agent is online")
    args = parser.parse_args()
    asyncio.run(serve(args.port, agents_online=not args.offline))
