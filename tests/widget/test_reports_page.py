"""The supervisors' reports page (/console/reports) in Debian's Chromium,
against a real ``python -m handoff serve`` on the seeded November of
``tests/ops/seed.py``: a supervisor signs in, picks the range and reads the
hand-computed figures in the charts; an agent is refused; names with markup
stay text; the page loads nothing from anywhere but the gateway."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, List

import pytest
import yaml
from playwright.sync_api import expect
from sqlalchemy import text

from handoff.ops import db
from tests.handoff.helpers import GatewayProcess
from tests.ops.conftest import migrate
from tests.ops.gateways import PASSWORD, create_agent, running
from tests.ops.seed import TEST_OPS, seed

from .conftest import watch

pytestmark = pytest.mark.timeout(180)

C09 = 24 * 3600 + 23 * 3600 + 3 * 60  # c09's first response: Sat 10:00 -> Mon 09:03
MARKUP = '<img src=x onerror="alert(1)">Bola'


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


@pytest.fixture
def reports_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate(url)
    engine = db.engine(url)
    try:
        with engine.begin() as connection:
            seed(connection)
            # an agent whose name is markup: the page must show it as text
            connection.execute(text("UPDATE agents SET name = :name WHERE username = 'bola'"), {"name": MARKUP})
    finally:
        engine.dispose()
    create_agent(url, "sade", "Sade Bello", role="supervisor")
    create_agent(url, "tunde", "Tunde Ola")
    ops_file = tmp_path / "ops.yml"
    ops_file.write_text(yaml.safe_dump(TEST_OPS), encoding="utf-8")
    yield from running(url, tmp_path / "gateway.log", ops_file)


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(base_url + "/console/reports")
    expect(page.get_by_role("heading", name="Supervisor sign-in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def row(page, chart: str, label: str):
    figure = page.locator("figure.kc-chart", has=page.locator("figcaption", has_text=chart))
    quoted = label.replace("\\", "\\\\").replace('"', '\\"')
    return figure.locator(f'g.kc-row[data-label="{quoted}"]')


def test_a_supervisor_reads_november_at_a_glance(reports_gateway: GatewayProcess, new_context) -> None:
    page = new_context(viewport={"width": 1280, "height": 1600}).new_page()
    errors: List[str] = []
    watch(page, errors)
    requested: List[str] = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, reports_gateway.url, "sade")
    expect(page.locator("#agent-name")).to_have_text("Sade Bello")
    page.get_by_label("From").fill("2026-11-01")
    page.get_by_label("To").fill("2026-11-30")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#report-title")).to_have_text("Support report 2026-11-01 to 2026-11-30 (Africa/Lagos days)")

    tiles = {t.locator("dt").inner_text(): t.locator("dd").inner_text().replace("\n", " ")
             for t in page.locator(".r-tile").all()}
    assert tiles == {
        "Conversations": "13",
        "Resolved by the assistant alone": "23.1% 3 conversations",  # c01 c02 c14 of 13
        "Handed to a person": "69.2% 9 conversations",
        "Answered within target": "57.1% 4 of 7",
        "CSAT": f"{(5 + 2 + 4 + 3) / 4:.2f} 4 ratings",
        "Offline tickets": "3",
        # c08 after 2 d 14 h 55 min, c16 after 1 h: p50 32.0 h, p95 1 h + (c08 - 1 h) * 0.95
        "Tickets answered": "2 time to answer p50 32.0 h, p95 59.8 h",
    }
    expect(row(page, "Handoffs by queue", "General").locator(".kc-value")).to_have_text("6")
    expect(row(page, "Handoffs by reason", "Requested human").locator(".kc-value")).to_have_text("5")
    expect(row(page, "Handoffs by reason", "Not understood").locator(".kc-value")).to_have_text("1")
    # first responses of general: 40, 400, c09: p50 400 s = 6.7 min, p95 400 + (c09 - 400) * 0.9
    general = row(page, "First human response", "General")
    expect(general.locator(".kc-v0")).to_have_text(f"{400 / 60:.1f} min")
    expect(general.locator(".kc-v1")).to_have_text(hours(400 + (C09 - 400) * 0.9))
    # waits of security: 60, 100, 60 (the transfer and the requeue wait again): p95 60 + 40 * 0.9
    security = row(page, "Wait in queue", "Security")
    expect(security.locator(".kc-v0")).to_have_text("60 s")
    expect(security.locator(".kc-v1")).to_have_text(f"{60 + 40 * 0.9:.0f} s")
    expect(row(page, "within the first-response target", "General (5.0 min)").locator(".kc-value")).to_have_text(
        "50.0% (2/4)")
    expect(row(page, "within the first-response target", "Security (3.0 min)").locator(".kc-value")).to_have_text(
        "0.0% (0/1)")
    expect(row(page, "CSAT by agent", "Ada (ada)").locator(".kc-value")).to_have_text("4.50 (2 ratings)")
    expect(row(page, "CSAT by agent", f"{MARKUP} (bola)").locator(".kc-label")).to_have_text(f"{MARKUP} (bola)")
    for score, n in (("1 ★", "0"), ("2 ★", "1"), ("5 ★", "1")):
        expect(row(page, "CSAT distribution", score).locator(".kc-value")).to_have_text(n)
    expect(row(page, "Offline tickets by queue", "From the assistant").locator(".kc-value")).to_have_text("1")
    breaches = page.locator("#breaches tbody tr")
    expect(breaches).to_have_count(3)
    assert [r.get_attribute("data-conversation") for r in breaches.all()] == ["c05", "c10", "c15"]
    expect(breaches.nth(2).locator("td").nth(4)).to_have_text("not answered")
    expect(page.locator("#comments li").nth(0)).to_have_text(
        "5/5 Ada (ada) (General, c04): Great, thanks! email me at [email]")

    missed = page.locator("#missed li")
    expect(missed).to_have_count(2)
    expect(page.locator("#missed-count")).to_have_text("2")
    expect(missed.nth(0)).to_have_text(
        "1× words: [card] card fit how pay with" "abeg how I fit pay with card [card]" "conversations: c16")
    assert "KH-204518" not in page.content() and "4111" not in page.content()

    assert page.locator("img").count() == 0 and not errors, errors
    assert all(u.startswith(reports_gateway.url + "/") for u in requested), requested
    # the range is in the address: a reload shows the same report with the session kept
    page.reload()
    expect(row(page, "Handoffs by queue", "General").locator(".kc-value")).to_have_text("6")

    # another range: October holds only c12 (Oct 31 21:00 Lagos), handled by the assistant
    page.get_by_label("From").fill("2026-10-01")
    page.get_by_label("To").fill("2026-10-31")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("[data-tile=Conversations] dd")).to_have_text("1")
    expect(page.locator("figure", has_text="Handoffs by reason").locator(".kc-empty")).to_have_text(
        "No handoffs in this period.")
    # a range that ends before it starts is explained
    page.get_by_label("From").fill("2026-11-30")
    page.get_by_label("To").fill("2026-11-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#report-error")).to_have_text(re.compile(r"^Cannot show that range: the period ends"))
    expect(page.locator("#report")).to_be_hidden()


def test_an_agent_is_refused(reports_gateway: GatewayProcess, new_context) -> None:
    page = new_context().new_page()
    errors: List[str] = []
    watch(page, errors)
    sign_in(page, reports_gateway.url, "tunde")
    expect(page.locator("#report-error")).to_have_text("Reports are for supervisors. Ask a supervisor to share them.")
    expect(page.locator("#report")).to_be_hidden()
    assert page.locator(".kc-chart").count() == 0 and not errors
