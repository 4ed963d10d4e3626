"""Private notes in Debian's Chromium against a real ``python -m handoff serve``
(Rasa on a closed port: the gateway hands ``/request_human`` off by itself).
An agent writes a note with the composer's "Note" toggle and another with a
transfer; both show as "Private note" to the agents (the next owner too), and
the shopper's widget, whose every websocket frame is recorded across a reload
(resume), never receives either."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, List

import pytest
import yaml
from playwright.sync_api import expect

from tests.handoff.helpers import GatewayProcess
from tests.ops.conftest import migrate
from tests.ops.gateways import PASSWORD, create_agent, running
from tests.ops.seed import STAFFED_OPS

from .conftest import watch
from .pages import Console, Widget

pytestmark = pytest.mark.timeout(180)
NOTE = "Refund issued 28 Nov, ref RF-118"
HANDOVER = "Asked twice for a supervisor"


@pytest.fixture
def notes_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate(url)
    create_agent(url, "tunde", "Tunde Ola")
    create_agent(url, "sade", "Sade Bello")
    ops_file = tmp_path / "ops.yml"
    ops_file.write_text(yaml.safe_dump(STAFFED_OPS), encoding="utf-8")  # queues at any hour the tests run
    yield from running(url, tmp_path / "gateway.log", ops_file)


def record_frames(page, into: List[str]) -> None:
    """Every websocket frame the page receives, whatever socket (reconnects and reloads included)."""
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: into.append(str(payload))))


def test_private_notes_reach_agents_never_the_shopper(notes_gateway: GatewayProcess, new_context,
                                                      screenshots_dir: Path) -> None:
    page = new_context(viewport={"width": 1366, "height": 800}).new_page()
    errors: List[str] = []
    watch(page, errors)
    console = Console(page).login(notes_gateway.url, "tunde", PASSWORD)
    shopper_page = new_context().new_page()
    received: List[str] = []
    record_frames(shopper_page, received)
    widget = Widget(shopper_page).goto(notes_gateway.url).open()
    widget.send("/request_human")
    panel = console.claim(console.queues.locator(".c-entry").first)
    widget.expect_message("system", "Tunde Ola joined the chat")

    toggle = panel.get_by_role("button", name="Note", exact=True)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    box = panel.get_by_role("textbox", name="Private note (agents only)")
    box.fill(NOTE)
    expect(panel.get_by_role("button", name="Add note")).to_be_visible()
    box.press("Enter")
    note = panel.locator(".c-from-note").filter(has_text=NOTE)
    expect(note).to_be_visible()
    expect(note.locator(".c-msg-who")).to_have_text("Private note · You")
    expect(toggle).to_have_attribute("aria-pressed", "false")  # the next line goes to the shopper again
    page.screenshot(path=str(screenshots_dir / "console-note.png"))
    console.reply("Let me check that for you")
    widget.expect_message("agent", "Let me check that for you")

    shopper_page.reload()  # resume: the history comes again
    Widget(shopper_page).open().expect_message("agent", "Let me check that for you")

    panel.get_by_label("Private note for the next agent").fill(HANDOVER)
    panel.get_by_role("combobox", name="Transfer to queue").select_option("security")
    panel.get_by_role("button", name="Transfer").click()
    widget.expect_message("system", "transferred your chat to the security queue")

    other = new_context(viewport={"width": 1366, "height": 800}).new_page()
    watch(other, errors)
    second = Console(other).login(notes_gateway.url, "sade", PASSWORD)
    chat = second.claim(second.queues.locator(".c-entry").first)
    notes = chat.locator(".c-from-note")
    expect(notes).to_have_count(2)
    expect(notes.nth(0)).to_contain_text("Private note · Tunde Ola")
    expect(notes.nth(0)).to_contain_text(NOTE)
    expect(notes.nth(1)).to_contain_text(HANDOVER)
    second.reply("I am the supervisor on duty")
    widget.expect_message("agent", "I am the supervisor on duty")

    shopper_text = " ".join(Widget(shopper_page).messages.all_inner_texts())
    assert NOTE not in shopper_text and HANDOVER not in shopper_text
    frames = [json.loads(f) for f in received if f.startswith("{")]
    assert any(f.get("type") == "welcome" and f.get("history") for f in frames)  # the resume was recorded
    assert not [f for f in received if NOTE in f or HANDOVER in f or '"note"' in f]
    assert errors == []


def test_agents_see_the_shopper_leave_and_come_back(notes_gateway: GatewayProcess, new_context,
                                                    screenshots_dir: Path) -> None:
    page = new_context(viewport={"width": 1366, "height": 800}).new_page()
    errors: List[str] = []
    watch(page, errors)
    console = Console(page).login(notes_gateway.url, "tunde", PASSWORD)
    shoppers = new_context()
    shopper_page = shoppers.new_page()
    widget = Widget(shopper_page).goto(notes_gateway.url).open()
    widget.send("/request_human")
    card = console.queues.locator(".c-entry").first
    expect(card).to_be_visible()
    expect(card.get_by_text("Shopper left")).to_have_count(0)

    shopper_page.close()  # the shopper's only tab goes
    expect(card.get_by_text("Shopper left")).to_be_visible()
    panel = console.claim(card)
    head = panel.locator(".c-pane-head")
    expect(head.get_by_text("Shopper left")).to_be_visible()
    page.screenshot(path=str(screenshots_dir / "console-shopper-left.png"))

    again = shoppers.new_page()  # same browser storage: the chat resumes
    Widget(again).goto(notes_gateway.url).open().expect_message("system", "Tunde Ola joined the chat")
    expect(head.get_by_text("Shopper left")).to_have_count(0)
    again.close()
    expect(head.get_by_text("Shopper left")).to_be_visible()
    assert errors == []


def test_widget_shows_seen_when_the_agent_has_the_chat_in_front(notes_gateway: GatewayProcess, new_context,
                                                                screenshots_dir: Path) -> None:
    page = new_context(viewport={"width": 1366, "height": 800}).new_page()
    errors: List[str] = []
    watch(page, errors)
    console = Console(page).login(notes_gateway.url, "tunde", PASSWORD)
    shoppers = new_context()
    shopper_page = shoppers.new_page()
    widget = Widget(shopper_page).goto(notes_gateway.url).open()
    widget.send("/request_human")
    console.claim(console.queues.locator(".c-entry").first)
    widget.expect_message("system", "Tunde Ola joined the chat")
    widget.send("My parcel never came")
    console.expect_in_transcript("shopper", "My parcel never came")
    seen = shopper_page.locator(".kw-from-shopper .kw-seen")
    expect(seen).to_have_count(1)
    expect(shopper_page.locator(".kw-from-shopper").filter(has_text="My parcel never came").locator(".kw-seen")) \
        .to_have_text("Seen")
    widget.send("Order KH-204518")
    console.expect_in_transcript("shopper", "KH-204518")
    last = shopper_page.locator(".kw-from-shopper").filter(has_text="KH-204518")
    expect(last.locator(".kw-seen")).to_be_visible()
    expect(seen).to_have_count(1)  # only under the last message read
    shopper_page.screenshot(path=str(screenshots_dir / "widget-seen.png"))

    # the agent's page is hidden: the next message is not marked seen
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    widget.send("Hello?")
    console.expect_in_transcript("shopper", "Hello?")
    page.wait_for_timeout(500)
    expect(shopper_page.locator(".kw-from-shopper").filter(has_text="Hello?").locator(".kw-seen")).to_have_count(0)
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    expect(shopper_page.locator(".kw-from-shopper").filter(has_text="Hello?").locator(".kw-seen")).to_be_visible()

    shopper_page.reload()  # receipts are not stored: the console sends it again when the shopper is back
    back = Widget(shopper_page).open()
    back.expect_message("shopper", "Hello?")
    expect(shopper_page.locator(".kw-from-shopper").filter(has_text="Hello?").locator(".kw-seen")).to_be_visible()
    assert errors == []
