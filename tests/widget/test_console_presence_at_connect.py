"""A console that signs in after a waiting chat's shopper left shows "Shopper left"
on that queue card at once (the welcome's queue entries carry ``shopper_present``),
and not on the card of a shopper still there. Debian's Chromium against a real
``python -m handoff serve`` (Rasa on a closed port: the gateway hands
``/request_human`` off by itself)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, List

import pytest
from playwright.sync_api import expect
from websockets.sync.client import ClientConnection, connect

from tests.handoff.helpers import GatewayProcess
from tests.ops.gateways import PASSWORD

from .conftest import watch
from .pages import Console
from .staffed import staffed_gateway

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def presence_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    yield from staffed_gateway(tmp_path, [("tunde", "Tunde Ola")])


def waiting(gateway: GatewayProcess) -> "tuple[ClientConnection, str]":
    ws = connect(gateway.ws_url + "/ws/shopper", open_timeout=10)
    ws.send(json.dumps({"type": "hello", "v": 1}))
    cid = json.loads(ws.recv(10))["conversation_id"]
    ws.send(json.dumps({"type": "message", "text": "/request_human"}))
    while True:
        frame = json.loads(ws.recv(10))
        if frame.get("type") == "state" and frame.get("state") == "waiting":
            return ws, cid


def test_a_console_signing_in_later_sees_who_already_left(presence_gateway: GatewayProcess, new_context) -> None:
    gone, gone_id = waiting(presence_gateway)
    stays, stays_id = waiting(presence_gateway)
    gone.close()  # left while waiting, before any console was online
    page = new_context().new_page()
    errors: List[str] = []
    watch(page, errors)
    console = Console(page).login(presence_gateway.url, "tunde", PASSWORD)
    expect(console.card(gone_id).get_by_text("Shopper left")).to_be_visible()
    expect(console.card(stays_id)).to_be_visible()
    expect(console.card(stays_id).get_by_text("Shopper left")).to_have_count(0)
    stays.close()
    assert errors == []
