"""The shopper widget against the real gateway and the trained assistant: what
a shopper sees and can do, by mouse, keyboard and screen reader, on a desktop
and on a 360-pixel phone, including when the connection drops, when nobody is
online, and when an agent joins and the shopper rates the chat."""
from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from actions.policy import load_policy, template_vars

from .conftest import watch
from .pages import Console, Widget

pytestmark = pytest.mark.timeout(120)

FACTS = template_vars()
XSS = '<script>alert("x")</script><img src=x onerror="alert(1)"><b>bold</b>'
BOT = 30_000  # the trained assistant can take a moment on a busy machine


def wait_for_row(gateway, sql, *params, timeout=10.0):
    """The first row the gateway stored for `sql`, once it is there."""
    deadline = time.monotonic() + timeout
    while True:
        rows = gateway.query(sql, *params)
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_storefront_shows_products_and_a_launcher(gateway, new_context):
    page = new_context().new_page()
    errors = []
    watch(page, errors)
    w = Widget(page).goto(gateway.base_url)
    expect(page.get_by_role("heading", name="Best sellers")).to_be_visible()
    expect(page.locator(".product")).to_have_count(6)
    expect(page.locator(".product .price").first).to_have_text(re.compile(r"^₦[\d,]+$"))
    expect(w.launcher).to_be_visible()
    expect(w.launcher).to_have_attribute("aria-expanded", "false")
    expect(w.panel).to_be_hidden()
    assert errors == []


