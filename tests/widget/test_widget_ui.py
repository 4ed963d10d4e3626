"""The shopper widget against the scripted stand-in gateway (fast, no Rasa):
what a shopper sees and can do, by mouse, keyboard and screen reader, on a
desktop and on a 360-pixel phone, including when the connection drops."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import watch
from .pages import Console, Widget

pytestmark = pytest.mark.timeout(90)

XSS = '<script>alert("x")</script><img src=x onerror="alert(1)"><b>bold</b>'


def test_storefront_shows_products_and_a_launcher(fake_gateway, new_context):
    page = new_context().new_page()
    errors = []
    watch(page, errors)
    w = Widget(page).goto(fake_gateway.base_url)
    expect(page.get_by_role("heading", name="Best sellers")).to_be_visible()
    expect(page.locator(".product")).to_have_count(6)
    expect(page.locator(".product .price").first).to_have_text(re.compile(r"^₦[\d,]+$"))
    expect(w.launcher).to_be_visible()
    expect(w.launcher).to_have_attribute("aria-expanded", "false")
    expect(w.panel).to_be_hidden()
    assert errors == []


def test_keyboard_opens_and_closes_the_panel(fake_gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(fake_gateway.base_url)
    w.launcher.focus()
    page.keyboard.press("Enter")
    expect(w.panel).to_be_visible()
    expect(w.launcher).to_have_attribute("aria-expanded", "true")
    expect(w.panel).to_have_attribute("role", "dialog")
    expect(w.input).to_be_focused()  # straight into the message box
    page.keyboard.press("Escape")
    expect(w.panel).to_be_hidden()
    expect(w.launcher).to_be_focused()  # focus goes back where it was


def test_answer_is_shown_and_announced(fake_gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(fake_gateway.base_url).open()
    expect(page.get_by_text("Hi! How can we help?")).to_be_visible()
    w.send("What is your email?")
    w.expect_message("shopper", "What is your email?")
    w.expect_message("bot", "help@example.com")
    # The live region reads new messages out; the address is a real mailto link.
    expect(w.live).to_contain_text("Assistant: You can write to us at help@example.com")
    link = w.from_("bot").last.get_by_role("link", name="help@example.com")
    expect(link).to_have_attribute("href", "mailto:help@example.com")
    # The sent message is confirmed by the gateway's echo (no "Sending…" left).
    expect(page.locator(".kw-from-shopper .kw-meta").last).not_to_have_text("Sending…")


def test_quick_replies_send_their_payload_and_show_their_title(fake_gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(fake_gateway.base_url).open()
    w.send("blah")
    expect(w.quick_replies.get_by_role("button", name="Talk to a person")).to_be_visible()
    w.quick_replies.get_by_role("button", name="Talk to a person").click()
    w.expect_message("shopper", "Talk to a person")
    assert "/request_human" not in w.bubble_texts("shopper")
    assert any(f.get("type") == "message" and f.get("text") == "/request_human"
               for f in fake_gateway.gateway.received)
    expect(w.quick_replies).to_be_hidden()  # the choices go once one is taken
    expect(w.queue).to_contain_text("You're 2nd in line for a person.")
    expect(w.queue).to_contain_text("about 4 minutes")
    expect(w.subtitle).to_have_text("Waiting for a person")


def test_html_in_messages_is_shown_as_text(fake_gateway, new_context):
    page = new_context().new_page()
    errors = []
    watch(page, errors)
    w = Widget(page).goto(fake_gateway.base_url).open()
    w.send(XSS)
    w.expect_message("shopper", XSS)
    expect(page.locator(".kw-messages img, .kw-messages script, .kw-messages b")).to_have_count(0)
    page.wait_for_timeout(300)
    assert errors == []


def test_reload_resumes_the_conversation(fake_gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(fake_gateway.base_url).open()
    w.send("What is your refund policy?")
    w.expect_message("bot", "original payment method")
    conversations = len(fake_gateway.gateway.conversations)
    page.reload()
    w = Widget(page)
    expect(w.panel).to_be_visible()  # it was open: it stays open
    w.expect_message("shopper", "What is your refund policy?")
    w.expect_message("bot", "original payment method")
    expect(w.from_("bot")).to_have_count(1)  # no duplicates
    assert len(fake_gateway.gateway.conversations) == conversations  # the same one


def test_an_unknown_token_starts_a_new_conversation(fake_gateway, new_context):
    ctx = new_context()
    page = ctx.new_page()
    page.goto(fake_gateway.base_url + "/widget/demo.css")  # same origin, to set storage
    ws = fake_gateway.base_url.replace("http", "ws")
    page.evaluate("k => localStorage.setItem(k, JSON.stringify({token: 'forged', conversation_id: 'x'}))",
                  f"kara-chat:v1:{ws}:chat")
    w = Widget(page).goto(fake_gateway.base_url)
    w.open()
    expect(w.from_("system")).to_contain_text("could not be resumed")
    w.send("What is your email?")
    w.expect_message("bot", "help@example.com")


def test_reconnects_with_backoff_and_sends_what_was_typed_offline(fake_gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(fake_gateway.base_url).open()
    w.send("What is your email?")
    w.expect_message("bot", "help@example.com")

    fake_gateway.stop()
    expect(w.connection).to_be_visible()
    expect(w.connection).to_contain_text(re.compile(r"Connection lost|Reconnecting"))
    w.send("And refunds?")  # typed while offline: kept, shown as sending
    expect(page.locator(".kw-from-shopper").last.locator(".kw-meta")).to_have_text("Sending…")

    fake_gateway.start()
    page.get_by_role("button", name="Retry now").click(timeout=5_000)
    expect(w.connection).to_be_hidden(timeout=15_000)
    w.expect_message("bot", "original payment method")
    expect(w.from_("shopper").filter(has_text="And refunds?")).to_have_count(1)


def test_offline_lets_the_shopper_leave_a_message(fake_gateway_offline, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(fake_gateway_offline.base_url).open()
    w.send("hello")
    w.quick_replies.get_by_role("button", name="Talk to a person").click()
    expect(page.get_by_text("Nobody is available right now", exact=True)).to_be_visible()
    page.get_by_role("button", name="Leave a message").click()
    expect(page.get_by_role("alert")).to_have_text("Please enter a valid email address.")
    page.get_by_label("Your email address").fill("ngozi@example.com")
    page.get_by_label("Your message").fill("Please call me about order KH-204518.")
    page.get_by_role("button", name="Leave a message").click()
    expect(page.get_by_text("Message received (reference T-0001)")).to_be_visible()
    assert fake_gateway_offline.gateway.tickets[0]["email"] == "ngozi@example.com"


def test_agent_joins_and_the_shopper_rates_the_chat(fake_gateway, new_context, fake_agent):
    shopper = new_context().new_page()
    w = Widget(shopper).goto(fake_gateway.base_url).open()
    w.send("my account was hacked")
    expect(w.queue).to_be_visible()

    console = Console(new_context().new_page()).login(fake_gateway.base_url, fake_agent["username"], fake_agent["password"])
    console.claim(console.entry("account security").first)
    w.expect_message("system", "Ada Obi joined the chat")
    expect(w.queue).to_be_hidden()
    expect(w.subtitle).to_have_text("Chatting with Ada Obi")

    console.page.get_by_role("textbox", name="Reply to the shopper").press_sequentially("Hello")
    expect(w.typing).to_have_text("Ada Obi is typing…")
    console.reply("All secured now.")
    w.expect_message("agent", "All secured now.")
    expect(w.typing).to_be_hidden()

    console.page.get_by_role("button", name="Close chat").click()
    expect(w.subtitle).to_have_text("Conversation ended")
    rating = shopper.get_by_role("group", name="How was your conversation?")
    expect(rating).to_be_visible()
    rating.get_by_role("button", name="4 stars out of 5").click()
    expect(rating.get_by_role("button", name="4 stars out of 5")).to_have_attribute("aria-pressed", "true")
    shopper.get_by_label("Comment (optional)").fill("Quick and kind")
    shopper.get_by_role("button", name="Send rating").click()
    expect(shopper.get_by_text("You rated this conversation 4 out of 5")).to_be_visible()
    expect(shopper.get_by_role("button", name="Start a new conversation")).to_be_visible()
    shopper.wait_for_timeout(200)
    assert fake_gateway.gateway.ratings[-1]["score"] == 4
    assert fake_gateway.gateway.ratings[-1]["comment"] == "Quick and kind"


def test_phone_screen_360_pixels(fake_gateway, new_context):
    ctx = new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = ctx.new_page()
    w = Widget(page).goto(fake_gateway.base_url)
    box = w.launcher.bounding_box()
    assert box["x"] + box["width"] <= 360 and box["height"] >= 44  # reachable, thumb-sized
    w.open()
    panel = w.panel.bounding_box()
    assert panel["x"] == 0 and panel["width"] == 360 and panel["height"] == 740  # full screen
    w.send("What is your email?")
    w.expect_message("bot", "help@example.com")
    send = page.get_by_role("button", name="Send message").bounding_box()
    assert send["x"] + send["width"] <= 360 and send["y"] + send["height"] <= 740
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    page.get_by_role("button", name="Minimise chat").click()
    expect(w.panel).to_be_hidden()


def test_widget_styles_stay_inside_the_widget(fake_gateway, new_context):
    """The widget's CSS stays in its shadow root: the page's look is unchanged."""
    page = new_context().new_page()
    Widget(page).goto(fake_gateway.base_url)
    color = page.evaluate("getComputedStyle(document.querySelector('.product button')).borderTopColor")
    assert color == "rgb(15, 118, 110)"
    assert page.evaluate("document.querySelectorAll('style, link[rel=stylesheet]').length") == 1
