"""The SLA countdown, the breach mark, the SLA alerts and the supervisors'
Reports link in the agent console (widget/console-sla.js), in Debian's
Chromium against a real ``python -m handoff serve`` whose general queue has
a target of a few seconds (its own ops.yml, staffed around the clock). The
assistant is not needed: with Rasa away the gateway hands a request for a
person off by itself."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from playwright.sync_api import expect

from handoff.ops import db, roles
from tests.handoff.helpers import CLOSED_RASA

from .conftest import Gateway
from .pages import Console, Widget

pytestmark = pytest.mark.timeout(150)
TARGET_S = 6


def _gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, silence: dict) -> Gateway:
    """A gateway with its own ops.yml: the general queue's target TARGET_S, ``silence`` for agents."""
    always = {"hours": "always"}
    settings = {
        "timezone": "Africa/Lagos",
        "team_hours": {"monday": ["10:00", "19:00"]},
        "queues": {"emergency": {"first_response_s": 60, **always},
                   "security": {"first_response_s": 180, **always},
                   "general": {"first_response_s": TARGET_S, **always},
                   "disputes": {"first_response_s": 600, **always}},
        "agent_silence": silence,
        "retention": {"transcript_days": 30},
    }
    ops_file = tmp_path / "ops-sla.yml"
    ops_file.write_text(yaml.safe_dump(settings), encoding="utf-8")
    monkeypatch.setenv("KARA_OPS_FILE", str(ops_file))  # the gateway process inherits it
    monkeypatch.setenv("KARA_GATEWAY_SLA_CHECK_S", "0.5")
    workdir = tmp_path / "gateway"
    workdir.mkdir()
    return Gateway(CLOSED_RASA, workdir).start()


@pytest.fixture
def sla_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    gw = _gateway(tmp_path, monkeypatch, {"flag_after_s": 300, "requeue_after_s": "off"})
    yield gw
    gw.close()


@pytest.fixture
def quick_requeue_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    gw = _gateway(tmp_path, monkeypatch, {"flag_after_s": 1, "requeue_after_s": 3})
    yield gw
    gw.close()


def supervisor(gw: Gateway, name: str) -> dict:
    account = gw.create_agent(name)
    engine = db.engine(gw.db_url)
    try:
        assert roles.set_role(engine, account["username"], roles.SUPERVISOR)
    finally:
        engine.dispose()
    return account


def test_countdown_breach_mark_alert_and_reports_link(sla_gateway: Gateway, new_context) -> None:
    boss = supervisor(sla_gateway, "Sade Bello")
    plain = sla_gateway.create_agent("Kemi Ade")
    page = new_context().new_page()
    console = Console(page).login(sla_gateway.base_url, boss["username"], boss["password"])
    reports = page.get_by_role("link", name="Reports")
    expect(reports).to_be_visible()
    expect(reports).to_have_attribute("href", "/console/reports")
    kemi_page = new_context().new_page()
    kemi = Console(kemi_page).login(sla_gateway.base_url, plain["username"], plain["password"])
    expect(kemi_page.get_by_role("link", name="Reports")).to_have_count(0)  # hidden: not for agents

    shopper = Widget(new_context().new_page()).goto(sla_gateway.base_url).open()
    shopper.send("/request_human")
    expect(shopper.queue).to_be_visible(timeout=20_000)
    card = console.card(shopper.conversation_id())
    countdown = card.locator(".c-sla")
    expect(countdown).to_have_text(re.compile(r"^SLA 0:0[0-6] left$"))
    expect(card).not_to_have_class(re.compile("c-entry-breached"))

    # past the target: the card says so in words, and the supervisor is alerted
    expect(countdown).to_have_text(re.compile(r"^⚠ SLA breached · 0:0\d over$"), timeout=(TARGET_S + 3) * 1000)
    expect(countdown).to_have_class(re.compile("c-sla-breached"))
    expect(card).to_have_class(re.compile("c-entry-breached"))
    alert = page.locator("#sla-alerts .c-sla-alert")
    expect(alert).to_have_count(1, timeout=10_000)
    expect(alert).to_contain_text("SLA breached: General chat")
    expect(alert).to_contain_text("still waiting past its first-response target")
    expect(kemi_page.locator("#sla-alerts")).to_be_hidden()  # the alert is for supervisors
    expect(kemi.card(shopper.conversation_id()).locator(".c-sla")).to_contain_text("SLA breached")

    # claimed and still unanswered: the chat's tab and header carry the mark, until the agent answers
    panel = kemi.claim(kemi.card(shopper.conversation_id()))
    tab_mark = kemi_page.get_by_role("tab").locator(".c-sla")
    expect(tab_mark).to_have_text(re.compile(r"^⚠ Overdue 0:\d\d$"))
    expect(panel.locator(".c-pane-head .c-sla")).to_contain_text("SLA breached")
    kemi.reply("Hello, I am Kemi. Sorry for the wait.")
    shopper.expect_message("agent", "Sorry for the wait")
    expect(tab_mark).to_have_count(0)
    expect(panel.locator(".c-sla")).to_have_count(0)


def test_a_chat_requeued_for_silence_says_so_in_its_agents_pane(quick_requeue_gateway: Gateway,
                                                                 new_context) -> None:
    """The shopper waits past the silence limit: the chat goes back to the
    queue, and the agent's pane says why (the wording now lives with the
    other endings in console-chat.js, as a requeue after the grace period
    ends the same way)."""
    agent = quick_requeue_gateway.create_agent("Kemi Ade")
    console = Console(new_context().new_page()).login(quick_requeue_gateway.base_url, agent["username"],
                                                      agent["password"])
    shopper = Widget(new_context().new_page()).goto(quick_requeue_gateway.base_url).open()
    shopper.send("/request_human")
    expect(shopper.queue).to_be_visible(timeout=20_000)
    console.claim(console.card(shopper.conversation_id()))
    shopper.send("Hello? Is anyone there?")
    console.expect_in_transcript("shopper", "Hello? Is anyone there?")
    ended = console.active_panel().locator(".c-ended")
    # (one text for both ways a chat is requeued: the pane cannot tell which)
    expect(ended).to_contain_text("Returned to the queue: the shopper had no answer for too long, or you were "
                                  "away longer than the grace period.", timeout=15_000)
    expect(console.active_panel().get_by_role("textbox", name="Reply to the shopper")).to_be_hidden()
    expect(console.card(shopper.conversation_id())).to_be_visible()  # waiting again, at the front
