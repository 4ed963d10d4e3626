"""The agent console and the emergency page against the scripted stand-in
gateway (fast, no Rasa): sign-in, priority order, emergency alerts (sound,
flashing title), several chats at once, transfer, hand back, reload."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import watch
from .pages import Console, Widget

pytestmark = pytest.mark.timeout(90)

COUNT_TONES = """
    window.__tones = 0;
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...a) { window.__tones++; return start.apply(this, a); };
"""


def shopper_waiting(new_context, base_url, text):
    page = new_context().new_page()
    w = Widget(page).goto(base_url).open()
    w.send(text)
    expect(w.queue).to_be_visible()
    return w


def test_wrong_password_is_refused(fake_gateway, new_context):
    page = new_context().new_page()
    page.goto(fake_gateway.base_url + "/console")
    expect(page.get_by_role("heading", name="Agent sign-in")).to_be_visible()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("nope")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.locator("#app-view")).to_be_hidden()


def test_queues_in_priority_order_with_emergency_alerts(fake_gateway, new_context, fake_agent):
    page = new_context(viewport={"width": 1366, "height": 800}).new_page()
    page.add_init_script(COUNT_TONES)
    console = Console(page).login(fake_gateway.base_url, fake_agent["username"], fake_agent["password"])
    shopper_waiting(new_context, fake_gateway.base_url, "/request_human")
    expect(console.entry("asked for a person")).to_be_visible()
    page.wait_for_function("window.__tones > 0")  # a soft chime for an ordinary chat
    chime = page.evaluate("window.__tones")

    # An emergency arrives: it goes on top, flashes, rings and changes the title.
    provider = new_context().new_page()
    provider.goto(fake_gateway.base_url + "/emergency")
    emergency = console.entry("provider emergency")
    expect(emergency).to_be_visible()
    expect(emergency.locator(".c-tag")).to_have_text("EMERGENCY")
    cards = page.locator(".c-entry")
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


def test_sound_can_be_switched_off(fake_gateway, new_context, fake_agent):
    page = new_context().new_page()
    page.add_init_script(COUNT_TONES)
    Console(page).login(fake_gateway.base_url, fake_agent["username"], fake_agent["password"])
    toggle = page.get_by_role("button", name="Sound on")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(page.get_by_role("button", name="Sound off")).to_have_attribute("aria-pressed", "false")
    shopper_waiting(new_context, fake_gateway.base_url, "/request_human")
    expect(page.locator(".c-entry")).to_have_count(1)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__tones") == 0


def test_several_chats_at_once_transfer_and_hand_back(fake_gateway, new_context, fake_agent):
    a = shopper_waiting(new_context, fake_gateway.base_url, "my account was hacked")
    b = shopper_waiting(new_context, fake_gateway.base_url, "/request_human")
    page = new_context(viewport={"width": 1366, "height": 800}).new_page()
    errors = []
    watch(page, errors)
    console = Console(page).login(fake_gateway.base_url, fake_agent["username"], fake_agent["password"])
    expect(page.locator(".c-entry").first).to_have_attribute("data-queue", "security")  # higher priority first

    console.claim(console.entry("account security"))
    console.claim(console.entry("asked for a person"))
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

    # Transfer the second chat to disputes: it ends here, goes back to a queue.
    panel = console.active_panel()
    panel.get_by_label("Transfer to queue").select_option("disputes")
    panel.get_by_role("button", name="Transfer").click()
    expect(panel.get_by_text("Transferred to another queue.")).to_be_visible()
    expect(panel.get_by_role("textbox", name="Reply to the shopper")).to_be_hidden()
    expect(console.entry("asked for a person")).to_have_attribute("data-queue", "disputes")
    expect(b.subtitle).to_have_text("Waiting for a person")
    panel.get_by_role("button", name="Dismiss").click()
    expect(console.tabs).to_have_count(1)

    # Hand the first one back to the bot.
    console.active_panel().get_by_role("button", name="Hand back to bot").click()
    expect(console.active_panel().get_by_text("Handed back to the assistant.")).to_be_visible()
    a.expect_message("bot", "Hi again!")
    expect(a.subtitle).to_contain_text("replies instantly")
    assert errors == []


def test_console_reload_keeps_the_claimed_chats(fake_gateway, new_context, fake_agent):
    shopper_waiting(new_context, fake_gateway.base_url, "my account was hacked")
    page = new_context().new_page()
    console = Console(page).login(fake_gateway.base_url, fake_agent["username"], fake_agent["password"])
    console.claim(console.entry("account security"))
    console.reply("One moment please")
    console.expect_in_transcript("agent", "One moment please")
    expect(page.locator(".c-pending")).to_have_count(0)  # confirmed by the gateway's echo
    page.reload()
    expect(console.conn).to_have_text("Online")  # no second sign-in
    expect(console.tabs).to_have_count(1)
    console.expect_in_transcript("agent", "One moment please")


def test_sign_out_returns_to_the_sign_in_form(fake_gateway, new_context, fake_agent):
    page = new_context().new_page()
    Console(page).login(fake_gateway.base_url, fake_agent["username"], fake_agent["password"])
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Agent sign-in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Agent sign-in")).to_be_visible()


def test_emergency_page_opens_straight_into_triage(fake_gateway, new_context):
    page = new_context().new_page()
    errors = []
    watch(page, errors)
    page.goto(fake_gateway.base_url + "/emergency")
    w = Widget(page)
    expect(page.get_by_role("heading", level=1, name="Provider emergency line")).to_be_visible()
    expect(w.launcher).to_have_count(0)
    expect(w.panel).to_be_visible()
    w.expect_message("shopper", "Emergency triage requested")  # not the raw "/provider_emergency"
    expect(w.paged).to_contain_text("The on-call person has been paged")
    expect(page.locator("#em-status")).to_contain_text("On-call person paged")
    hello = next(f for f in fake_gateway.gateway.received if f.get("type") == "hello")
    assert hello["line"] == "emergency" and hello["role"] == "provider"
    # A reload keeps the conversation and the paged state.
    page.reload()
    expect(w.paged).to_be_visible()
    expect(w.from_("shopper")).to_have_count(1)
    assert errors == []


def test_emergency_page_on_a_phone(fake_gateway, new_context):
    page = new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True).new_page()
    page.goto(fake_gateway.base_url + "/emergency")
    w = Widget(page)
    expect(w.paged).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    box = w.panel.bounding_box()
    assert box["width"] <= 360
