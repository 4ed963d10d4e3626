"""Two Rasa processes behind the gateway's pool: one is killed in the middle
of a verified order conversation, the other answers the next message with
the order still verified, and nothing is stored twice."""
from __future__ import annotations

import signal

import pytest

from bot.processes import BotStack
from handoff.rasa_pool import RasaPool
from tests.faults.test_faults import cid_of, common, hello, texts
from tests.faults.test_hostile import turn
from tests.faults.test_privacy import EMAIL

from .helpers import stored_events, user_texts


@pytest.mark.kills_stack  # (the package's next test would wait for its restart)
async def test_the_other_process_takes_over_a_verified_order(assistant: BotStack, gateway_process,
                                                             fresh_pg) -> None:
    urls = ",".join(assistant.rasa_urls)
    gw = gateway_process(*common(fresh_pg, "--rasa-url", urls, "--rasa-timeout", "60"))
    s = await hello(gw.ws_url, role="shopper")
    said = ["I want to track my order", "KH-204519", EMAIL]
    for text in said:
        answer = await turn(s, text)
    assert "Order KH-204519" in answer  # verified
    cid = cid_of(s)
    pool = RasaPool(urls)
    owner = pool.owner(cid)
    assert set(assistant.rasa_urls) == {m.base_url for m in pool.ranking(cid)}
    killed = next(m for m in assistant.members if m.rasa_url == owner.base_url)
    survivor = next(m for m in assistant.members if m is not killed)
    killed.rasa.stop(signal.SIGKILL)

    answer = await turn(s, "I want a refund")
    said.append("I want a refund")
    # answered (by the only process left), for the verified order, without asking again
    assert "refund request for order KH-204519" in answer and "REQ-" in answer, answer
    assert "order number" not in answer.lower() and "unavailable" not in answer.lower()
    assert survivor.rasa.alive()

    # nothing stored twice: the gateway's transcript and the tracker store hold each message once
    shopper_said = [t for sender, t in await texts(fresh_pg, cid) if sender == "shopper"]
    assert shopper_said == said
    assert user_texts(stored_events(assistant, cid)) == said
