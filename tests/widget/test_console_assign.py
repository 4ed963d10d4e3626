"""Assignment in the agent console (widget/console-assign.js), in Debian's
Chromium against a real ``python -m handoff serve``: the status switch and a
chat assigned automatically; a transfer the agent keeps until it is taken;
a supervisor reading a chat without joining and reassigning it. Rasa is away:
the gateway hands a request for a person off by itself."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import expect

from tests.handoff.helpers import CLOSED_RASA

from .conftest import Gateway
from .pages import Console, Widget
from .test_console_sla import supervisor

pytestmark = pytest.mark.timeout(150)


def gateway(tmp_path: Path, name: str, auto_assign: bool) -> Gateway:
    workdir = tmp_path / name
    workdir.mkdir()
    return Gateway(CLOSED_RASA, workdir, auto_assign=auto_assign).start()


@pytest.fixture
def assigning(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway that assigns waiting chats (the product's default)."""
    gw = gateway(tmp_path, "assigning", True)
    yield gw
    gw.close()


@pytest.fixture
def manual(tmp_path: Path) -> Iterator[Gateway]:
    gw = gateway(tmp_path, "manual", False)
    yield gw
    gw.close()


def waiting_shopper(new_context, base_url: str) -> Widget:
    widget = Widget(new_context().new_page()).goto(base_url).open()
    widget.send("/request_human")
    expect(widget.queue).to_be_visible()
    return widget


def test_status_switch_and_a_chat_assigned_automatically(assigning: Gateway, new_context,
                                                         screenshots_dir: Path) -> None:
    agent = assigning.create_agent("Ada Obi")
    page = new_context().new_page()
    console = Console(page).login(assigning.base_url, agent["username"], agent["password"])
    status = page.get_by_label("Your status")
    expect(status).to_have_value("online")
    status.select_option("away")
    expect(page.locator(".ca-status")).to_have_attribute("data-status", "away")

    # away: the chat waits in the queue, nobody is given it
    widget = waiting_shopper(new_context, assigning.base_url)
    card = console.card(widget.conversation_id())
    expect(card).to_be_visible()
    page.wait_for_timeout(700)  # what would have been assigned by now
    expect(console.tabs).to_have_count(0)
    page.reload()  # the status is kept
    expect(page.get_by_label("Your status")).to_have_value("away")

    # back online: the chat is assigned and opens by itself, as a claim would
    page.get_by_label("Your status").select_option("online")
    expect(console.tabs).to_have_count(1)
    expect(console.active_panel()).to_have_attribute("data-conversation", widget.conversation_id())
    expect(card).to_have_count(0)
    widget.expect_message("system", "Ada Obi joined the chat")
    console.reply("Hello, Ada here")
    widget.expect_message("agent", "Hello, Ada here")
    page.screenshot(path=str(screenshots_dir / "console-status-assigned.png"))


def test_transfer_kept_until_taken_and_supervisor_reads_without_joining(manual: Gateway, new_context,
                                                                       screenshots_dir: Path) -> None:
    boss = supervisor(manual, "Sade Bello")
    kemi = manual.create_agent("Kemi Ade")
    tolu = manual.create_agent("Tolu Ajayi")
    kemi_page = new_context().new_page()
    kemi_console = Console(kemi_page).login(manual.base_url, kemi["username"], kemi["password"])
    expect(kemi_page.get_by_role("button", name="Live chats")).to_be_hidden()  # supervisors only
    widget = waiting_shopper(new_context, manual.base_url)
    cid = widget.conversation_id()
    kemi_console.claim(kemi_console.card(cid))
    widget.expect_message("system", "Kemi Ade joined the chat")

    boss_page = new_context(viewport={"width": 1366, "height": 860}).new_page()
    Console(boss_page).login(manual.base_url, boss["username"], boss["password"])
    boss_page.get_by_role("button", name="Live chats").click()
    desk = boss_page.get_by_role("region", name="Live chats")
    row = desk.locator(f'.ca-chat[data-conversation="{cid}"]')
    expect(row).to_contain_text("With Kemi Ade")
    row.get_by_role("button", name="Read").click()
    transcript = desk.get_by_role("list", name="Transcript (read-only)")
    expect(transcript).to_contain_text("Kemi Ade joined the chat")
    # live, both ways, while the shopper and the agent see nothing of it
    widget.send("Where is my order KH-204518?")
    expect(transcript).to_contain_text("Where is my order KH-204518?")
    kemi_console.reply("Checking it now")
    expect(transcript).to_contain_text("Checking it now")
    expect(widget.page.get_by_text("Sade")).to_have_count(0)
    expect(kemi_console.transcript()).not_to_contain_text("Sade")  # (she is in the agents to transfer to)

    # the supervisor sends it to the disputes queue: Kemi keeps it until someone takes it
    row.get_by_label("Reassign to").select_option(label="Disputes queue")
    row.get_by_role("button", name="Reassign").click()
    panel = kemi_console.active_panel()
    expect(panel.locator(".ca-pending")).to_have_text(
        "Transfer pending to the Disputes queue: you keep this chat until someone takes it.")
    card = kemi_console.card(cid)
    expect(card).to_contain_text("Transfer from you")
    expect(card.get_by_role("button", name="Claim")).to_be_disabled()
    kemi_console.reply("Still here while a colleague comes")
    widget.expect_message("agent", "Still here while a colleague comes")
    expect(row).to_contain_text("transfer pending")
    boss_page.screenshot(path=str(screenshots_dir / "console-live-chats.png"))

    tolu_page = new_context().new_page()
    tolu_console = Console(tolu_page).login(manual.base_url, tolu["username"], tolu["password"])
    expect(tolu_console.card(cid)).to_contain_text("Transfer from Kemi Ade")
    tolu_console.claim(tolu_console.card(cid))
    expect(panel.get_by_text("Transferred: a colleague took over this chat.")).to_be_visible()
    widget.expect_message("system", "Tolu Ajayi joined the chat")
    expect(row).to_contain_text("With Tolu Ajayi")


def test_an_agent_offers_a_chat_to_a_colleague(manual: Gateway, new_context) -> None:
    kemi = manual.create_agent("Kemi Ade")
    tolu = manual.create_agent("Tolu Ajayi")
    kemi_page = new_context().new_page()
    kemi_console = Console(kemi_page).login(manual.base_url, kemi["username"], kemi["password"])
    widget = waiting_shopper(new_context, manual.base_url)
    cid = widget.conversation_id()
    panel = kemi_console.claim(kemi_console.card(cid))
    picker = panel.get_by_label("Transfer to agent")
    expect(picker.locator("option")).to_have_text(["No other agent online"])
    tolu_page = new_context().new_page()
    tolu_console = Console(tolu_page).login(manual.base_url, tolu["username"], tolu["password"])
    expect(picker.locator("option")).to_have_text(["Tolu Ajayi"])  # came online
    panel.get_by_role("button", name="Offer").click()
    expect(panel.locator(".ca-pending")).to_have_text(
        "Transfer pending to Tolu Ajayi: you keep this chat until someone takes it.")
    widget.expect_message("system", "Kemi Ade transferred your chat to Tolu Ajayi")
    card = tolu_console.card(cid)
    expect(card).to_contain_text("Offered to you")
    tolu_console.claim(card)
    expect(panel.get_by_text("Transferred: a colleague took over this chat.")).to_be_visible()
    widget.expect_message("system", "Tolu Ajayi joined the chat")
