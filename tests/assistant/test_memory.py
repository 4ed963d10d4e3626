"""The assistant keeps its memory: Rasa's SQL tracker store.

A Rasa process killed in the middle of the order form and started again
continues the form with its slots; ``transcript delete`` erases the
conversation from every store (gateway transcript, the tracker store's rows,
what each Rasa process answers about it)."""
from __future__ import annotations

import asyncio
import signal
import subprocess

from bot.processes import BotStack, rasa_ready
from handoff.rasa_pool import RasaPool
from tests.bot.rest import RestShopper
from tests.faults.test_faults import cid_of, common, hello, texts
from tests.faults.test_hostile import turn
from tests.faults.test_privacy import EMAIL, PYTHON, REPO

from .helpers import rasa_tracker, stored_events, user_texts


def test_a_restart_mid_order_form_continues_the_form(assistant: BotStack) -> None:
    member = assistant.members[0]
    shopper = RestShopper(member.rasa_url, role="shopper")
    assert "order number" in shopper.texts("I want to track my order")
    assert "email address or phone number" in shopper.texts("KH-204518")
    member.rasa.stop(signal.SIGKILL)  # a crash: nothing flushed on the way out
    member.rasa.start()
    member.rasa.wait_ready(lambda: rasa_ready(member.rasa_url, assistant.rasa_token), 300)
    # the form asked for the contact before the crash: the email alone completes it
    answer = shopper.texts("adaeze.okafor@example.com")
    assert "Order KH-204518 from HealthPlus Pharmacy Yaba is shipped." in answer
    said = user_texts(stored_events(assistant, shopper.sender))
    assert said == ["I want to track my order", "KH-204518", "adaeze.okafor@example.com"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "handoff", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


async def test_transcript_delete_erases_every_store(assistant: BotStack, gateway_process, fresh_pg) -> None:
    urls = ",".join(assistant.rasa_urls)
    gw = gateway_process(*common(fresh_pg, "--rasa-url", urls, "--rasa-timeout", "60"))
    s = await hello(gw.ws_url, role="shopper")
    await turn(s, "I want to track my order")
    await turn(s, "KH-204519")
    assert "KH-204519" in await turn(s, EMAIL)
    cid = cid_of(s)
    await s.close()
    held = "".join(stored_events(assistant, cid))
    assert EMAIL in held and "KH-204519" in held  # the tracker store kept the bot part
    owner = RasaPool(urls).owner(cid).base_url
    assert EMAIL in await rasa_tracker(assistant, owner, cid)

    deleted = await asyncio.to_thread(cli, "transcript", "delete", cid, "--db-url", fresh_pg,
                                      "--rasa-url", urls, "--tracker-db-url", assistant.tracker_db_url)
    assert deleted.returncode == 0, deleted.stderr
    assert "tracker store" in deleted.stdout and "events erased" in deleted.stdout
    assert await texts(fresh_pg, cid) == []  # the gateway's transcript
    assert stored_events(assistant, cid) == []  # the tracker store's rows
    for url in assistant.rasa_urls:  # what each Rasa process answers (it reads the store)
        left = await rasa_tracker(assistant, url, cid)
        assert EMAIL not in left and "KH-204519" not in left and '"event":"user"' not in left.replace(" ", "")
    left_rows = "".join(stored_events(assistant, cid))  # reading it back started an empty session only
    assert EMAIL not in left_rows and "KH-204519" not in left_rows


def test_processes_taking_turns_on_one_conversation_see_each_others_turns(assistant: BotStack) -> None:
    """Each process keeps its last tracker in memory (bot/rasa_store.py): when
    another process wrote to the conversation since, it reads it again."""
    first, second = (RestShopper(m.rasa_url, role="shopper") for m in assistant.members)
    second.sender = first.sender  # one conversation, two processes
    assert "order number" in first.texts("I want to track my order")
    assert "email address or phone number" in first.texts("KH-204518")  # first keeps this tracker
    assert "is shipped" in second.texts("adaeze.okafor@example.com")  # second completes the form
    # first's copy still waits for the email; the table says second wrote since: first reads it again
    answer = first.texts("I want a refund")
    assert "refund request for order KH-204518" in answer and "REQ-" in answer, answer
    said = user_texts(stored_events(assistant, first.sender))
    assert said == ["I want to track my order", "KH-204518", "adaeze.okafor@example.com", "I want a refund"]
