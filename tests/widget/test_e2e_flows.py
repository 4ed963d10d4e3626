"""The issue's flows, end to end: Chromium -> the real gateway (`python -m
handoff serve`) -> the trained assistant. Each test is what a shopper or an
agent does and sees. These also take the README's screenshots."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from actions.policy import template_vars

from .conftest import watch
from .pages import Console, Widget

pytestmark = pytest.mark.timeout(180)

FACTS = template_vars()
SECURITY_AMBER = "rgb(217, 119, 6)"
EMERGENCY_RED = "rgb(185, 28, 28)"
PAYLOAD = '<script>alert("xss")</script><img src=x onerror="alert(1)">'


def test_shopper_asks_an_faq_and_sees_the_answer(gateway, new_context, screenshots_dir):
    ctx = new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = ctx.new_page()
    errors = []
    watch(page, errors)
    w = Widget(page).goto(gateway.base_url).open()
    w.send("What is your email address?")
    w.expect_message("shopper", "What is your email address?")
    w.expect_message("bot", FACTS["support_email"], timeout=30_000)
    expect(w.live).to_contain_text(FACTS["support_email"])  # read out to screen readers
    link = w.from_("bot").last.get_by_role("link", name=FACTS["support_email"])
    expect(link).to_have_attribute("href", "mailto:" + FACTS["support_email"])
    page.wait_for_timeout(400)  # let the scroll settle for the picture
    page.screenshot(path=str(screenshots_dir / "widget.png"))
    assert errors == []


def test_hacked_account_goes_to_a_person_and_back_to_the_bot(gateway, new_context, screenshots_dir):
    # An agent is signed in (so the shopper gets a wait estimate) in another browser context.
    agent_page = new_context(viewport={"width": 1440, "height": 900}).new_page()
    console = Console(agent_page).login(gateway.base_url, gateway.agent["username"], gateway.agent["password"])

    # The shopper reports a hacked account and is queued for a person.
    shopper = new_context().new_page()
    w = Widget(shopper).goto(gateway.base_url).open()
    w.send("Someone hacked my account and changed my password")
    expect(w.queue).to_be_visible(timeout=30_000)
    expect(w.queue).to_contain_text(re.compile(r"You're (next|\d+(st|nd|rd|th)) in line for a person\."))
    expect(w.queue).to_contain_text("Estimated wait:")
    expect(w.subtitle).to_have_text("Waiting for a person")

    # The agent sees it, highlighted.
    card = console.card(w.conversation_id())
    expect(card).to_be_visible()
    expect(card.locator(".c-tag")).to_have_text(re.compile("security", re.I))
    expect(agent_page.locator(".c-queue-security .c-count")).to_have_text("1")
    expect(card.locator(".c-wait")).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(card).to_have_css("border-left-color", SECURITY_AMBER)  # high priority stands out
    expect(card).to_have_css("border-left-width", "6px")

    # It claims the chat: the transcript has the bot part marked, and the context.
    panel = console.claim(card)
    w.expect_message("system", f"{gateway.agent['name']} joined the chat")
    expect(w.subtitle).to_have_text(f"Chatting with {gateway.agent['name']}")
    expect(w.queue).to_be_hidden()
    before = panel.locator(".c-before")
    expect(before.locator(".c-from-shopper")).to_contain_text("Someone hacked my account")
    expect(before.locator(".c-from-bot .c-bot-tag").first).to_have_text("BOT")
    expect(panel.get_by_role("complementary", name="Handoff context")).to_contain_text(re.compile("Security", re.I))
    expect(panel.get_by_role("complementary", name="Handoff context")).to_contain_text("Role")

    # Messages both ways, with typing indicators.
    panel.get_by_role("textbox", name="Reply to the shopper").press_sequentially("Hi")
    expect(w.typing).to_have_text(f"{gateway.agent['name']} is typing…")
    console.reply("Hello, I'm here to help you secure your account. Which email is on it?")
    w.expect_message("agent", "secure your account")
    w.input.press_sequentially("It is")
    expect(panel.locator(".c-typing")).to_have_text("Shopper is typing…")
    w.input.fill("")
    w.send("It is ngozi@example.com, thank you!")
    console.expect_in_transcript("shopper", "ngozi@example.com")
    agent_page.wait_for_timeout(300)
    agent_page.screenshot(path=str(screenshots_dir / "console.png"))

    # Hand back to the bot; the bot answers again.
    panel.get_by_role("button", name="Hand back to bot").click()
    expect(panel.get_by_text("Handed back to the assistant.")).to_be_visible()
    expect(w.subtitle).to_contain_text("replies instantly")
    bot_count = w.from_("bot").count()
    w.send("What is your email address?")
    w.expect_message("bot", FACTS["support_email"], timeout=30_000)
    assert w.from_("bot").count() > bot_count


def test_reload_resumes_the_transcript(gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(gateway.base_url).open()
    w.send("What is your email address?")
    w.expect_message("bot", FACTS["support_email"], timeout=30_000)
    before = w.messages.all_inner_texts()
    bots = w.from_("bot").count()

    page.reload()
    w = Widget(page)
    expect(w.panel).to_be_visible()
    w.expect_message("shopper", "What is your email address?")
    w.expect_message("bot", FACTS["support_email"])
    assert w.messages.all_inner_texts() == before  # the same transcript, nothing doubled
    # And the conversation goes on where it was.
    w.send("Thanks!")
    expect(w.from_("bot").nth(bots)).to_be_visible(timeout=30_000)


def test_the_widget_reconnects_when_the_gateway_restarts(gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(gateway.base_url).open()
    w.send("What is your email address?")
    w.expect_message("bot", FACTS["support_email"], timeout=30_000)
    conversation = w.conversation_id()

    gateway.stop()  # the shopper's socket drops; the widget retries with backoff
    expect(w.connection).to_contain_text(re.compile(r"Connection lost|Reconnecting"))
    gateway.start()
    expect(w.connection).to_be_hidden(timeout=40_000)
    assert w.conversation_id() == conversation  # resumed, not a new conversation
    expect(w.from_("shopper").filter(has_text="What is your email address?")).to_have_count(1)
    w.send("And what is your email address again?")
    expect(w.from_("bot").filter(has_text=FACTS["support_email"])).to_have_count(2, timeout=30_000)


def test_markup_from_the_shopper_is_text_in_the_widget_and_the_console(gateway, new_context):
    shopper = new_context().new_page()
    agent_page = new_context(viewport={"width": 1366, "height": 800}).new_page()
    errors = []
    watch(shopper, errors)
    watch(agent_page, errors)

    w = Widget(shopper).goto(gateway.base_url).open()
    w.send("I want to talk to a person")
    expect(w.queue).to_be_visible(timeout=30_000)
    console = Console(agent_page).login(gateway.base_url, gateway.agent["username"], gateway.agent["password"])
    console.claim(console.card(w.conversation_id()))
    w.expect_message("system", "joined the chat")

    w.send(PAYLOAD)
    w.expect_message("shopper", PAYLOAD)
    console.expect_in_transcript("shopper", PAYLOAD)
    console.reply("<b>bold?</b> " + PAYLOAD)
    w.expect_message("agent", "<b>bold?</b>")

    for page, scope in ((shopper, ".kw-messages"), (agent_page, ".c-transcript")):
        expect(page.locator(f"{scope} img, {scope} script, {scope} b")).to_have_count(0)
    shopper.wait_for_timeout(500)
    assert errors == []
    console.page.get_by_role("button", name="Close chat").click()
    expect(shopper.get_by_role("group", name="How was your conversation?")).to_be_visible()


def test_provider_emergency_line_pages_the_on_call_person(gateway, new_context):
    agent_page = new_context(viewport={"width": 1366, "height": 800}).new_page()
    # Count the sounds the console makes (WebAudio oscillators started).
    agent_page.add_init_script("""
        window.__tones = 0;
        const start = OscillatorNode.prototype.start;
        OscillatorNode.prototype.start = function (...a) { window.__tones++; return start.apply(this, a); };
    """)
    console = Console(agent_page).login(gateway.base_url, gateway.agent["username"], gateway.agent["password"])

    provider = new_context().new_page()
    provider.goto(gateway.base_url + "/emergency")
    w = Widget(provider)
    expect(provider.get_by_role("heading", level=1, name="Provider emergency line")).to_be_visible()
    expect(w.launcher).to_have_count(0)  # no launcher: the chat is the page
    expect(w.subtitle).to_have_text("Waiting for the on-call person", timeout=30_000)
    expect(w.paged).to_contain_text("The on-call person has been paged", timeout=15_000)
    expect(provider.locator("#em-status")).to_contain_text("On-call person paged")
    assert gateway.pager.pages and gateway.pager.pages[-1]["queue"] == "emergency"

    card = console.card(w.conversation_id())
    expect(card).to_be_visible()
    expect(card).to_have_css("border-left-color", EMERGENCY_RED)
    expect(card.locator(".c-tag")).to_have_text("EMERGENCY")
    expect(console.emergency_banner).to_contain_text("emergency waiting")
    agent_page.wait_for_function("window.__tones > 0")
    agent_page.wait_for_function("document.title.includes('EMERGENCY')", timeout=5_000)

    console.claim(card)
    expect(w.subtitle).to_have_text(re.compile(r"^Chatting with "))
    expect(provider.locator("#em-status")).to_contain_text("has joined your chat")
    expect(console.emergency_banner).to_be_hidden()
    agent_page.wait_for_function("!document.title.includes('EMERGENCY')", timeout=5_000)
