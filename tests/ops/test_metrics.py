"""``GET /metrics`` of a real ``python -m handoff serve`` in front of the
trained assistant: a scripted scenario (a shopper talks to the assistant and
asks for a person, who waits past the queue's target; a second shopper floods
the gateway; an agent comes online and claims the chat), then a scrape parsed
with ``prometheus_client.parser``, each value checked against what the
scenario must have produced."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.handoff.helpers import CLOSED_RASA, GatewayProcess, agent, shopper

from .gateways import PASSWORD, create_agent, request, running
from .seed import TEST_OPS

TOKEN = "scrape-me-0123456789"
BURST = 5
Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]

pytestmark = pytest.mark.timeout(240)


def scrape(gateway: GatewayProcess, token: str = TOKEN) -> Samples:
    status, headers, body = request(gateway.url, "/metrics", token)
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def ops_file(tmp_path: Path) -> Path:
    """The test settings with the general queue staffed around the clock and
    a 1-second target: a chat left waiting 2 s is a breach whatever the hour."""
    settings = {**TEST_OPS, "queues": {**TEST_OPS["queues"], "general": {"first_response_s": 1, "hours": "always"}}}
    path = tmp_path / "ops.yml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


@pytest.fixture
def gateway(rasa_stack, tmp_path: Path) -> Iterator[GatewayProcess]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    create_agent(url, "kemi", "Kemi Ade")
    # a slow refill: a flood of frames is refused beyond the burst, exactly
    env = {"KARA_GATEWAY_METRICS_TOKEN": TOKEN, "KARA_GATEWAY_RATE_PER_S": "0.01",
           "KARA_GATEWAY_RATE_BURST": str(BURST)}
    yield from running(url, tmp_path / "gateway.log", ops_file(tmp_path), rasa_url=rasa_stack.rasa_url, env=env)


def stored(db_path: Path) -> Dict[str, int]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10) as connection:
        return dict(connection.execute("SELECT sender, count(*) FROM messages GROUP BY sender").fetchall())


def sockets(gateway: GatewayProcess) -> Any:
    """The websocket helpers of tests/handoff need only ``url`` and ``ws_url``, which a subprocess gateway has."""
    return gateway


def welcome_id(client: Any) -> str:
    return next(f["conversation_id"] for f in client.received if f.get("type") == "welcome")


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_a_scrape_after_a_scripted_scenario(gateway: GatewayProcess, tmp_path: Path) -> None:
    async def scenario() -> Tuple[Samples, Samples]:
        ada = await shopper(sockets(gateway))  # every socket: hello is the first frame of its burst
        await ada.send(type="message", text="hello", client_id="m1")
        await ada.expect("message", timeout=60, sender="bot")
        await ada.send(type="message", text="/request_human", client_id="m2")
        assert (await ada.expect("state", timeout=60, state="waiting"))["queue"] == "general"
        flood = await shopper(sockets(gateway))
        for _ in range(20):  # hello + 20 frames: BURST pass, the rest is refused
            await flood.send(type="typing", on=True)
        for _ in range(21 - BURST):
            await flood.expect("error", code="rate_limited")
        await asyncio.sleep(2.2)  # past general's 1-second target
        waiting = await asyncio.to_thread(scrape, gateway)
        kemi = await agent(sockets(gateway), "kemi", PASSWORD)
        await kemi.send(type="claim", conversation_id=welcome_id(ada))
        await kemi.expect("claimed")
        await ada.expect("state", state="agent")
        claimed = await asyncio.to_thread(scrape, gateway)
        for client in (ada, flood, kemi):
            await client.close()
        return waiting, claimed

    waiting, claimed = asyncio.run(scenario())
    # while the chat waited, nobody online
    assert value(waiting, "kara_queue_length", queue="general") == 1
    assert value(waiting, "kara_queue_length", queue="emergency") == 0
    assert value(waiting, "kara_conversations", state="waiting") == 1
    assert value(waiting, "kara_conversations", state="agent") == 0
    assert 2.2 <= value(waiting, "kara_queue_oldest_wait_seconds", queue="general") < 60
    assert value(waiting, "kara_sla_breached_waiting", queue="general") == 1
    assert value(waiting, "kara_sla_breached_waiting", queue="security") == 0
    assert value(waiting, "kara_agents_online") == 0
    assert value(waiting, "kara_open_sockets", kind="shopper") == 2
    assert value(waiting, "kara_open_sockets", kind="agent") == 0
    # two messages went to the assistant, both answered; the flood's refusals
    assert value(waiting, "kara_bot_turn_seconds_count") == 2
    assert value(waiting, "kara_bot_turn_seconds_bucket", le="+Inf") == 2
    assert 0 < value(waiting, "kara_bot_turn_seconds_sum") < 60
    assert value(waiting, "kara_assistant_failures_total", kind="unavailable") == 0
    assert value(waiting, "kara_refusals_total", endpoint="shopper", code="rate_limited") == 21 - BURST
    assert value(waiting, "kara_refusals_total", endpoint="agent", code="rate_limited") == 0
    # once claimed
    assert value(claimed, "kara_conversations", state="waiting") == 0
    assert value(claimed, "kara_conversations", state="agent") == 1
    assert value(claimed, "kara_queue_length", queue="general") == 0
    assert value(claimed, "kara_sla_breached_waiting", queue="general") == 0
    assert value(claimed, "kara_agents_online") == 1
    assert value(claimed, "kara_open_sockets", kind="agent") == 1
    # every message the gateway stored, counted by sender as in the database
    counted = {labels[0][1]: v for (name, labels), v in claimed.items() if name == "kara_messages_stored_total"}
    assert counted == stored(tmp_path / "gateway.db")
    assert counted["shopper"] == 2 and counted["bot"] >= 2 and counted["system"] >= 2


def test_metrics_need_the_token(gateway: GatewayProcess) -> None:
    assert request(gateway.url, "/metrics")[0] == 401
    status, headers, _ = request(gateway.url, "/metrics", TOKEN[:-1])
    assert (status, headers["WWW-Authenticate"]) == (401, 'Bearer realm="kara-metrics"')
    assert request(gateway.url, "/metrics", TOKEN + "0")[0] == 401


def test_no_token_no_metrics_and_a_failing_assistant_is_counted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    for gateway in running(url, tmp_path / "closed.log", ops_file(tmp_path), rasa_url=CLOSED_RASA):
        status, _, body = request(gateway.url, "/metrics", TOKEN)
        assert (status, body) == (404, b"Not found.\n")
    for gateway in running(url, tmp_path / "open.log", ops_file(tmp_path), "--metrics-token", TOKEN,
                           rasa_url=CLOSED_RASA):
        async def unanswered(gateway: GatewayProcess) -> None:
            ada = await shopper(sockets(gateway))
            await ada.send(type="message", text="hello", client_id="m1")
            await ada.expect("error", timeout=30, code="unavailable")
            await ada.close()

        asyncio.run(unanswered(gateway))
        samples = scrape(gateway)
        assert value(samples, "kara_assistant_failures_total", kind="unavailable") == 1
        assert value(samples, "kara_bot_turn_seconds_count") == 0
        assert value(samples, "kara_messages_stored_total", sender="shopper") == 1
        assert value(samples, "kara_messages_stored_total", sender="system") == 1  # "the assistant is unavailable"
