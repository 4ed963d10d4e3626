"""The shopper widget's details a person notices (issue 14), against the real
gateway and the trained assistant: the chat keeps following new messages even
after a tall one, "<agent> joined the chat" once, the agent's name and
initials, unread agent messages in the launcher badge and the page title,
suggested replies on the opening screen, no wait estimate when nobody is
online, rating stars a person can see, and a storefront that agrees with the
shop's data."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Locator, expect

from .conftest import ROOT
from .pages import Console, Widget

pytestmark = pytest.mark.timeout(150)

BOT = 30_000  # the trained assistant can take a moment on a busy machine
TALL = "\n".join(f"Step {i}: check the label on the parcel against the order." for i in range(1, 31))
DOMAIN = yaml.safe_load(Path(ROOT / "domain.yml").read_text())


# ---- helpers -------------------------------------------------------------------


def luminance(rgb: str) -> float:
    """Relative luminance (WCAG 2) of a computed colour "rgb(r, g, b)"."""
    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def opaque(rgb: str) -> str:
    assert not rgb.startswith("rgba") or rgb.endswith(", 1)"), f"translucent colour {rgb}: blend it first"
    return rgb


def style(locator: Locator, prop: str) -> str:
    return locator.evaluate("(el, p) => getComputedStyle(el)[p]", prop)


def at_the_end(scroller: Locator) -> bool:
    return scroller.evaluate("s => s.scrollHeight - s.scrollTop - s.clientHeight < 2")


def settle(page, scroller: Locator) -> None:
    """Give a pending scroll (it runs on the next animation frame) up to 2 s."""
    for _ in range(20):
        if at_the_end(scroller):
            return
        page.wait_for_timeout(100)


def with_an_agent(new_context, base_url: str, agent, **shopper_context):
    """A signed-in console, and a shopper whose chat it claimed."""
    console = Console(new_context(viewport={"width": 1366, "height": 800}).new_page()).login(
        base_url, agent["username"], agent["password"])
    w = Widget(new_context(**shopper_context).new_page()).goto(base_url).open()
    w.send("/request_human")
    expect(w.queue).to_be_visible(timeout=BOT)
    console.claim(console.card(w.conversation_id()))
    w.expect_message("system", f"{agent['name']} joined the chat")
    return w, console


# ---- tests ---------------------------------------------------------------------


def test_a_chat_with_a_person_shows_who_and_what_is_unread(gateway, new_context, agent, screenshots_dir):
    w, console = with_an_agent(new_context, gateway.base_url, agent, viewport={"width": 360, "height": 740},
                               is_mobile=True, has_touch=True, device_scale_factor=2)
    page = w.page
    # The join is said once: the gateway's stored line, no second one from the widget.
    page.wait_for_timeout(500)
    expect(w.from_("system").filter(has_text="joined the chat")).to_have_count(1)

    # The agent's messages carry their name and initials ("Ada Obi" -> "AO"), so does the header.
    console.reply("Hello, I am looking at your order now.")
    w.expect_message("agent", "looking at your order")
    name = page.locator(".kw-from-agent .kw-agent-name").last
    expect(name).to_have_text(re.compile(r"^AO\s*" + agent["name"] + "$"))
    expect(name.locator(".kw-agent-avatar")).to_have_text("AO")
    expect(page.locator(".kw-header .kw-initials")).to_have_text("AO")
    expect(w.subtitle).to_have_text(f"Chatting with {agent['name']}")
    w.send("Thank you! It is KH-204518.")
    console.reply("Thanks. It shipped yesterday with GIG Logistics; you can track it with GIG-7781204518.")
    w.expect_message("agent", "GIG-7781204518")
    page.wait_for_timeout(400)  # let the scroll settle for the picture
    page.screenshot(path=str(screenshots_dir / "widget-agent.png"))

    # Minimised: an agent message shows on the launcher badge and in the page title.
    title = page.title()
    page.get_by_role("button", name="Minimise chat").click()
    console.reply("Found it: it left the warehouse this morning.")
    expect(w.launcher.locator(".kw-badge")).to_have_text("1")
    expect(w.launcher).to_have_accessible_name(re.compile(r"\(1 unread\)"))
    expect(page).to_have_title(f"(1) {title}")
    console.reply("Anything else?")
    expect(page).to_have_title(f"(2) {title}")
    w.open()
    expect(w.launcher.locator(".kw-badge")).to_be_hidden()
    expect(page).to_have_title(title)  # the page's own title back once read
    page.reload()
    expect(Widget(page).from_("system").filter(has_text="joined the chat")).to_have_count(1)  # after a reload too

    # The rating card's stars: glyph and outline at least 3:1 (WCAG 1.4.11), chosen or not.
    console.page.get_by_role("button", name="Close chat").click()
    rating = page.get_by_role("group", name="How was your conversation?")
    expect(rating).to_be_visible()
    card_bg = opaque(style(page.locator(".kw-rating"), "backgroundColor"))
    rating.get_by_role("button", name="4 stars out of 5").click()
    page.wait_for_timeout(250)  # past a colour transition, if any
    chosen = rating.get_by_role("button", name="4 stars out of 5")
    not_chosen = rating.get_by_role("button", name="5 stars out of 5")
    for label, star in (("chosen", chosen), ("not chosen", not_chosen)):
        glyph, fill = opaque(style(star, "color")), opaque(style(star, "backgroundColor"))
        border = opaque(style(star, "borderTopColor"))
        assert contrast(glyph, fill) >= 3, f"{label} star: {glyph} on {fill} is {contrast(glyph, fill):.2f}:1"
        assert contrast(border, card_bg) >= 3, f"{label} star outline: {contrast(border, card_bg):.2f}:1"
    assert style(chosen, "color") != style(not_chosen, "color")  # chosen ones still stand out


def test_the_chat_follows_new_messages_after_a_tall_one(gateway, new_context, agent):
    w, console = with_an_agent(new_context, gateway.base_url, agent)
    scroller = w.page.locator(".kw-scroller")

    # The agent sends a tall message, then the answer that matters: the widget follows both.
    console.reply(TALL)
    w.expect_message("agent", "Step 30")
    console.reply("Your order KH-204518 has shipped.")
    w.expect_message("agent", "has shipped")
    expect(w.from_("agent").last).to_be_in_viewport()
    settle(w.page, scroller)
    assert at_the_end(scroller)

    # Scrolled up to read: a new message does not yank the shopper down; a button offers the way.
    jump = w.page.get_by_role("button", name="New message ↓")
    expect(jump).to_be_hidden()
    scroller.evaluate("s => { s.scrollTop = 0; }")
    console.reply("Take your time.")
    w.expect_message("agent", "Take your time.")
    w.page.wait_for_timeout(300)
    assert scroller.evaluate("s => s.scrollTop") == 0
    jump.click()
    expect(w.from_("agent").last).to_be_in_viewport()
    expect(jump).to_be_hidden()
    expect(w.input).to_be_focused()

    # The same in the console: a tall shopper message, then a short one, both followed.
    transcript = console.transcript()
    w.input.fill(TALL.replace("Step", "Point"))
    w.input.press("Enter")
    console.expect_in_transcript("shopper", "Point 30")
    w.send("Is that all right?")
    console.expect_in_transcript("shopper", "Is that all right?")
    last = console.active_panel().locator(".c-from-shopper").last
    expect(last).to_be_in_viewport()
    settle(console.page, transcript)
    assert at_the_end(transcript)
    transcript.evaluate("s => { s.scrollTop = 0; }")
    w.send("Hello?")
    console.expect_in_transcript("shopper", "Hello?")
    assert transcript.evaluate("s => s.scrollTop") == 0
    console.active_panel().get_by_role("button", name="New message ↓").click()
    expect(console.active_panel().locator(".c-from-shopper").last).to_be_in_viewport()
    expect(console.active_panel().get_by_role("button", name="New message ↓")).to_be_hidden()


def test_the_opening_screen_offers_the_assistants_first_choices(gateway, new_context):
    page = new_context().new_page()
    w = Widget(page).goto(gateway.base_url).open()
    expect(page.get_by_text("Hi! How can we help?")).to_be_visible()
    # The same choices as the assistant's own greeting for a shopper (domain.yml).
    greeting = [v for v in DOMAIN["responses"]["utter_greet"] if "condition" not in v][0]
    chips = w.quick_replies.get_by_role("button")
    expect(chips).to_have_text([b["title"] for b in greeting["buttons"]])
    intents = set(DOMAIN["intents"])
    assert all(b["payload"].lstrip("/") in intents for b in greeting["buttons"])

    w.quick_replies.get_by_role("button", name="Track an order").click()
    w.expect_message("shopper", "Track an order")  # the title, not "/track_order"
    expect(w.quick_replies).to_be_hidden()
    expect(w.from_("bot").last).to_contain_text(re.compile("order number", re.I), timeout=BOT)
    # A conversation under way does not offer the opening choices again after a reload.
    page.reload()
    w = Widget(page)
    expect(w.from_("bot").last).to_contain_text(re.compile("order number", re.I))
    expect(w.quick_replies.get_by_role("button", name="Track an order")).to_have_count(0)


def test_nobody_online_means_no_wait_estimate(own_gateway, new_context):
    # Its own gateway: no agent has ever signed in to it.
    page = new_context().new_page()
    w = Widget(page).goto(own_gateway.base_url).open()
    w.send("/request_human")
    expect(page.get_by_text("Nobody is available right now", exact=True)).to_be_visible(timeout=BOT)
    expect(w.queue).to_contain_text("You're next in line for a person.")
    expect(w.queue).to_contain_text("Nobody is online right now, so there is no wait estimate.")
    expect(w.queue).not_to_contain_text(re.compile(r"Estimated wait|minute"))
    page.reload()  # resumed: still no estimate above the offline card
    expect(page.get_by_text("Nobody is available right now", exact=True)).to_be_visible()
    expect(w.queue).to_contain_text("no wait estimate")
    expect(w.queue).not_to_contain_text("Estimated wait")


def test_the_storefront_order_card_agrees_with_the_shop_and_the_assistant(gateway, new_context):
    shop = yaml.safe_load((ROOT / "actions" / "shop" / "demo_shop.yml").read_text())
    page = new_context().new_page()
    w = Widget(page).goto(gateway.base_url)
    card = page.locator(".hero-card")
    number = re.search(r"KH-\d+", card.locator(".hero-card-title").inner_text()).group(0)
    order = next(o for o in shop["orders"] if o["number"] == number)
    status_word = order["status"].replace("_", " ")
    shown = card.locator(".hero-card-status").inner_text()
    assert shown.lower().startswith(status_word), (shown, order["status"])
    assert order["shipments"][0]["carrier"] in shown

    # And the assistant, asked about that order by its owner, says the same.
    customer = next(c for c in shop["customers"] if c["email"].lower() == order["customer"].lower())
    w.open()
    w.send(f"Where is my order {number}?")
    expect(w.from_("bot").last).to_contain_text(re.compile("email|phone", re.I), timeout=BOT)
    w.send(customer["email"])
    w.expect_message("bot", f"is {status_word}", timeout=BOT)
