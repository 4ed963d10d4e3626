"""Shopper-to-agent relay, against a bare ``websockets`` echo server.

A shopper whose chat an agent has claimed sends ``message`` frames; the agent's
console socket receives them. The text carries the send time
(``time.perf_counter_ns()``, sender and receiver are in this process), so each
message gives its one-way latency shopper -> gateway -> agent.

* throughput: the shopper sends as fast as its socket takes them (the
  gateway's backpressure decides), messages delivered per second of the run;
* latency: one message at a time (the next once the previous arrived), p95 of
  the one-way latency (under saturation it would only measure buffer depth).

The yardstick is :mod:`bench.echo_server` (bare ``websockets``, same version,
compression off, same event loop as the gateways, its own process): one client sends the same frames in the same
two patterns and reads them back (client -> server -> client, the same shape).

* one process: one gateway (PostgreSQL, live state in memory);
* two processes: shopper on gateway A, agent on gateway B, sharing Redis
  (live state, event bus) and PostgreSQL.

Every relayed message is stored before it is delivered (that is the gateway's
contract), the echo server stores nothing. Sides run echo, 1, 2, 2, 1, echo,
:data:`ROUNDS` times over, so drift falls on all of them alike.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from typing import Dict, List, Optional, Tuple

import websockets

from .clients import Client, agent, claimed_chat
from .cpu import CpuMeter, processes_named, this_process
from .report import Row, check
from .stats import ms, summary
from .system import REDIS_URL, System

LATENCY_WINDOW = 1
#: throughput runs as this many rounds of echo, 1, 2, 2, 1, echo: a burst of
#: noise from the other tenants of this machine (seconds long, seen here to
#: move one side's rate by a fifth) then falls on every side, not on one
ROUNDS = 5
TARGET_SHARE = 0.5


def _stamp(seq: int) -> str:
    return f"m{seq} t{time.perf_counter_ns()} relay benchmark"


def _latency(text: str) -> float:
    return (time.perf_counter_ns() - int(text.split()[1][1:])) / 1e9


class _NoWindow:
    async def acquire(self) -> None:
        return None

    def release(self) -> None:
        return None


def _window(size: Optional[int]):
    return asyncio.Semaphore(size) if size else _NoWindow()


async def echo_side(url: str, count: int, window_size: Optional[int]) -> Tuple[float, List[float]]:
    async with websockets.connect(url, compression=None, max_queue=None) as ws:
        window = _window(window_size)
        latencies: List[float] = []

        async def sender() -> None:
            for seq in range(count):
                await window.acquire()
                await ws.send(json.dumps({"type": "message", "text": _stamp(seq), "client_id": uuid.uuid4().hex,
                                          "first": True}))

        async def receiver() -> None:
            while len(latencies) < count:
                frame = json.loads(await ws.recv())
                latencies.append(_latency(frame["text"]))
                window.release()

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(sender(), receiver()), 300)
        return time.perf_counter() - started, latencies


async def relay_side(shop: Client, console: Client, cid: str, count: int,
                     window_size: Optional[int]) -> Tuple[float, List[float]]:
    window = _window(window_size)
    latencies: List[float] = []
    acks = 0

    async def sender() -> None:
        for seq in range(count):
            await window.acquire()
            # as the widget sends a message the first time (the echo side's frames carry the same fields)
            await shop.send(type="message", text=_stamp(seq), client_id=uuid.uuid4().hex, first=True)

    async def receiver() -> None:
        while len(latencies) < count:
            frame = json.loads(await console.ws.recv())
            if frame.get("type") == "message" and frame.get("sender") == "shopper" \
                    and frame.get("conversation_id") == cid:
                latencies.append(_latency(frame["text"]))
                window.release()
            elif frame.get("type") == "error":
                raise RuntimeError(f"agent got an error: {frame}")

    async def shopper_reader() -> None:  # the shopper's own acknowledgements
        nonlocal acks
        while acks < count:
            frame = json.loads(await shop.ws.recv())
            if frame.get("type") == "message" and frame.get("sender") == "shopper":
                acks += 1
            elif frame.get("type") == "error":
                raise RuntimeError(f"shopper got an error: {frame}")

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(sender(), receiver(), shopper_reader()), 300)
    return time.perf_counter() - started, latencies


async def measure(echo_url: str, one: Tuple, two: Tuple, count: int, lat_count: int,
                  meter: CpuMeter) -> Dict[str, Dict]:
    share = count // (2 * ROUNDS)  # messages per side and segment
    out: Dict[str, Dict] = {k: {"seconds": 0.0, "n": 0, "latencies": []} for k in ("echo", "one", "two")}
    # set-up (not timed): a claimed chat on each deployment
    chats = {}
    for key, (shop_gw, agent_gw, username) in (("one", one), ("two", two)):
        console = await agent(agent_gw, username)
        shop, cid = await claimed_chat(shop_gw, console)
        chats[key] = (shop, console, cid)
    # warm-up
    await echo_side(echo_url, 300, None)
    for key in ("one", "two"):
        await relay_side(*chats[key], 300, None)
    order = ("echo", "one", "two", "two", "one", "echo")
    for _ in range(ROUNDS):  # throughput
        for key in order:
            with meter.span(key):
                if key == "echo":
                    seconds, lat = await echo_side(echo_url, share, None)
                else:
                    seconds, lat = await relay_side(*chats[key], share, None)
            out[key]["seconds"] += seconds
            out[key]["n"] += len(lat)
    for key in order:  # latency
        if key == "echo":
            _, lat = await echo_side(echo_url, lat_count // 2, LATENCY_WINDOW)
        else:
            _, lat = await relay_side(*chats[key], lat_count // 2, LATENCY_WINDOW)
        out[key]["latencies"] += lat
    for shop, console, _ in chats.values():
        await shop.close()
        await console.close()
    return out


def run(system: System, quick: bool) -> List[Row]:
    count, lat_count = (2000, 200) if quick else (40000, 1000)
    count = int(os.environ.get("KARA_BENCH_RELAY_COUNT", count))  # e.g. longer runs to profile
    rasa = system.rasa_url  # the chat is handed over by the real assistant
    single = system.gateway("relay-1", db_url=system.database(), rasa_url=rasa)
    shared_db, prefix = system.database(), system.redis_prefix()
    gw_a = system.gateway("relay-2a", db_url=shared_db, rasa_url=rasa, redis_url=REDIS_URL, redis_prefix=prefix)
    gw_b = system.gateway("relay-2b", db_url=shared_db, rasa_url=rasa, redis_url=REDIS_URL, redis_prefix=prefix,
                          extra=["--no-migrate"])
    system.create_agent(single.db_url, "relay1", "Relay One")
    system.create_agent(shared_db, "relay2", "Relay Two")
    echo, port = system.yardstick("echo_server")  # on the gateways' event loop
    try:
        meter = CpuMeter({
            "gateway": lambda: [gw.pid for gw in (single, gw_a, gw_b)],
            "echo server": lambda: [echo.pid],
            "PostgreSQL": processes_named("postgres"),
            "Redis": processes_named("redis-server"),
            "benchmark client": this_process(),
        })
        with system.profiled([single, gw_a, gw_b], "relay"):
            results = asyncio.run(measure(f"ws://127.0.0.1:{port}", (single, single, "relay1"),
                                          (gw_a, gw_b, "relay2"), count, lat_count, meter))
    finally:
        echo.terminate()
        echo.wait(10)
        for gw in (single, gw_a, gw_b):
            system.stop_gateway(gw)
    rate = {k: v["n"] / v["seconds"] for k, v in results.items()}
    p95 = {k: summary(v["latencies"])["p95"] for k, v in results.items()}
    n, n_lat = results["echo"]["n"], len(results["echo"]["latencies"])
    rows = [Row("Relay, bare websockets echo server", f"{rate['echo']:.0f} msg/s, p95 {ms(p95['echo'])}",
                note=f"msg/s: {n} messages per side sent as fast as the socket takes them; p95: one-way "
                     f"latency of {n_lat} messages per side sent one at a time. The gateway stores every "
                     "message in PostgreSQL before it relays it, the echo server stores nothing.")]
    for key, label in (("one", "one gateway process"), ("two", "two gateway processes (Redis)")):
        share = rate[key] / rate["echo"]
        rows.append(Row(f"Relay shopper -> agent, {label}", f"{rate[key]:.0f} msg/s, p95 {ms(p95[key])}"))
        rows.append(Row(f"Relay throughput / echo throughput, {label}", f"{share:.2f}",
                        f">= {TARGET_SHARE:.2f}", check(share >= TARGET_SHARE)))
    for key, label in (("echo", "echo server"), ("one", "one gateway process"),
                       ("two", "two gateway processes (Redis)")):
        spent = {group: us for group, us in meter.per_item(key, results[key]["n"]).items() if us * 1e6 >= 0.5}
        rows.append(Row(f"CPU per message, {label} (µs)",
                        ", ".join(f"{group} {us * 1e6:.0f}" for group, us in spent.items()),
                        note="" if key != "echo" else "CPU (user + system) of each process group during the "
                        "throughput runs, divided by the messages delivered: where the time goes on 2 cores."))
    return rows
