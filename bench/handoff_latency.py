"""Handoff latency: from the bot's handoff reply to the agent console's notification.

The gateways talk to Rasa through :mod:`bench.rasa_proxy`, which notes the wall
clock when it hands Rasa's reply carrying the handoff payload back to the
gateway. An agent console (logged in, online) notes when the ``handoff`` frame
for that conversation arrives. The difference is the gateway's part: reading
the reply, pausing the Rasa conversation, storing the handoff and a system
message, enqueueing, publishing. One shopper at a time asks ``/request_human``;
the agent then claims and closes the chat (so the queue stays short).

* one process: shopper and agent on the same gateway (PostgreSQL, memory);
* two processes: shopper on gateway A, agent on gateway B (Redis + PostgreSQL).
Iterations alternate between the two.
"""
from __future__ import annotations

import asyncio
import time
from typing import Dict, List, Tuple

import aiohttp

from .clients import Client, agent, shopper
from .report import Row, check
from .stats import ms, summary
from .system import REDIS_URL, System

TARGET_P95_S = 0.050


async def one_handoff(shop_gw, console: Client) -> Tuple[str, int]:
    s = await shopper(shop_gw.ws_url)
    cid = s.cid
    await s.send(type="message", text="/request_human")
    await console.expect("handoff", 60, where=lambda f: f["entry"]["conversation_id"] == cid)
    noticed = time.time_ns()
    await console.send(type="claim", conversation_id=cid)
    await console.expect("claimed", 60, where=lambda f: f["chat"]["conversation_id"] == cid)
    await console.send(type="close", conversation_id=cid)
    await console.expect("chat_ended", 60, where=lambda f: f["conversation_id"] == cid)
    await s.close()
    return cid, noticed


async def measure(proxy_url: str, one: Tuple, two: Tuple, count: int) -> Dict[str, Dict[str, List[float]]]:
    consoles = {"one": await agent(one[1], one[2]), "two": await agent(two[1], two[2])}
    shops = {"one": one[0], "two": two[0]}
    noticed: Dict[str, List[Tuple[str, int]]] = {"one": [], "two": []}
    for key in ("one", "two"):  # warm-up
        await one_handoff(shops[key], consoles[key])
    for i in range(count):
        for key in (("one", "two") if i % 2 == 0 else ("two", "one")):
            noticed[key].append(await one_handoff(shops[key], consoles[key]))
            await asyncio.sleep(0.02)
    for console in consoles.values():
        await console.close()
    async with aiohttp.ClientSession() as session:
        async with session.get(proxy_url + "/_bench/stamps") as r:
            stamps = await r.json()
    out: Dict[str, Dict[str, List[float]]] = {}
    for key, items in noticed.items():
        total, pause = [], []
        for cid, at in items:
            mark = stamps.get(cid, {})
            if "reply" not in mark:
                raise RuntimeError(f"the proxy saw no handoff reply for {cid}")
            total.append((at - mark["reply"]) / 1e9)
            if "pause_in" in mark and "pause_out" in mark:
                pause.append((mark["pause_out"] - mark["pause_in"]) / 1e9)
        out[key] = {"total": total, "pause": pause}
    return out


def run(system: System, quick: bool) -> List[Row]:
    count = 15 if quick else 100
    proxy = system.rasa_proxy()
    single_db = system.database()
    single = system.gateway("handoff-1", db_url=single_db, rasa_url=proxy)
    shared_db, prefix = system.database(), system.redis_prefix()
    gw_a = system.gateway("handoff-2a", db_url=shared_db, rasa_url=proxy, redis_url=REDIS_URL, redis_prefix=prefix)
    gw_b = system.gateway("handoff-2b", db_url=shared_db, rasa_url=proxy, redis_url=REDIS_URL, redis_prefix=prefix,
                          extra=["--no-migrate"])
    system.create_agent(single_db, "handoff1", "Handoff One")
    system.create_agent(shared_db, "handoff2", "Handoff Two")
    try:
        with system.profiled([single, gw_a, gw_b], "handoff"):
            results = asyncio.run(measure(proxy, (single, single, "handoff1"), (gw_a, gw_b, "handoff2"), count))
    finally:
        for gw in (single, gw_a, gw_b):
            system.stop_gateway(gw)
    rows = []
    for key, label in (("one", "one gateway process"), ("two", "two gateway processes (Redis)")):
        t, p = summary(results[key]["total"]), summary(results[key]["pause"])
        rows.append(Row(
            f"Handoff reply -> agent notified p50 / p95, {label}", f"{ms(t['p50'])} / {ms(t['p95'])}",
            f"p95 <= {TARGET_P95_S * 1000:.0f} ms", check(t["p95"] <= TARGET_P95_S),
            note=(f"{t['n']} handoffs; of that span, the gateway's pause call to Rasa took p50 {ms(p['p50'])}, "
                  f"p95 {ms(p['p95'])} ({label}).")))
    return rows
