"""A scripted stand-in for the Rasa server's REST channel and tracker API.

Only for running the browser tests against the real gateway when no trained
model is at hand (``KARA_WIDGET_FAKE_RASA=1``); the default is the trained
assistant from ``tests/conftest.py``'s ``rasa_stack``. Its answers take their
facts from policy.yml (actions.policy), like the real assistant, and its
handoffs use the real contract (handoff.contract), so a test's expectations
hold for both.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Dict, List

from aiohttp import web

from actions.policy import template_vars
from handoff.contract import Handoff, handoff_payload


def _handoff(queue: str, reason: str, summary: str, metadata: Dict[str, Any]) -> Dict[str, Any]:
    context = {"role": metadata.get("role", "shopper"), "line": metadata.get("line", "chat")}
    return {"custom": handoff_payload(Handoff(queue=queue, reason=reason, summary=summary, context=context))}


def replies(text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
    facts = template_vars()
    low = text.lower()
    if low in ("/greet", "hi", "hello"):
        return [{"text": "Hello! I'm the Kara Healthmall assistant. How can I help?"}]
    if "email" in low:
        return [{"text": f"You can email our support team at {facts['support_email']}."}]
    if "hack" in low:
        return [{"text": "I'm sorry. I'm passing you to our security team now. Meanwhile, change your password."},
                _handoff("security", "account security", "Shopper reports a hacked account", metadata)]
    if low == "/provider_emergency":
        return [{"text": "This is the provider emergency line. I'm alerting the on-call team now."},
                _handoff("emergency", "provider emergency", "Provider emergency", metadata)]
    if low == "/request_human" or "person" in low:
        return [{"text": "Connecting you to a person."},
                _handoff("general", "asked for a person", "Asked for a person", metadata)]
    return [{"text": "Sorry, I didn't understand. Try one of these:",
             "buttons": [{"title": "Talk to a person", "payload": "/request_human"}]}]


class FakeRasa:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = None

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(replies(str(body.get("message", "")), body.get("metadata") or {}))

    async def events(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_post("/conversations/{cid}/tracker/events", self.events)
        app.router.add_get("/", lambda r: web.Response(text="Hello from Rasa: fake"))
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def start(self) -> "FakeRasa":
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
