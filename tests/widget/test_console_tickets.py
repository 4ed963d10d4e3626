"""The console's ticket inbox and "My ratings" in Debian's Chromium, against a
real ``python -m handoff serve`` (the assistant down, so the widget offers a
person, and nobody is online) whose mail goes to a real SMTP server (aiosmtpd):
a shopper leaves a message in the widget and is told when to expect the
answer; an agent opens the inbox, reads the conversation, replies, and the
SMTP server receives the email; the ticket moves to answered, then closed;
the agent reads the ratings of the chats they closed, markup shown as text."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, List

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from actions.policy import load_policy
from handoff.ops import db
from tests.handoff.helpers import CLOSED_RASA, GatewayProcess, spawn_gateway
from tests.handoff.smtp import SmtpServer
from tests.ops.conftest import migrate
from tests.ops.gateways import PASSWORD, create_agent
from tests.ops.seed import History, at

from .conftest import watch
from .pages import Widget

pytestmark = pytest.mark.timeout(240)
MARKUP = '<img src=x onerror="alert(1)">Thanks Amaka!'


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def desk_gateway(tmp_path: Path, smtp: SmtpServer) -> Iterator[GatewayProcess]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate(url)
    create_agent(url, "amaka", "Amaka Eze")
    engine = db.engine(url)
    try:  # two chats Amaka closed and the shoppers rated, one with markup in its comment
        with engine.begin() as connection:
            amaka = connection.execute(text("SELECT id FROM agents WHERE username = 'amaka'")).scalar_one()
            history = History(connection)
            for cid, score, comment, day in (("r1", 5, MARKUP, 2), ("r2", 3, None, 3)):
                history.conversation(cid, at(day, 9))
                history.stint(cid, "general", "requested_human", at(day, 9), claimed=30, closed=600, agent=amaka,
                              outcome="closed", rating=score, comment=comment)
    finally:
        engine.dispose()
    env = {"KARA_SMTP_HOST": "127.0.0.1", "KARA_SMTP_PORT": str(smtp.port), "KARA_SMTP_TLS": "none",
           "KARA_SMTP_FROM": "support@example.com"}
    gateway = spawn_gateway(["--db-url", url, "--rasa-url", CLOSED_RASA, "--secret", "desk-test-secret"],
                            tmp_path / "gateway.log", env=env)
    yield gateway
    gateway.stop()


def leave_a_message(page, base_url: str) -> None:
    w = Widget(page).goto(base_url).open()
    w.send("My parcel KH-204518 came open")
    w.expect_message("system", "the assistant is unavailable right now")
    # what the assistant's "Talk to a person" button sends (the assistant is down in this test)
    w.send("/request_human")
    expect(page.get_by_text("Nobody is available right now", exact=True)).to_be_visible(timeout=20_000)
    page.get_by_label("Your email address").fill("ngozi@example.com")
    page.get_by_label("Your message").fill("The seal was broken. Please send a new one.")
    page.get_by_role("button", name="Leave a message").click()
    window = load_policy().window("general_response").text()  # "24-48 hours" in policy.yml
    w.expect_message("system", re.compile(r"saved as ticket #1; we will reply by email within " + re.escape(window)))


def test_an_agent_answers_a_ticket_from_the_inbox(desk_gateway: GatewayProcess, smtp: SmtpServer,
                                                  new_context, screenshots_dir: Path) -> None:
    errors: List[str] = []
    shopper = new_context().new_page()
    watch(shopper, errors)
    leave_a_message(shopper, desk_gateway.url)

    page = new_context(viewport={"width": 1400, "height": 900}).new_page()
    watch(page, errors)
    requested: List[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(desk_gateway.url + "/console")
    page.get_by_label("Username").fill("amaka")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    tickets = page.get_by_role("button", name="Tickets, 1 open")
    expect(tickets).to_be_visible()
    tickets.click()
    inbox = page.get_by_role("region", name="Ticket inbox")
    expect(inbox.get_by_role("button", name="Open (1)")).to_have_attribute("aria-pressed", "true")
    inbox.get_by_role("button", name=re.compile(r"#1 ngozi@example\.com")).click()
    expect(inbox.get_by_role("heading", name="Ticket #1 from ngozi@example.com")).to_be_visible()
    conversation = inbox.get_by_role("list", name="Conversation")
    expect(conversation.locator(".c-from-shopper").first).to_contain_text("My parcel KH-204518 came open")

    reply = "So sorry! A new pack leaves our Yaba store today."
    inbox.get_by_label("Reply to ngozi@example.com").fill(reply)
    page.screenshot(path=str(screenshots_dir / "console-tickets.png"))  # README, "Agent desk"
    inbox.get_by_role("button", name="Send reply by email").click()
    expect(inbox.locator("#ticket-status")).to_have_text("Reply emailed to ngozi@example.com.")
    (mail,) = smtp.wait(1)
    assert mail.recipients == ["ngozi@example.com"] and mail.message["From"] == "support@example.com"
    assert mail.message["Subject"] == f"Re: your message to {load_policy().company_name} (ticket #1)"
    assert mail.text.startswith(reply + "\n\nAmaka Eze\n") and "> The seal was broken." in mail.text
    expect(inbox.get_by_role("list", name="Replies").locator(".d-sent")).to_have_text(re.compile(r"^Emailed "))
    expect(page.get_by_role("button", name="Tickets, 0 open")).to_be_visible()

    inbox.get_by_role("button", name="Answered (1)").click()
    inbox.get_by_role("button", name=re.compile(r"#1 ngozi")).click()
    expect(inbox.locator(".c-pane-sub")).to_contain_text("Answered by Amaka Eze")
    inbox.get_by_role("button", name="Close ticket #1").click()
    expect(inbox.get_by_role("status").filter(has_text="Ticket #1 closed.")).to_be_visible()
    inbox.get_by_role("button", name="Closed (1)").click()
    expect(inbox.get_by_role("button", name=re.compile(r"#1 ngozi"))).to_be_visible()
    page.keyboard.press("Escape")
    expect(inbox).to_be_hidden()
    page.get_by_role("button", name="Tickets, 0 open").click()
    page.get_by_role("button", name="Hide ticket inbox").click()
    expect(inbox).to_be_hidden()

    page.get_by_role("button", name="My ratings").click()
    ratings = page.get_by_role("region", name="My ratings")
    expect(ratings.locator("#ratings-summary")).to_have_text("Average 4.0 of 5 from 2 ratings")
    items = ratings.get_by_role("list", name="Rated chats, newest first").get_by_role("listitem")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("3/5")
    expect(items.nth(0)).to_contain_text("No comment.")
    expect(items.nth(1)).to_contain_text("5/5")
    expect(items.nth(1).locator(".c-msg-text")).to_have_text(MARKUP)  # shown as text, never run
    assert ratings.locator("img").count() == 0
    assert errors == []
    assert all(u.startswith(desk_gateway.url) for u in requested), [u for u in requested
                                                                     if not u.startswith(desk_gateway.url)]


def test_the_shopper_emails_the_conversation_to_themselves(desk_gateway: GatewayProcess, smtp: SmtpServer,
                                                           new_context) -> None:
    errors: List[str] = []
    page = new_context().new_page()
    watch(page, errors)
    w = Widget(page).goto(desk_gateway.url).open()
    w.send("Is the glucometer kit in stock?")
    w.expect_message("system", "the assistant is unavailable right now")
    toggle = page.get_by_role("button", name="Email me this conversation")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    box = page.get_by_label("Email address for the transcript")
    box.fill("not-an-address")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".kw-tx-note")).to_have_text("Please enter a valid email address.")
    box.fill("ngozi@example.com")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".kw-tx-note")).to_have_text("Sent to ngozi@example.com.")
    (mail,) = smtp.wait(1)
    assert mail.recipients == ["ngozi@example.com"]
    assert re.search(r"^\[\d\d:\d\d\] You: Is the glucometer kit in stock\?$", mail.text, re.M)
    assert errors == []
