"""The widget's "Previous conversations" in Debian's Chromium against a real
``python -m handoff serve`` (Rasa on a closed port: the gateway hands
``/request_human`` off by itself): two conversations in one browser are both
listed and the ended one reads back without the agent's private note; another
browser sees none of them. The widget's browser id reaches the agents: the
second conversation's past conversations name the first, "same browser"."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from playwright.sync_api import expect
from websockets.sync.client import ClientConnection, connect

from tests.handoff.helpers import GatewayProcess
from tests.ops.gateways import login, request

from .conftest import watch
from .pages import Widget
from .staffed import staffed_gateway

pytestmark = pytest.mark.timeout(180)
NOTE = "NOTE-ONLY-FOR-AGENTS"


@pytest.fixture
def history_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    yield from staffed_gateway(tmp_path, [("tunde", "Tunde Ola")])


def agent_socket(gateway: GatewayProcess, token: str) -> ClientConnection:
    ws = connect(gateway.ws_url + "/ws/agent", open_timeout=10)
    ws.send(json.dumps({"type": "hello", "v": 1, "token": token}))
    assert json.loads(ws.recv(10))["type"] == "welcome"
    return ws


def until(ws: ClientConnection, **match: Any) -> Dict[str, Any]:
    while True:
        frame: Dict[str, Any] = json.loads(ws.recv(10))
        if all(frame.get(k) == v for k, v in match.items()):
            return frame


def test_previous_conversations_in_this_browser_only(history_gateway: GatewayProcess, new_context,
                                                     screenshots_dir: Path) -> None:
    gw = history_gateway
    page = new_context().new_page()
    errors: List[str] = []
    watch(page, errors)
    token = login(gw.url, "tunde")
    agent = agent_socket(gw, token)  # online: the chat waits for a person (no "leave a message")
    w = Widget(page).goto(gw.url).open()
    w.quick_replies.get_by_role("button", name="Talk to a person").click()
    expect(w.subtitle).to_have_text("Waiting for a person", timeout=20_000)
    w.send("My blender arrived broken")
    expect(w.page.locator(".kw-from-shopper .kw-meta").last).not_to_have_text("Sending…", timeout=10_000)
    first = w.conversation_id()
    agent.send(json.dumps({"type": "claim", "conversation_id": first}))
    until(agent, type="claimed")
    agent.send(json.dumps({"type": "note", "conversation_id": first, "text": NOTE}))
    agent.send(json.dumps({"type": "message", "conversation_id": first, "text": "Sorry! We will replace it."}))
    w.expect_message("agent", "Sorry! We will replace it.")
    agent.send(json.dumps({"type": "close", "conversation_id": first}))
    page.get_by_role("button", name="Start a new conversation").click()
    w.send("Do you sell glucose strips?")
    expect(w.page.locator(".kw-from-shopper .kw-meta").last).not_to_have_text("Sending…", timeout=10_000)
    second = w.conversation_id()
    assert second != first

    page.get_by_role("button", name="Previous conversations").click()
    items = page.locator(".kw-hist-item")
    expect(items).to_have_count(2)  # this browser's two, the newest first
    expect(items.nth(0)).to_contain_text("Do you sell glucose strips?")
    expect(items.nth(0)).to_contain_text("This conversation")
    expect(items.nth(1)).to_contain_text("My blender arrived broken")
    expect(items.nth(1)).to_contain_text("Ended")
    items.nth(1).click()
    transcript = page.locator(".kw-hist-transcript")
    expect(transcript).to_contain_text("Sorry! We will replace it.")
    expect(transcript).to_contain_text("My blender arrived broken")
    # a button payload shows as the button's title
    expect(transcript.locator(".kw-hist-shopper").first).to_contain_text("Talk to a person")
    expect(transcript).not_to_contain_text(NOTE)  # a private note never reaches a shopper
    page.screenshot(path=str(screenshots_dir / "widget-history.png"))
    page.get_by_role("button", name="Back to the list").click()
    expect(items).to_have_count(2)
    page.get_by_role("button", name="Back to the chat").click()
    expect(w.input).to_be_visible()
    assert NOTE not in page.content()

    # the agents: the second conversation is the same browser's as the first
    status, _, body = request(gw.url, f"/api/conversations/{second}/related", token)
    assert status == 200 and json.loads(body)["conversations"][0]["reasons"] == ["same browser"]
    assert json.loads(body)["conversations"][0]["conversation_id"] == first

    other = new_context().new_page()  # another browser
    w2 = Widget(other).goto(gw.url).open()
    w2.send("hello")
    expect(other.locator(".kw-from-shopper .kw-meta").last).not_to_have_text("Sending…", timeout=10_000)
    expect(other.get_by_role("button", name="Previous conversations")).to_be_hidden()
    stored = other.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('kara-chat-past:'))"
                            ".map(k => JSON.parse(localStorage.getItem(k)).length)")
    assert stored == [1]  # its own conversation only
    assert errors == []
