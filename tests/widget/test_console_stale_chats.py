"""The console's chats are the ones the gateway says the agent owns, in
Debian's Chromium against a real ``python -m handoff serve`` (Rasa away: the
gateway hands a request for a person off by itself): a chat claimed again
after it ended here opens with a reply box, not as the ended pane; after the
console was offline, a chat that went back to the queue meanwhile is shown
ended (and what was typed for it is not sent), and the shopper's messages of
that time are shown in a chat still owned."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pytest
from playwright.sync_api import expect

from .conftest import Gateway, watch
from .pages import OFFLINE_SWITCH, Console
from .test_console_assign import gateway as start_gateway
from .test_console_assign import waiting_shopper

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def manual(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway of the test's own whose chats wait until claimed (grace period 5 s)."""
    gw = start_gateway(tmp_path, "stale", False)
    yield gw
    gw.close()


def console_with_a_chat(gw: Gateway, new_context, errors: List[str]):
    """A signed-in console (its page can be taken offline) that claimed a waiting shopper's chat."""
    agent = gw.create_agent("Ada Obi")
    page = new_context().new_page()
    page.add_init_script(OFFLINE_SWITCH)
    watch(page, errors)
    console = Console(page).login(gw.base_url, agent["username"], agent["password"])
    shopper = waiting_shopper(new_context, gw.base_url)
    console.claim(console.card(shopper.conversation_id()))
    shopper.expect_message("system", "Ada Obi joined the chat")
    return console, shopper


def reply_box(console: Console):
    return console.active_panel().get_by_role("textbox", name="Reply to the shopper")


def test_a_chat_claimed_again_after_it_ended_opens_with_a_reply_box(manual, new_context) -> None:
    errors: List[str] = []
    console, shopper = console_with_a_chat(manual, new_context, errors)
    console.active_panel().get_by_role("button", name="Hand back to bot").click()
    expect(console.active_panel().get_by_text("Handed back to the assistant.")).to_be_visible()

    # Back with the assistant, the shopper asks for a person again; the ended pane is still there.
    shopper.expect_message("system", "handed you back to the assistant")
    shopper.send("/request_human")
    expect(shopper.queue).to_be_visible()
    console.claim(console.card(shopper.conversation_id()))
    expect(console.tabs).to_have_count(1)
    expect(reply_box(console)).to_be_visible()
    expect(console.active_panel().locator(".c-ended")).to_be_hidden()
    console.reply("Welcome back, how can I help?")
    shopper.expect_message("agent", "Welcome back, how can I help?")
    assert errors == []


def test_a_chat_requeued_while_the_console_was_offline_is_shown_ended(manual, new_context) -> None:
    errors: List[str] = []
    console, shopper = console_with_a_chat(manual, new_context, errors)
    console.offline(True)
    console.reply("Still checking, one moment")  # kept by the page until it is back online
    shopper.expect_message("system", "Your agent was disconnected")  # the grace period is over

    console.offline(False)
    panel = console.active_panel()
    expect(panel.locator(".c-ended")).to_contain_text("This chat is no longer yours")
    expect(reply_box(console)).to_be_hidden()
    expect(panel.locator(".c-failed")).to_contain_text("Not sent: this chat is no longer yours")
    expect(console.card(shopper.conversation_id())).to_be_visible()  # waiting again, anyone may claim it
    console.page.wait_for_timeout(500)
    expect(shopper.from_("agent")).to_have_count(0)
    assert errors == []


def test_what_the_shopper_wrote_while_the_console_was_offline_is_shown(manual, new_context) -> None:
    errors: List[str] = []
    console, shopper = console_with_a_chat(manual, new_context, errors)
    console.offline(True)
    shopper.send("Are you still there?")
    expect(shopper.page.locator(".kw-pending")).to_have_count(0)  # stored (its echo came back)

    console.offline(False)  # within the grace period: the chat is still this agent's
    console.expect_in_transcript("shopper", "Are you still there?")
    expect(reply_box(console)).to_be_visible()
    console.reply("Yes, still here")
    shopper.expect_message("agent", "Yes, still here")
    assert errors == []
