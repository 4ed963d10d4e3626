"""The agent desk in Debian's Chromium against a real ``python -m handoff serve``
(Rasa on a closed port: the gateway hands ``/request_human`` off by itself):
canned replies from the composer's ``/`` menu reach the shopper with the
policy's facts, labels on a chat, and the supervisors' admin page (agents,
canned replies, audit log), which refuses a plain agent and keeps markup as text."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import yaml
from playwright.sync_api import expect
from websockets.sync.client import ClientConnection, connect

from actions.policy import load_policy
from handoff.auth import SHOPPER, TokenSigner
from handoff.ops import db
from tests.handoff.helpers import GatewayProcess
from tests.ops.conftest import migrate
from tests.ops.gateways import PASSWORD, create_agent, running
from tests.ops.seed import STAFFED_OPS, History, at

from .conftest import watch
from .pages import Console

pytestmark = pytest.mark.timeout(180)
MARKUP = '<img src=x onerror="alert(1)">Bola'
SECRET = "ops-test-secret"  # tests/ops/gateways.py serve()


def past_conversations(url: str) -> None:
    """cold: an earlier chat of the shopper of cnow (the same verified order); cnow's
    first handoff (by the assistant) carried that order."""
    engine = db.engine(url)
    order = {"order_number": "KH-204518", "order_verified": True}
    try:
        with engine.begin() as connection:
            s = History(connection)
            s.conversation("cold", at(3, 9))
            s.message("cold", "shopper", "My blender arrived broken", at(3, 9, 1))
            s.message("cold", "agent", "Sorry! We will replace it.", at(3, 9, 5))
            s.stint("cold", "general", "requested_human", at(3, 9, 2), closed=600, outcome="closed", context=order)
            s.conversation("cnow", at(20, 9))
            s.message("cnow", "shopper", "hello again", at(20, 9, 1))
            s.stint("cnow", "general", "requested_human", at(20, 9, 2), closed=60, outcome="handed_back", context=order)
    finally:
        engine.dispose()


@pytest.fixture
def desk_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate(url)
    past_conversations(url)
    create_agent(url, "sade", "Sade Bello", role="supervisor")
    create_agent(url, "tunde", "Tunde Ola")
    ops_file = tmp_path / "ops.yml"
    ops_file.write_text(yaml.safe_dump(STAFFED_OPS), encoding="utf-8")  # queues at any hour the tests run
    yield from running(url, tmp_path / "gateway.log", ops_file)


def waiting_shopper(gateway: GatewayProcess, conversation: Optional[str] = None) -> ClientConnection:
    """A shopper whose chat waits for a person (a new one, or ``conversation`` resumed)."""
    ws = connect(gateway.ws_url + "/ws/shopper", open_timeout=10)
    hello: Dict[str, Any] = {"type": "hello", "v": 1}
    if conversation:
        hello["token"] = TokenSigner(SECRET).issue(SHOPPER, conversation, 600)
    ws.send(json.dumps(hello))
    frames = [json.loads(ws.recv(10))]
    ws.send(json.dumps({"type": "message", "text": "/request_human"}))
    while not (frames[-1].get("type") == "state" and frames[-1].get("state") == "waiting"):
        frames.append(json.loads(ws.recv(10)))
    return ws


def agent_text(ws: ClientConnection) -> str:
    """The next agent message the shopper receives."""
    while True:
        frame: Dict[str, Any] = json.loads(ws.recv(10))
        if frame.get("type") == "message" and frame.get("sender") == "agent":
            return str(frame["text"])


def test_slash_offers_canned_replies_in_the_composer(desk_gateway: GatewayProcess, new_context,
                                                    screenshots_dir: Path) -> None:
    facts = load_policy().template_vars()
    shopper = waiting_shopper(desk_gateway)
    page = new_context().new_page()
    errors: List[str] = []
    watch(page, errors)
    console = Console(page).login(desk_gateway.url, "tunde", PASSWORD)
    console.claim(console.queues.locator(".c-entry").first)
    box = console.active_panel().get_by_role("textbox", name="Reply to the shopper")
    menu = console.active_panel().get_by_role("listbox", name="Canned replies")

    box.press_sequentially("/")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("option")).to_have_count(7)  # the seeded defaults (handoff/desk/canned_defaults.yml)
    page.screenshot(path=str(screenshots_dir / "console-canned.png"))
    box.press_sequentially("ref")
    expect(menu.get_by_role("option")).to_have_count(1)
    expect(menu.get_by_role("option").first).to_contain_text("/refund")
    expect(menu.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    box.press("Enter")  # inserts, does not send
    expect(menu).to_be_hidden()
    inserted = box.input_value()
    assert facts["refund_processing_time"] in inserted and "{" not in inserted
    box.press("Enter")  # now it is sent
    assert agent_text(shopper) == inserted
    console.expect_in_transcript("agent", facts["refund_processing_time"])

    # the middle of a sentence, arrow keys and a click; Escape leaves the text alone
    box.press_sequentially("Hello! /p")
    expect(menu.get_by_role("option")).to_have_count(1)
    menu.get_by_role("option").first.click()
    assert box.input_value().startswith("Hello! ") and facts["phone"] in box.input_value()
    box.fill("")
    box.press_sequentially("/")
    box.press("ArrowDown")
    second = menu.get_by_role("option").nth(1)
    expect(second).to_have_attribute("aria-selected", "true")
    assert box.get_attribute("aria-activedescendant") == second.get_attribute("id")
    box.press("Escape")
    expect(menu).to_be_hidden()
    box.fill("")
    box.press_sequentially("/zzz")
    expect(console.active_panel().get_by_text("No canned reply starts with /zzz.")).to_be_visible()
    box.press("Enter")  # nothing to insert: the composer sends what was typed
    assert agent_text(shopper) == "/zzz"

    # labels on the chat, in its context panel
    panel = console.active_panel()
    panel.get_by_label("Add a label").fill("Refund")
    panel.get_by_role("button", name="Add", exact=True).click()
    labels = panel.get_by_role("list", name="Labels of this chat")
    expect(labels.get_by_role("listitem")).to_have_text(["refund×"])
    panel.get_by_label("Add a label").fill("<b>x</b>")
    panel.get_by_role("button", name="Add", exact=True).click()
    expect(panel.get_by_role("alert")).to_contain_text("label: 1-32 characters")
    panel.get_by_role("button", name="Remove label refund").click()
    expect(labels.get_by_role("listitem")).to_have_count(0)
    expect(panel.get_by_text("No labels yet.")).to_be_visible()
    assert errors == []
    shopper.close()


def sign_in_admin(page, base_url: str, username: str) -> None:
    page.goto(base_url + "/console/admin")
    expect(page.get_by_role("heading", name="Supervisor sign-in")).to_be_visible()
    form = page.locator("#login-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()


def test_the_admin_page_for_supervisors(desk_gateway: GatewayProcess, new_context, screenshots_dir: Path) -> None:
    facts = load_policy().template_vars()
    page = new_context(viewport={"width": 1280, "height": 1400}).new_page()
    errors: List[str] = []
    watch(page, errors)
    outside: List[str] = []
    page.on("request", lambda r: None if r.url.startswith(desk_gateway.url) else outside.append(r.url))
    sign_in_admin(page, desk_gateway.url, "sade")
    agents = page.locator("#agents tbody tr")
    expect(agents).to_have_count(2)

    # add an agent (whose name is markup: it stays text), who signs in to the console
    form = page.locator("#new-agent")
    form.get_by_label("Username").fill("bola")
    form.get_by_label("Name", exact=True).fill(MARKUP)
    form.get_by_label("Password").fill("a long password")
    form.get_by_label("Chats at once").fill("4")
    form.get_by_role("button", name="Add agent").click()
    expect(page.get_by_role("status")).to_have_text(f"Added {MARKUP}.")
    row = page.locator('#agents tr[data-username="bola"]')
    expect(row.locator("td").first).to_have_text(MARKUP)
    expect(row.get_by_label(f"Chats at once for {MARKUP}")).to_have_value("4")
    bola = new_context().new_page()
    Console(bola).login(desk_gateway.url, "bola", "a long password")

    # capacity and role of tunde
    tunde = page.locator('#agents tr[data-username="tunde"]')
    tunde.get_by_label("Chats at once for Tunde Ola").fill("5")
    tunde.get_by_role("button", name="Save Tunde Ola").click()
    expect(page.get_by_role("status")).to_have_text("Saved Tunde Ola.")
    expect(tunde.get_by_label("Chats at once for Tunde Ola")).to_have_value("5")

    # disabling bola closes their console at once
    row.get_by_role("button", name=f"Disable {MARKUP}").click()
    expect(row.locator("td").nth(4)).to_have_text("Disabled")
    expect(bola.get_by_role("heading", name="Agent sign-in")).to_be_visible()
    bola.get_by_label("Username").fill("bola")
    bola.get_by_label("Password").fill("a long password")
    bola.get_by_role("button", name="Sign in").click()
    expect(bola.get_by_text("Wrong username or password.")).to_be_visible()

    # canned replies: add one naming a policy fact, a bad one is refused with the reason, edit, delete
    canned = page.locator("#new-canned")
    canned.get_by_label("Shortcut").fill("late")
    canned.get_by_label("Title").fill("Late delivery")
    canned.get_by_label("Text").fill("Sorry! We reply within {refund_window}.")
    canned.get_by_role("button", name="Add canned reply").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved: text: {refund_window} is not a policy fact")
    canned.get_by_label("Text").fill("Sorry! We reply within {general_response_time}.")
    canned.get_by_role("button", name="Add canned reply").click()
    expect(page.get_by_role("status")).to_have_text("Added /late.")
    late = page.locator('#canned li[data-shortcut="late"]')
    expect(late.locator(".a-preview")).to_have_text(f"Sorry! We reply within {facts['general_response_time']}.")
    late.get_by_label("Text of /late").fill("Call {phone}.")
    late.get_by_role("button", name="Save /late").click()
    expect(page.get_by_role("status")).to_have_text("Saved /late.")
    expect(page.locator('#canned li[data-shortcut="late"] .a-preview')).to_have_text(f"Call {facts['phone']}.")
    page.locator('#canned li[data-shortcut="late"]').get_by_role("button", name="Delete /late").click()
    expect(page.get_by_role("status")).to_have_text("Deleted /late.")
    expect(page.locator('#canned li[data-shortcut="late"]')).to_have_count(0)

    # the audit log: every change, newest first, who and what
    audit = page.locator("#audit tbody tr")
    expect(audit).to_have_count(6)
    expect(audit.locator("td:nth-child(3)")).to_have_text([
        "Deleted canned reply", "Edited canned reply", "Added canned reply", "Changed agent", "Changed agent",
        "Added agent"])
    expect(audit.locator("td:nth-child(2)").first).to_have_text("Sade Bello")
    expect(audit.nth(4).locator("td").nth(4)).to_have_text("capacity: 3 → 5")
    expect(audit.nth(3).locator("td").nth(3)).to_have_text("bola")
    page.screenshot(path=str(screenshots_dir / "admin.png"), full_page=True)
    assert errors == [] and outside == []

    # a plain agent is refused
    other = new_context().new_page()
    sign_in_admin(other, desk_gateway.url, "tunde")
    expect(other.get_by_role("alert")).to_have_text("The admin page is for supervisors.")
    expect(other.locator("#admin")).to_be_hidden()
    csp = other.request.get(desk_gateway.url + "/console/admin").headers["content-security-policy"]
    assert re.search(r"script-src 'self'", csp)


def test_past_conversations_and_search_across_transcripts(desk_gateway: GatewayProcess, new_context) -> None:
    shopper = waiting_shopper(desk_gateway, "cnow")
    context = new_context()
    page = context.new_page()
    errors: List[str] = []
    watch(page, errors)
    console = Console(page).login(desk_gateway.url, "tunde", PASSWORD)
    panel = console.claim(console.card("cnow"))
    past = panel.get_by_role("list", name="Past conversations of this shopper")
    expect(past.get_by_role("listitem")).to_have_count(1)
    expect(past.get_by_role("listitem")).to_contain_text("verified order KH-204518")

    with context.expect_page() as opened:
        past.get_by_role("link").click()
    history = opened.value
    watch(history, errors)
    # signed in already: the console's session came along with the new tab
    expect(history.get_by_role("heading", name=re.compile("^Conversation of 2026-11-03"))).to_be_visible()
    transcript = history.get_by_role("list", name="Transcript")
    expect(transcript.get_by_role("listitem")).to_have_count(2)
    expect(transcript.get_by_role("listitem").first).to_contain_text("My blender arrived broken")

    history.get_by_label("Search transcripts").fill("BLEND")
    history.get_by_role("button", name="Search").click()
    results = history.locator("#results > li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Shopper: My blender arrived broken")
    history.get_by_label("Search transcripts").fill("hello again")
    history.get_by_role("button", name="Search").click()
    expect(results).to_have_count(1)
    expect(results.first).to_have_attribute("data-conversation", "cnow")
    history.get_by_label("Search transcripts").fill("nothing like this")
    history.get_by_role("button", name="Search").click()
    expect(history.get_by_text("Nothing found for those words.")).to_be_visible()
    assert errors == []
    shopper.close()
