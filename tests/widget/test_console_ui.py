"""The agent console and the emergency page against the real gateway and the
trained assistant, with real agents (``python -m handoff create-agent``):
sign-in, priority order, emergency alerts (sound, flashing title), several
chats at once, transfer, hand back, reload, sign-out.

Tests that count what is waiting (or leave a chat waiting) run on a gateway
of their own (``own_gateway``), so their queues hold exactly their chats."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from actions.policy import template_vars

from .conftest import watch
from .pages import Console, Widget

pytestmark = pytest.mark.timeout(120)

FACTS = template_vars()
BOT = 30_000  # the trained assistant can take a moment on a busy machine
COUNT_TONES = """
    window.__tones = 0;
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...a) { window.__tones++; return start.apply(this, a); };
"""


def shopper_waiting(new_context, base_url, text):
    page = new_context().new_page()
    w = Widget(page).goto(base_url).open()
    w.send(text)
    expect(w.queue).to_be_visible(timeout=BOT)
    return w


def test_wrong_password_is_refused(gateway, new_context):
    page = new_context().new_page()
    page.goto(gateway.base_url + "/console")
    expect(page.get_by_role("heading", name="Agent sign-in")).to_be_visible()
    page.get_by_label("Username").fill(gateway.agent["username"])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.locator("#app-view")).to_be_hidden()


def test_queues_in_priority_order_with_emergency_alerts(own_gateway, new_context):
    agent = own_gateway.create_agent()
    page = new_context(viewport={"width": 1366, "height": 800}).new_page()
    page.add_init_script(COUNT_TONES)
    console = Console(page).login(own_gateway.base_url, agent["username"], agent["password"])
    shopper = shopper_waiting(new_context, own_gateway.base_url, "/request_human")
    general = console.card(shopper.conversation_id())
    expect(general).to_be_visible()
    expect(general.locator(".c-tag")).to_have_text(re.compile("general", re.I))
    page.wait_for_function("window.__tones > 0")  # a soft chime for an ordinary chat
    chime = page.evaluate("window.__tones")

    # An emergency arrives: it goes on top, flashes, rings and changes the title.
    provider = new_context().new_page()
    provider.goto(own_gateway.base_url + "/emergency")
    emergency = console.entry("EMERGENCY")
    expect(emergency).to_be_visible(timeout=BOT)
    expect(emergency.locator(".c-tag")).to_have_text("EMERGENCY")
    cards = page.locator(".c-entry")
    expect(cards).to_have_count(2)
    expect(cards.first).to_have_attribute("data-queue", "emergency")
    expect(cards.last).to_have_attribute("data-queue", "general")
    expect(console.emergency_banner).to_have_text("1 emergency waiting: claim it now")
    page.wait_for_function(f"window.__tones >= {chime + 6}")  # the siren: 6 tones
    titles = set()
    for _ in range(6):
        titles.add(page.title())
        page.wait_for_timeout(350)
    assert any("EMERGENCY" in t for t in titles) and any("EMERGENCY" not in t for t in titles)  # flashing
    expect(page.locator("#alert-live")).to_contain_text("Emergency!")

    # The waiting clock ticks.
    clock = emergency.locator(".c-wait")
    first = clock.inner_text()
    page.wait_for_timeout(1200)
    assert clock.inner_text() != first

    console.claim(emergency)
    expect(console.emergency_banner).to_be_hidden()
    page.wait_for_function("!document.title.includes('EMERGENCY')")
    expect(page.get_by_role("tab", name=re.compile("Emergency"))).to_have_attribute("aria-selected", "true")


def test_sound_can_be_switched_off(own_gateway, new_context):
    agent = own_gateway.create_agent()
    page = new_context().new_page()
    page.add_init_script(COUNT_TONES)
    Console(page).login(own_gateway.base_url, agent["username"], agent["password"])
    toggle = page.get_by_role("button", name="Sound on")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(page.get_by_role("button", name="Sound off")).to_have_attribute("aria-pressed", "false")
    shopper_waiting(new_context, own_gateway.base_url, "/request_human")
    expect(page.locator(".c-entry")).to_have_count(1)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__tones") == 0


def test_several_chats_at_once_transfer_and_hand_back(own_gateway, new_context):
    agent = own_gateway.create_agent()
    a = shopper_waiting(new_context, own_gateway.base_url, "my account was hacked")
    b = shopper_waiting(new_context, own_gateway.base_url, "/request_human")
    page = new_context(viewport={"width": 1366, "height": 800}).new_page()
    errors = []
    watch(page, errors)
    console = Console(page).login(own_gateway.base_url, agent["username"], agent["password"])
    expect(page.locator(".c-entry")).to_have_count(2)
    expect(page.locator(".c-entry").first).to_have_attribute("data-queue", "security")  # higher priority first
    expect(page.locator("#waiting-count")).to_have_text("2")

    console.claim(console.card(a.conversation_id()))
    console.claim(console.card(b.conversation_id()))
    expect(console.tabs).to_have_count(2)
    expect(console.tabs.nth(1)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#waiting-count")).to_have_text("0")

    # A message in the background chat shows as unread on its tab.
    a.send("are you there?")
    expect(console.tabs.nth(0)).to_have_accessible_name(re.compile(r"\(1 new\)"))
    console.tabs.nth(0).click()
    expect(console.tabs.nth(0)).to_have_attribute("aria-selected", "true")
    console.expect_in_transcript("shopper", "are you there?")
    expect(console.tabs.nth(0)).not_to_have_accessible_name(re.compile("new"))

    # Keyboard: arrow keys move between tabs.
    console.tabs.nth(0).focus()
    page.keyboard.press("ArrowRight")
    expect(console.tabs.nth(1)).to_have_attribute("aria-selected", "true")

    # Transfer the second chat to disputes: it waits there, and stays here until a colleague takes it
    # (tests/widget/test_console_assign.py follows it until then).
    panel = console.active_panel()
    panel.get_by_label("Transfer to queue").select_option("disputes")
    panel.get_by_role("button", name="Transfer").click()
    expect(panel.locator(".ca-pending")).to_contain_text("Transfer pending to the Disputes queue")
    expect(panel.get_by_role("textbox", name="Reply to the shopper")).to_be_visible()
    expect(console.card(b.conversation_id())).to_have_attribute("data-queue", "disputes")
    expect(b.subtitle).to_have_text("Waiting for a person")
    b.expect_message("system", "transferred your chat to the disputes queue")
    console.tabs.nth(0).click()
    expect(console.tabs.nth(0)).to_have_attribute("aria-selected", "true")

    # Hand the first one back to the bot, which greets the shopper again.
    bots = a.from_("bot").count()
    console.active_panel().get_by_role("button", name="Hand back to bot").click()
    expect(console.active_panel().get_by_text("Handed back to the assistant.")).to_be_visible()
    a.expect_message("system", "handed you back to the assistant")
    expect(a.from_("bot").nth(bots)).to_contain_text(FACTS["company_name"], timeout=BOT)
    expect(a.subtitle).to_contain_text("replies instantly")
    assert errors == []


def test_console_reload_keeps_the_claimed_chats(own_gateway, new_context):
    agent = own_gateway.create_agent()
    w = shopper_waiting(new_context, own_gateway.base_url, "my account was hacked")
    page = new_context().new_page()
    console = Console(page).login(own_gateway.base_url, agent["username"], agent["password"])
    console.claim(console.card(w.conversation_id()))
    console.reply("One moment please")
    console.expect_in_transcript("agent", "One moment please")
    expect(page.locator(".c-pending")).to_have_count(0)  # confirmed by the gateway's echo
    page.reload()
    expect(console.conn).to_have_text("Online")  # no second sign-in
    expect(console.tabs).to_have_count(1)
    console.expect_in_transcript("agent", "One moment please")
    w.expect_message("agent", "One moment please")
    expect(w.subtitle).to_have_text(f"Chatting with {agent['name']}")  # still with the shopper


def test_sign_out_returns_to_the_sign_in_form(gateway, new_context, agent):
    page = new_context().new_page()
    Console(page).login(gateway.base_url, agent["username"], agent["password"])
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Agent sign-in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Agent sign-in")).to_be_visible()


def test_emergency_page_opens_straight_into_triage(own_gateway, new_context):
    page = new_context().new_page()
    errors = []
    watch(page, errors)
    page.goto(own_gateway.base_url + "/emergency")
    w = Widget(page)
    expect(page.get_by_role("heading", level=1, name="Provider emergency line")).to_be_visible()
    expect(w.launcher).to_have_count(0)
    expect(w.panel).to_be_visible()
    # Nobody typed: the gateway opened the triage, and the assistant answered.
    expect(w.from_("bot").first).to_contain_text(FACTS["always_open"], timeout=BOT)
    expect(page.locator(".kw-messages")).not_to_contain_text("/provider_emergency")
    expect(w.paged).to_contain_text("The on-call person has been paged", timeout=15_000)
    expect(page.locator("#em-status")).to_contain_text("On-call person paged")
    conversation = w.conversation_id()
    assert own_gateway.query("SELECT role, line FROM conversations WHERE id = ?", conversation) == [
        ("provider", "emergency")]
    assert own_gateway.pager.pages[-1]["conversation_id"] == conversation
    # A reload keeps the conversation and the paged state.
    bubbles = page.locator(".kw-messages > li:not(.kw-card-item)")
    messages = bubbles.all_inner_texts()
    page.reload()
    expect(w.paged).to_be_visible()
    expect(w.from_("bot").first).to_be_visible()
    assert bubbles.all_inner_texts() == messages  # nothing doubled, no second triage
    assert w.conversation_id() == conversation
    assert errors == []


def test_emergency_page_on_a_phone(own_gateway, new_context):
    page = new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True).new_page()
    page.goto(own_gateway.base_url + "/emergency")
    w = Widget(page)
    expect(w.paged).to_be_visible(timeout=BOT)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    box = w.panel.bounding_box()
    assert box["width"] <= 360
