"""Privacy on real processes: no email, phone or card number in any log of
the system; a conversation's transcript is exported and deleted on request.

(``tests/handoff/test_privacy.py`` holds the redaction rules and the gateway's
own log; here the assistant's processes are included and the export/delete
command is exercised.)
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
from typing import Any, List, Tuple

import aiohttp
import pytest
import websockets
from aiohttp import web

from tests.handoff.helpers import CLOSED_RASA, PYTHON, REPO, Client, add_agent, agent, serving

from .test_faults import cid_of, common, handed_off, hello, texts, token_of
from .test_hostile import turn

pytestmark = pytest.mark.timeout(300)

EMAIL, PHONE = "emeka.eze@example.com", "0802 555 0177"  # the demo customer of KH-204519
CARD, OTHER_PHONE = "4111 1111 1111 1111", "+234 803 123 4567"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "handoff", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _variants(secret: str) -> List[str]:
    return [secret, secret.replace(" ", ""), secret.replace(" ", "-")]


async def order_verified_by_email(stack, gateway_process, db: str) -> Tuple[Any, Client]:
    """A gateway on ``stack``, and a shopper who tracked KH-204519 with its email."""
    gw = gateway_process(*common(db, "--rasa-url", stack.rasa_url, "--rasa-timeout", "60"))
    s = await hello(gw.ws_url, role="shopper")
    await turn(s, "I want to track my order")
    await turn(s, "KH-204519")
    await turn(s, EMAIL)
    return gw, s


async def test_no_personal_data_in_any_log(stack, gateway_process, fresh_pg) -> None:
    gw, s = await order_verified_by_email(stack, gateway_process, fresh_pg)
    await turn(s, f"my phone is {PHONE} or {OTHER_PHONE}, card {CARD}")
    await turn(s, "track my order")
    await turn(s, "KH-204519")
    await turn(s, PHONE)
    await s.send(type="ticket", email=EMAIL, text=f"call {OTHER_PHONE}")
    await s.expect("ticket_saved", timeout=20)
    await s.close()
    gw.stop()
    logs = {
        "gateway": gw.log.read_text(errors="replace"),
        "rasa": (stack.log_dir / "rasa.log").read_text(errors="replace"),
        "actions": (stack.log_dir / "actions.log").read_text(errors="replace"),
    }
    for name, text in logs.items():
        for secret in (EMAIL, PHONE, CARD, OTHER_PHONE):
            for variant in _variants(secret):
                assert variant not in text, f"{variant!r} in the {name} log"


async def test_transcript_export_and_delete(gateway_process, fresh_pg) -> None:
    gw = gateway_process(*common(fresh_pg, "--rasa-url", CLOSED_RASA))
    await add_agent(fresh_pg, "amaka", "Amaka")
    a = await agent(gw, "amaka")
    s = await handed_off(gw.ws_url)
    cid = cid_of(s)
    await a.send(type="claim", conversation_id=cid)
    await a.expect("claimed")
    await s.send(type="message", text=f"my email is {EMAIL}")
    await a.send(type="message", conversation_id=cid, text="Thanks, noted.")
    await s.expect("message", sender="agent", text="Thanks, noted.")
    await a.send(type="close", conversation_id=cid)
    await s.expect("rating_request")
    await s.send(type="rating", score=5, comment="quick")
    await s.expect("rating_saved")
    await s.send(type="ticket", email=EMAIL, text="one more thing")
    await s.expect("ticket_saved")
    keep = await handed_off(gw.ws_url)  # someone else's conversation, untouched
    await keep.send(type="message", text="not me")
    await keep.expect("message", text="not me")

    # export: everything about the conversation, as JSON on standard output
    exported = cli("transcript", "export", cid, "--db-url", fresh_pg)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["conversation"]["id"] == cid
    said = [(m["sender"], m["text"]) for m in data["messages"]]
    assert said == await texts(fresh_pg, cid)
    assert ("shopper", f"my email is {EMAIL}") in said and ("agent", "Thanks, noted.") in said
    assert [h["outcome"] for h in data["handoffs"]] == ["closed"] and data["handoffs"][0]["rating"] == 5
    assert [t["text"] for t in data["tickets"]] == ["one more thing"]
    assert all(m["ts"].endswith("Z") for m in data["messages"])

    # a conversation still waiting or with an agent is not deleted under its people
    busy = cli("transcript", "delete", cid_of(keep), "--db-url", fresh_pg)
    assert busy.returncode != 0 and "close" in busy.stderr.lower()

    deleted = cli("transcript", "delete", cid, "--db-url", fresh_pg)
    assert deleted.returncode == 0, deleted.stderr
    assert cid in deleted.stdout
    assert await texts(fresh_pg, cid) == []
    again = cli("transcript", "export", cid, "--db-url", fresh_pg)
    assert again.returncode != 0 and "no conversation" in again.stderr.lower()
    assert cli("transcript", "delete", cid, "--db-url", fresh_pg).returncode != 0
    # nothing of it is left in any table; the other conversation is intact
    from sqlalchemy import create_engine, text

    engine = create_engine(fresh_pg, future=True)
    try:
        with engine.connect() as connection:
            for table in ("messages", "handoffs", "tickets", "pages", "conversations"):
                column = "id" if table == "conversations" else "conversation_id"
                left = connection.execute(text(f"select count(*) from {table} where {column} = :c"), {"c": cid})
                assert left.scalar_one() == 0, table
    finally:
        engine.dispose()
    assert ("shopper", "not me") in await texts(fresh_pg, cid_of(keep))
    # the shopper's token no longer opens anything
    back = await Client.connect(gw.ws_url + "/ws/shopper")
    await back.send(type="hello", v=1, token=token_of(s))
    assert (await back.expect("error"))["code"] == "unauthorized"
    with pytest.raises(websockets.ConnectionClosed):
        await back.ws.recv()


async def rasa_tracker(rasa_url: str, cid: str) -> str:
    """Everything the assistant holds of a conversation, as JSON text."""
    async with aiohttp.ClientSession() as http:
        params = {"include_events": "ALL", "token": os.environ["KARA_RASA_TOKEN"]}
        async with http.get(f"{rasa_url}/conversations/{cid}/tracker", params=params) as r:
            assert r.status == 200
            return await r.text()


async def test_transcript_delete_erases_the_assistants_copy(stack, gateway_process, fresh_pg) -> None:
    _, s = await order_verified_by_email(stack, gateway_process, fresh_pg)
    cid = cid_of(s)
    await s.close()
    held = await rasa_tracker(stack.rasa_url, cid)
    assert EMAIL in held and "KH-204519" in held  # the assistant kept the bot part

    # an assistant that is up but refuses: nothing is deleted, the command says so
    refusing = web.Application()
    refusing.router.add_route("*", "/{tail:.*}", lambda _: web.Response(status=500))
    async with serving(refusing) as refusing_url:
        failed = await asyncio.to_thread(
            cli, "transcript", "delete", cid, "--db-url", fresh_pg, "--rasa-url", refusing_url
        )
    assert failed.returncode == 4 and "nothing was deleted" in failed.stderr
    assert ("shopper", EMAIL) in await texts(fresh_pg, cid)

    deleted = cli("transcript", "delete", cid, "--db-url", fresh_pg, "--rasa-url", stack.rasa_url,
                  "--tracker-db-url", stack.tracker_db_url)
    assert deleted.returncode == 0, deleted.stderr
    assert "the assistant's copy: erased" in deleted.stdout
    assert await texts(fresh_pg, cid) == []
    left = await rasa_tracker(stack.rasa_url, cid)
    assert EMAIL not in left and "KH-204519" not in left and '"event": "user"' not in left.replace('":"', '": "')
