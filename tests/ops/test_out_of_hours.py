"""The honest out-of-hours answer, on a real ``python -m handoff serve``
whose ``ops.yml`` has the team off today and tomorrow: a shopper who asks for
a person is told when people are back and offered the ticket, instead of a
queue nobody serves; the request is stored for the reports; an emergency is
queued as ever; with an agent online the chat is queued as inside hours.
This is the default: the gateway is started without any setting for it;
``KARA_GATEWAY_OUT_OF_HOURS_TICKET=0`` turns it off."""
from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.handoff.helpers import CLOSED_RASA, GatewayProcess, agent, shopper

from .gateways import PASSWORD, create_agent, running
from .seed import TEST_OPS

pytestmark = pytest.mark.timeout(180)
LAGOS = ZoneInfo("Africa/Lagos")


def closed_ops(tmp_path: Path) -> Path:
    """The team on duty every day but today and tomorrow (whatever the hour the test runs)."""
    today = dt.datetime.now(LAGOS).date()
    days = {day: ["10:00", "19:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                                  "sunday")}
    settings = {**TEST_OPS, "team_hours": days, "closed_dates": [str(today), str(today + dt.timedelta(days=1))]}
    ops_file = tmp_path / "ops.yml"
    ops_file.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return ops_file


@pytest.fixture
def closed_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    create_agent(url, "kemi", "Kemi Ade")
    yield from running(url, tmp_path / "gateway.log", closed_ops(tmp_path), rasa_url=CLOSED_RASA)  # the default


def sockets(gateway: GatewayProcess) -> Any:
    return gateway  # the helpers need only url and ws_url


def stints(gateway: GatewayProcess, db: Path) -> list:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as connection:
        return connection.execute("SELECT queue, outcome, claimed_at FROM handoffs ORDER BY id").fetchall()


def test_asking_for_a_person_when_nobody_is_on_duty(closed_gateway: GatewayProcess, tmp_path: Path) -> None:
    back = dt.datetime.now(LAGOS).date() + dt.timedelta(days=2)

    async def scenario() -> None:
        ada = await shopper(sockets(closed_gateway))
        # the assistant is down here, so the gateway hands off by itself: the same handoff point
        await ada.send(type="message", text="/request_human", client_id="m1")
        note = await ada.expect_message("Nobody from our team is on duty right now.", sender="system")
        assert note["text"] == (f"Nobody from our team is on duty right now. Our team is back on {back:%A} at 10:00 "
                                "Lagos time. You can leave a message with your email address and we will reply "
                                "by email.")
        await ada.expect("offline")
        assert not [f for f in await ada.quiet(0.5) if f.get("type") == "state" and f.get("state") == "waiting"]
        await ada.send(type="ticket", email="ada@example.com", text="Please call me back", ref="t1")
        assert (await ada.expect("ticket_saved"))["ticket_id"] == 1

        # an emergency is never turned away
        nurse = await shopper(sockets(closed_gateway), role="provider", line="emergency")
        await nurse.expect("state", timeout=30, state="waiting", queue="emergency")

        # with an agent online, the chat is queued for them
        kemi = await agent(sockets(closed_gateway), "kemi", PASSWORD)
        bola = await shopper(sockets(closed_gateway))
        await bola.send(type="message", text="/request_human", client_id="m1")
        await bola.expect("state", state="waiting", queue="general")
        for client in (ada, nurse, kemi, bola):
            await client.close()

    asyncio.run(scenario())
    assert stints(closed_gateway, tmp_path / "gateway.db") == [
        ("general", "out_of_hours", None), ("emergency", None, None), ("general", None, None)]


def test_turned_off_the_chat_is_queued_out_of_hours(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"

    async def scenario(gateway: GatewayProcess) -> None:
        ada = await shopper(sockets(gateway))
        await ada.send(type="message", text="/request_human", client_id="m1")
        await ada.expect("state", state="waiting", queue="general")
        await ada.expect("offline")  # nobody online: the ticket is offered, in the queue
        await ada.close()

    for gateway in running(url, tmp_path / "gateway.log", closed_ops(tmp_path), rasa_url=CLOSED_RASA,
                           env={"KARA_GATEWAY_OUT_OF_HOURS_TICKET": "0"}):
        asyncio.run(scenario(gateway))