def test_keyboard_opens_and_closes_the_panel(gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(gateway.base_url)
    w.launcher.focus()
    page.keyboard.press("Enter")
    expect(w.panel).to_be_visible()
    expect(w.launcher).to_have_attribute("aria-expanded", "true")
    expect(w.panel).to_have_attribute("role", "dialog")
    expect(w.input).to_be_focused()  # straight into the message box
    page.keyboard.press("Escape")
    expect(w.panel).to_be_hidden()
    expect(w.launcher).to_be_focused()  # focus goes back where it was


def test_answer_is_shown_and_announced(gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(gateway.base_url).open()
    expect(page.get_by_text("Hi! How can we help?")).to_be_visible()
    w.send("What is your email?")
    w.expect_message("shopper", "What is your email?")
    w.expect_message("bot", FACTS["support_email"], timeout=BOT)
    # The live region reads new messages out; the address is a real mailto link.
    answer = w.from_("bot").filter(has_text=FACTS["support_email"]).last.inner_text()
    expect(w.live).to_contain_text("Assistant: " + answer)
    link = w.from_("bot").last.get_by_role("link", name=FACTS["support_email"])
    expect(link).to_have_attribute("href", "mailto:" + FACTS["support_email"])
    # The sent message is confirmed by the gateway's echo (no "Sending…" left).
    expect(page.locator(".kw-from-shopper .kw-meta").last).not_to_have_text("Sending…")


def test_quick_replies_send_their_payload_and_show_their_title(own_gateway, new_context):
    # Its own gateway: the queue holds only this chat, and nobody is online.
    page = new_context().new_page()
    w = Widget(page).goto(own_gateway.base_url).open()
    w.send("blah")
    person = w.quick_replies.get_by_role("button", name="Talk to a person")
    expect(person).to_be_visible(timeout=BOT)
    person.click()
    w.expect_message("shopper", "Talk to a person")
    assert "/request_human" not in w.bubble_texts("shopper")
    expect(w.quick_replies).to_be_hidden()  # the choices go once one is taken
    expect(w.queue).to_contain_text("You're next in line for a person.", timeout=BOT)
    expect(w.queue).not_to_contain_text("Estimated wait")  # nobody online: no estimate (test_widget_details)
    expect(w.subtitle).to_have_text("Waiting for a person")
    # What reached the gateway was the button's payload, not its title.
    sent = own_gateway.query("SELECT text FROM messages WHERE conversation_id = ? AND sender = 'shopper' "
                             "ORDER BY seq", w.conversation_id())
    assert [t for (t,) in sent] == ["blah", "/request_human"]


def test_html_in_messages_is_shown_as_text(gateway, new_context):
    page = new_context().new_page()
    errors = []
    watch(page, errors)
    w = Widget(page).goto(gateway.base_url).open()
    w.send(XSS)
    w.expect_message("shopper", XSS)
    expect(w.from_("bot").first).to_be_visible(timeout=BOT)  # the assistant answered too
    expect(page.locator(".kw-messages img, .kw-messages script, .kw-messages b")).to_have_count(0)
    page.wait_for_timeout(300)
    assert errors == []


def test_reload_resumes_the_conversation(gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(gateway.base_url).open()
    w.send("What is your refund policy?")
    w.expect_message("bot", FACTS["refund_processing_time"], timeout=BOT)
    conversation = w.conversation_id()
    bots = w.from_("bot").count()
    page.reload()
    w = Widget(page)
    expect(w.panel).to_be_visible()  # it was open: it stays open
    w.expect_message("shopper", "What is your refund policy?")
    w.expect_message("bot", FACTS["refund_processing_time"])
    expect(w.from_("shopper")).to_have_count(1)  # no duplicates
    expect(w.from_("bot")).to_have_count(bots)
    assert w.conversation_id() == conversation  # the same one


def test_an_unknown_token_starts_a_new_conversation(gateway, new_context):
    ctx = new_context()
    page = ctx.new_page()
    page.goto(gateway.base_url + "/widget/demo.css")  # same origin, to set storage
    ws = gateway.base_url.replace("http", "ws")
    page.evaluate("k => localStorage.setItem(k, JSON.stringify({token: 'forged', conversation_id: 'x'}))",
                  f"kara-chat:v1:{ws}:chat")
    w = Widget(page).goto(gateway.base_url)
    w.open()
    # The new conversation's welcome redraws the transcript: the notice must outlive it, or the
    # shopper sees it only for the moment between the refusal and the welcome (CI's browser,
    # polling, once missed that moment altogether).
    page.wait_for_function("() => { for (const k of Object.keys(localStorage)) if (k.startsWith('kara-chat:v1:'))"
                           " { const id = JSON.parse(localStorage.getItem(k)).conversation_id;"
                           " return id && id !== 'x'; } return false; }", timeout=15_000)
    expect(w.from_("system")).to_contain_text("could not be resumed")
    # a new chat all the same: the greeting and its suggestions above the notice, as in any new chat
    expect(page.get_by_text("Hi! How can we help?")).to_be_visible()
    expect(w.quick_replies.get_by_role("button", name="Track an order")).to_be_visible()
    w.send("What is your email?")
    w.expect_message("bot", FACTS["support_email"], timeout=BOT)
    expect(w.from_("system")).to_contain_text("could not be resumed")  # still atop the new chat
    expect(page.get_by_text("Hi! How can we help?")).to_be_hidden()  # the chat has begun
    assert w.conversation_id() not in (None, "x")


def test_reconnects_with_backoff_and_sends_what_was_typed_offline(own_gateway, new_context):
    # Its own gateway, so stopping it disturbs nobody else.
    page = new_context().new_page()
    sent = []  # the shopper's message frames, as the gateway got them
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    w = Widget(page).goto(own_gateway.base_url).open()
    w.send("What is your email?")
    w.expect_message("bot", FACTS["support_email"], timeout=BOT)
    conversation = w.conversation_id()

    own_gateway.stop()
    expect(w.connection).to_be_visible()
    expect(w.connection).to_contain_text(re.compile(r"Connection lost|Reconnecting"))
    w.send("And refunds?")  # typed while offline: kept, shown as sending
    expect(page.locator(".kw-from-shopper").last.locator(".kw-meta")).to_have_text("Sending…")
    # Each failed attempt waits longer (0.5 s, 1 s, 2 s, 4 s, 8 s, ... +-25%); "Retry now" is clicked
    # while a wait of 6 s or more runs, so the widget's own next attempt does not reconnect under the
    # click (CI saw the banner go from under a click made in a 2 s wait, the gateway slow to start).
    expect(w.connection).to_contain_text(re.compile(r"Reconnecting in ([6-9]|\d{2,}) s"), timeout=30_000)

    own_gateway.start()
    page.get_by_role("button", name="Retry now").click(timeout=5_000)
    expect(w.connection).to_be_hidden(timeout=15_000)
    w.expect_message("bot", FACTS["refund_processing_time"], timeout=BOT)
    expect(w.from_("shopper").filter(has_text="And refunds?")).to_have_count(1)
    assert w.conversation_id() == conversation  # resumed, not a new conversation

    # A message's first sending on a ready socket says so (the gateway then skips looking for an
    # earlier attempt); what goes out after a reconnect may have gone out before, and never does.
    w.send("Thanks")
    for _ in range(100):
        if any(m.get("text") == "Thanks" for m in sent):
            break
        page.wait_for_timeout(100)  # (the socket's events reach `sent` while Playwright waits)
    messages = [m for m in sent if m.get("type") == "message"]
    assert [m.get("first") for m in messages if m["text"] == "Thanks"] == [True]
    assert not [m for m in messages if m["text"] == "And refunds?" and "first" in m]
    by_client = {}
    for m in messages:
        by_client.setdefault(m["client_id"], []).append(m)
    assert all("first" not in m for frames in by_client.values() for m in frames[1:])


def test_offline_lets_the_shopper_leave_a_message(own_gateway, new_context):
    # Its own gateway: no agent has ever signed in to it, so nobody is online.
    page = new_context().new_page()
    w = Widget(page).goto(own_gateway.base_url).open()
    w.send("hello")
    person = w.quick_replies.get_by_role("button", name="Talk to a person")
    expect(person).to_be_visible(timeout=BOT)
    person.click()
    expect(page.get_by_text("Nobody is available right now", exact=True)).to_be_visible(timeout=BOT)
    page.get_by_role("button", name="Leave a message").click()
    expect(page.get_by_role("alert")).to_have_text("Please enter a valid email address.")
    page.get_by_label("Your email address").fill("ngozi@example.com")
    page.get_by_label("Your message").fill("Please call me about order KH-204518.")
    page.get_by_role("button", name="Leave a message").click()
    window = load_policy().window("general_response").text()  # the card names the policy's reply window
    expect(page.get_by_text(re.compile(r"Message received \(reference \S+\)\. We'll reply by email within "
                                       + re.escape(window) + r"\."))).to_be_visible()
    tickets = wait_for_row(own_gateway, "SELECT email, text FROM tickets WHERE conversation_id = ?",
                           w.conversation_id())
    assert tickets == [("ngozi@example.com", "Please call me about order KH-204518.")]


def test_agent_joins_and_the_shopper_rates_the_chat(gateway, new_context, agent):
    shopper = new_context().new_page()
    w = Widget(shopper).goto(gateway.base_url).open()
    w.send("my account was hacked")
    expect(w.queue).to_be_visible(timeout=BOT)

    console = Console(new_context().new_page()).login(gateway.base_url, agent["username"], agent["password"])
    console.claim(console.card(w.conversation_id()))
    w.expect_message("system", f"{agent['name']} joined the chat")
    expect(w.queue).to_be_hidden()
    expect(w.subtitle).to_have_text(f"Chatting with {agent['name']}")

    console.page.get_by_role("textbox", name="Reply to the shopper").press_sequentially("Hello")
    expect(w.typing).to_have_text(f"{agent['name']} is typing…")
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
    ratings = wait_for_row(gateway, "SELECT rating, rating_comment FROM handoffs "
                           "WHERE conversation_id = ? AND rating IS NOT NULL", w.conversation_id())
    assert ratings == [(4, "Quick and kind")]


def test_phone_screen_360_pixels(gateway, new_context):
    ctx = new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = ctx.new_page()
    w = Widget(page).goto(gateway.base_url)
    box = w.launcher.bounding_box()
    assert box["x"] + box["width"] <= 360 and box["height"] >= 44  # reachable, thumb-sized
    w.open()
    panel = w.panel.bounding_box()
    assert panel["x"] == 0 and panel["width"] == 360 and panel["height"] == 740  # full screen
    w.send("What is your email?")
    w.expect_message("bot", FACTS["support_email"], timeout=BOT)
    send = page.get_by_role("button", name="Send message").bounding_box()
    assert send["x"] + send["width"] <= 360 and send["y"] + send["height"] <= 740
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    page.get_by_role("button", name="Minimise chat").click()
    expect(w.panel).to_be_hidden()


def test_widget_styles_stay_inside_the_widget(gateway, new_context):
    """The widget's CSS stays in its shadow root: the page's look is unchanged."""
    page = new_context().new_page()
    Widget(page).goto(gateway.base_url)
    color = page.evaluate("getComputedStyle(document.querySelector('.product button')).borderTopColor")
    assert color == "rgb(15, 118, 110)"
    assert page.evaluate("document.querySelectorAll('style, link[rel=stylesheet]').length") == 1
