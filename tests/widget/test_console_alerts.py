"""How the agent console and the emergency page tell people what is going on
(issue 14), against the real gateway and the trained assistant: the sound
button says what the agent will really hear (after a reload too), desktop
notifications for a new handoff, an emergency and a message in a chat that is
not in front, and an emergency page that says "paged" only once it is so."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .pages import Console, Widget

pytestmark = pytest.mark.timeout(150)

BOT = 30_000  # the trained assistant can take a moment on a busy machine
COUNT_TONES = """
    window.__tones = 0;
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...a) { window.__tones++; return start.apply(this, a); };
"""
# Headless Chromium never holds audio back, so this puts back what a desktop
# browser does: an AudioContext made before any click or key press on the page
# is suspended (really suspended: resume() after a gesture starts it).
GESTURE_AUDIO_POLICY = """
    const Real = window.AudioContext;
    window.AudioContext = class extends Real {
        constructor(...a) { super(...a); if (!navigator.userActivation.hasBeenActive) this.suspend(); }
    };
"""
# Records every desktop notification the page makes (the real Notification still runs).
RECORD_NOTIFICATIONS = """
    window.__notes = [];
    window.__noteObjects = [];
    const RealNotification = window.Notification;
    window.Notification = class extends RealNotification {
        constructor(title, options) {
            super(title, options);
            window.__notes.push(Object.assign({title: title}, options || {}));
            window.__noteObjects.push(this);
        }
    };
