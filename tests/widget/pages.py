"""Page objects: what a shopper and an agent see and do, in Playwright terms.

Locators go by role, label and visible text wherever a person would, and
pierce the widget's open shadow root (Playwright's CSS and role engines do).
"""
from __future__ import annotations

import re
from typing import Pattern, Union

from playwright.sync_api import Locator, Page, expect

Text = Union[str, Pattern[str]]

#: An init script (``page.add_init_script``, before the page loads) with which a
#: test takes the page off the network as a dropped connection would:
#: ``window.__offline(true)`` closes the page's open websockets and makes new
#: ones fail (they go to a port nothing listens on); ``window.__offline(false)``
#: lets them through again and tells the page the browser is back online.
OFFLINE_SWITCH = """
(() => {
  const Native = window.WebSocket;
  const sockets = [];
  let offline = false;
  window.WebSocket = function (url, protocols) {
    const target = new URL(url);
    if (offline) target.host = "127.0.0.1:9";
    const socket = new Native(target.href, protocols);
    sockets.push(socket);
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
  window.__offline = (on) => {
    offline = on;
    if (on) sockets.splice(0).forEach((s) => s.close());
    else window.dispatchEvent(new Event("online"));
  };
})();
"""


class Widget:
    """The shopper widget on a page (floating or inline)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.locator(".kw-launcher")
        self.panel = page.locator(".kw-panel")
        self.input = page.get_by_role("textbox", name="Message")
        self.messages = page.locator(".kw-messages > li")
        self.queue = page.locator(".kw-banner-queue")
        self.paged = page.locator(".kw-banner-paged")
        self.connection = page.locator(".kw-banner-conn")
        self.typing = page.locator(".kw-typing")
        self.subtitle = page.locator(".kw-subtitle")
        self.live = page.locator(".kw-live[aria-live=polite]")
        self.quick_replies = page.get_by_role("group", name="Suggested replies")

    def goto(self, base_url: str, path: str = "/") -> "Widget":
        self.page.goto(base_url + path)
        self.page.wait_for_function("() => window.KaraChat && window.KaraChat.instances.length > 0")
        return self

    def open(self) -> "Widget":
        if self.launcher.get_attribute("aria-expanded") != "true":
            self.page.get_by_role("button", name=re.compile(r"^Open chat")).click()
        expect(self.panel).to_be_visible()
        return self

    def conversation_id(self) -> str:
        """The id of the conversation stored for resuming (set by the gateway's welcome)."""
        return self.page.evaluate("""() => {
            for (const k of Object.keys(localStorage))
                if (k.startsWith('kara-chat:v1:')) return JSON.parse(localStorage.getItem(k)).conversation_id;
        }""")

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def from_(self, sender: str) -> Locator:
        """Message bubbles from shopper | bot | agent | system."""
        if sender == "system":
            return self.page.locator(".kw-from-system .kw-system")
        return self.page.locator(f".kw-from-{sender} .kw-bubble")

    def expect_message(self, sender: str, text: Text, timeout: float = 20_000) -> None:
        expect(self.from_(sender).filter(has_text=text).last).to_be_visible(timeout=timeout)

    def bubble_texts(self, sender: str):
        return self.from_(sender).all_inner_texts()


class Console:
    """The agent console."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.queues = page.locator("#queues")
        self.emergency_banner = page.locator("#emergency-banner")
        self.tabs = page.get_by_role("tab")
        self.conn = page.locator("#conn-status")

    def login(self, base_url: str, username: str, password: str) -> "Console":
        self.page.goto(base_url + "/console")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.conn).to_have_text("Online")
        return self

    def offline(self, on: bool) -> None:
        """Cut the console off the network, or let it back (the page was loaded
        with :data:`OFFLINE_SWITCH`), and see the console say so."""
        self.page.evaluate("(on) => window.__offline(on)", on)
        if on:
            expect(self.conn).to_contain_text("Reconnecting")
        else:
            expect(self.conn).to_have_text("Online")

    def entry(self, text: Text) -> Locator:
        return self.queues.locator(".c-entry").filter(has_text=text)

    def card(self, conversation_id: str) -> Locator:
        return self.queues.locator(f'.c-entry[data-conversation="{conversation_id}"]')

    def claim(self, card: Locator) -> Locator:
        """Press the card's Claim button; returns that chat's panel once it is
        in front (with another chat open, some panel shows before this one)."""
        conversation_id = card.get_attribute("data-conversation")
        card.get_by_role("button", name=re.compile(r"^Claim")).click()
        panel = self.page.locator(f'[role="tabpanel"][data-conversation="{conversation_id}"]')
        expect(panel).to_be_visible()
        return panel

    def active_panel(self) -> Locator:
        return self.page.locator(".c-pane:not([hidden])")

    def reply(self, text: str) -> None:
        box = self.active_panel().get_by_role("textbox", name="Reply to the shopper")
        box.fill(text)
        box.press("Enter")

    def transcript(self) -> Locator:
        return self.active_panel().locator(".c-scroll")

    def expect_in_transcript(self, sender: str, text: Text, timeout: float = 20_000) -> None:
        loc = self.active_panel().locator(f".c-from-{sender} .c-msg-text").filter(has_text=text).last
        expect(loc).to_be_visible(timeout=timeout)