"""


def shopper_waiting(new_context, base_url, text="/request_human"):
    w = Widget(new_context().new_page()).goto(base_url).open()
    w.send(text)
    expect(w.queue).to_be_visible(timeout=BOT)
    return w


def tones(page) -> int:
    return page.evaluate("window.__tones")


def test_after_a_reload_the_siren_sounds_and_the_button_agrees(own_gateway, new_context):
    agent = own_gateway.create_agent()
    page = new_context().new_page()
    page.add_init_script(COUNT_TONES)
    console = Console(page).login(own_gateway.base_url, agent["username"], agent["password"])
    page.reload()  # no sign-in click this time
    expect(console.conn).to_have_text("Online")
    sound = page.locator("#sound-toggle")
    expect(sound).to_have_text("Sound on")
    expect(sound).to_have_attribute("aria-pressed", "true")

    provider = new_context().new_page()
    provider.goto(own_gateway.base_url + "/emergency")
    expect(console.entry("EMERGENCY")).to_be_visible(timeout=BOT)
    page.wait_for_function("window.__tones >= 6")  # the siren: what the button promised

    sound.click()  # "Sound on" turns it off, as it says
    expect(sound).to_have_text("Sound off")
    expect(sound).to_have_attribute("aria-pressed", "false")
    page.reload()  # the agent's choice is kept
    expect(console.conn).to_have_text("Online")
    expect(sound).to_have_text("Sound off")
    before = tones(page)
    shopper_waiting(new_context, own_gateway.base_url)
    expect(page.locator(".c-entry")).to_have_count(2)
    page.wait_for_timeout(300)
    assert tones(page) == before


def test_a_browser_that_holds_sound_back_is_said_so(own_gateway, new_context):
    agent = own_gateway.create_agent()
    page = new_context().new_page()
    page.add_init_script(COUNT_TONES)
    page.add_init_script(GESTURE_AUDIO_POLICY)
    console = Console(page).login(own_gateway.base_url, agent["username"], agent["password"])
    sound = page.locator("#sound-toggle")
    expect(sound).to_have_text("Sound on")  # the sign-in click was the gesture

    page.reload()  # no gesture yet on this page: the browser holds the sound back
    expect(console.conn).to_have_text("Online")
    expect(sound).to_have_text("Sound blocked: click to allow")
    expect(sound).to_have_attribute("aria-pressed", "false")
    expect(sound).to_have_attribute("title", re.compile("only after a click"))
    shopper_waiting(new_context, own_gateway.base_url)
    expect(page.locator(".c-entry")).to_have_count(1)
    page.wait_for_timeout(300)
    assert tones(page) == 0  # nothing played, and nothing queued to blare out later

    sound.click()  # allows sound: it does not turn it off
    expect(sound).to_have_text("Sound on")
    expect(sound).to_have_attribute("aria-pressed", "true")
    shopper_waiting(new_context, own_gateway.base_url)
    page.wait_for_function("window.__tones > 0")

    # Any click on the page is the gesture too.
    page.reload()
    expect(sound).to_have_text("Sound blocked: click to allow")
    page.get_by_role("heading", name=re.compile("^Waiting")).click()
    expect(sound).to_have_text("Sound on")


def test_desktop_notifications_for_handoffs_emergencies_and_background_chats(own_gateway, new_context):
    agent = own_gateway.create_agent()
    ctx = new_context(viewport={"width": 1366, "height": 800})
    ctx.grant_permissions(["notifications"], origin=own_gateway.base_url)
    page = ctx.new_page()
    page.add_init_script(RECORD_NOTIFICATIONS)
    console = Console(page).login(own_gateway.base_url, agent["username"], agent["password"])
    notes = lambda: page.evaluate("window.__notes")  # noqa: E731

    # Nothing until the agent asks for them.
    a = shopper_waiting(new_context, own_gateway.base_url, "my account was hacked")
    expect(console.card(a.conversation_id())).to_be_visible()
    page.wait_for_timeout(300)
    assert notes() == []
    button = page.get_by_role("button", name="Turn on desktop notifications")
    button.click()
    on = page.get_by_role("button", name="Desktop notifications on")
    expect(on).to_have_attribute("aria-pressed", "true")

    # A new handoff.
    b = shopper_waiting(new_context, own_gateway.base_url)
    page.wait_for_function("window.__notes.length === 1")
    assert notes()[0]["title"].startswith("General chat waiting: ")
    assert notes()[0]["tag"] == f"handoff-{b.conversation_id()}"

    # A message in a chat that is not in front; none for the one in front.
    console.claim(console.card(a.conversation_id()))
    console.claim(console.card(b.conversation_id()))  # b is in front now
    a.send("are you there?")
    page.wait_for_function("window.__notes.length === 2")
    note = notes()[1]
    assert note["title"].startswith("New message: Shopper") and note["body"] == "are you there?"
    assert note["tag"] == f"message-{a.conversation_id()}"
    b.send("hello?")
    console.expect_in_transcript("shopper", "hello?")
    page.wait_for_timeout(300)
    assert len(notes()) == 2
    # Clicking the notification brings that chat to the front, its message read.
    page.evaluate("window.__noteObjects[1].onclick()")
    expect(console.tabs.nth(0)).to_have_attribute("aria-selected", "true")
    console.expect_in_transcript("shopper", "are you there?")
    expect(console.tabs.nth(0)).not_to_have_accessible_name(re.compile("new"))

    # An emergency: it stays on screen until the agent sees it.
    provider = new_context().new_page()
    provider.goto(own_gateway.base_url + "/emergency")
    page.wait_for_function("window.__notes.length === 3", timeout=BOT)
    assert notes()[2]["title"] == "🚨 Emergency waiting: claim it now"
    assert notes()[2]["requireInteraction"] is True

    # Turned off again: quiet, and the choice outlives a reload.
    on.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(console.conn).to_have_text("Online")
    expect(button).to_be_visible()
    shopper_waiting(new_context, own_gateway.base_url)
    expect(page.locator(".c-entry")).to_have_count(2)  # the emergency and the new one
    page.wait_for_timeout(300)
    assert notes() == []


def test_the_emergency_page_says_paged_only_once_a_page_went_out(own_gateway, new_context):
    # Someone is online, so the gateway waits its 2 s claim window before paging.
    agent = own_gateway.create_agent()
    Console(new_context().new_page()).login(own_gateway.base_url, agent["username"], agent["password"])
    page = new_context().new_page()
    page.add_init_script("""
        window.__status = [];
        document.addEventListener('DOMContentLoaded', () => {
            const el = document.getElementById('em-status');
            new MutationObserver(() => window.__status.push(el.textContent))
                .observe(el, {childList: true, characterData: true, subtree: true});
        });
    """)
    page.goto(own_gateway.base_url + "/emergency")
    w = Widget(page)
    status = page.locator("#em-status")
    expect(w.subtitle).to_have_text("Waiting for the on-call person", timeout=BOT)
    shown = status.inner_text()
    if not own_gateway.pager.pages:  # read before the page went out
        assert "emergency queue" in shown and not re.search(r"\bpag(ed|ing)\b", shown), shown
        expect(w.paged).to_be_hidden()
    expect(status).to_contain_text("On-call person paged", timeout=15_000)
    expect(w.paged).to_contain_text("The on-call person has been paged")
    assert own_gateway.pager.pages and own_gateway.pager.pages[-1]["conversation_id"] == w.conversation_id()
    # Everything the notice ever said: "paged" only in what came with the gateway's `paged` frame.
    said = page.evaluate("window.__status")
    first_paged = next(i for i, t in enumerate(said) if t.startswith("On-call person paged"))
    assert any("emergency queue" in t for t in said[:first_paged]), said
    assert not any(re.search(r"\bpag(ed|ing)\b", t) for t in said[:first_paged]), said


def test_a_chat_whose_agent_was_lost_is_marked_in_the_queue(own_gateway, new_context):
    first, second = own_gateway.create_agent("Ada Obi"), own_gateway.create_agent("Bola Ade")
    w = shopper_waiting(new_context, own_gateway.base_url, "my account was hacked")
    gone = new_context()
    console = Console(gone.new_page()).login(own_gateway.base_url, first["username"], first["password"])
    console.claim(console.card(w.conversation_id()))
    w.expect_message("system", "Ada Obi joined the chat")
    other = Console(new_context().new_page()).login(own_gateway.base_url, second["username"], second["password"])
    gone.close()  # the first agent's browser goes away; after the grace period the chat is back

    card = other.card(w.conversation_id())
    expect(card).to_be_visible(timeout=BOT)
    expect(card.locator(".c-tag-requeued")).to_have_text("Agent lost")
    expect(card.locator(".c-tag-requeued")).to_have_attribute("title", re.compile("back at the front"))
    w.expect_message("system", "disconnected")
    # A chat that never had an agent carries no such mark.
    fresh = shopper_waiting(new_context, own_gateway.base_url)
    expect(other.card(fresh.conversation_id())).to_be_visible()
    expect(other.card(fresh.conversation_id()).locator(".c-tag-requeued")).to_have_count(0)
