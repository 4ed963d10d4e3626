"""Bot turn latency: straight to Rasa's REST channel, and through the gateway.

At 1, 10 and 50 concurrent conversations, each conversation sends the same
questions in turn (greeting, FAQs, thanks: answered by the assistant, no form,
no handoff) and waits for the answer before the next one (closed loop).

* direct: ``POST /webhooks/rest/webhook`` (aiohttp, kept-alive connections, the
  metadata the gateway sends); a turn ends when the JSON reply is read.
* gateway: a shopper websocket (``hello`` first, not timed) sends ``message``;
  a turn ends when the bot's ``typing`` off arrives (the gateway publishes it
  together with the bot's messages, after storing them).

Both run against the same Rasa server in the same run, interleaved so that
drift on a noisy machine falls on both sides alike: at one conversation turn
by turn (:func:`alternating_round`), at 10 and 50 in A-B-B-A rounds,
:data:`ROUNDS` times per level.

At one conversation a third side takes its turns among them: the same
shopper websocket through :mod:`bench.bare_relay`, which relays to Rasa and
back and stores nothing. It is the floor of the ratio (the hop and the
streamed request every websocket gateway makes); the gateway's distance from
it is what storing the messages and the rest of its work cost.

At one conversation each websocket side also says how long it waited for
Rasa's answers (the gateway's ``kara_bot_turn_seconds`` on ``/metrics``, the
bare relay's ``stats`` frame): a side's mean turn minus that is what it adds
around Rasa's turn, and the two sides' Rasa parts, side by side in one run,
say whether Rasa itself answers slower for one of them (on two cores, the
gateway's writes run beside Rasa's turn).
"""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Dict, List, Optional, Tuple, Union

import aiohttp

from .clients import Client, shopper
from .report import Row, check
from .stats import ms, summary
from .system import System

TEXTS = ["hi", "what is your support email", "how long does a refund take",
         "what are your opening hours", "what is your phone number", "thanks"]
TARGET_RATIO = 1.10
METRICS_TOKEN = "bench-metrics"
#: seconds a side spent waiting for Rasa, and how many answers: (sum, count)
Asked = Tuple[float, int]
#: A-B-B-A rounds per level: four, not two, since p95s on this shared machine
#: moved by a tenth between runs of two (the ratio crossed the target both ways)
ROUNDS = 4


def plan(quick: bool) -> List[Tuple[int, int]]:
    """(concurrent conversations, turns per conversation per round)."""
    if quick:
        return [(1, 6), (10, 2), (50, 1)]
    return [(1, 50), (10, 8), (50, 3)]


class Direct:
    """One conversation straight to Rasa's REST channel (see module docs)."""

    def __init__(self, session: aiohttp.ClientSession, rasa_url: str) -> None:
        self.session = session
        self.url = rasa_url + "/webhooks/rest/webhook"
        self.sender = "bench-" + uuid.uuid4().hex

    async def turn(self, index: int) -> float:
        body = {"sender": self.sender, "message": TEXTS[index % len(TEXTS)],
                "metadata": {"role": "shopper", "line": "chat"}}
        t0 = time.perf_counter()
        async with self.session.post(self.url, json=body) as response:
            replies = await response.json(content_type=None)
        took = time.perf_counter() - t0
        if response.status != 200 or not replies:
            raise RuntimeError(f"Rasa answered {response.status} {replies!r}")
        return took


class ThroughGateway:
    """One shopper conversation through the gateway (see module docs)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def turn(self, index: int) -> float:
        t0 = time.perf_counter()
        # as the widget sends a message the first time: a client_id, and first (no resend to look for)
        await self.client.send(type="message", text=TEXTS[index % len(TEXTS)], client_id=uuid.uuid4().hex,
                               first=True)
        await self.client.expect("typing", 120, where=lambda f: f.get("who") == "bot" and f.get("on") is False)
        return time.perf_counter() - t0


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=120))


async def direct_round(rasa_url: str, conversations: int, turns: int) -> List[float]:
    async with _session() as session:
        start = asyncio.Event()

        async def conversation() -> List[float]:
            side = Direct(session, rasa_url)
            await start.wait()
            return [await side.turn(turn) for turn in range(turns)]

        tasks = [asyncio.ensure_future(conversation()) for _ in range(conversations)]
        await asyncio.sleep(0)
        start.set()
        return [x for part in await asyncio.gather(*tasks) for x in part]


async def gateway_round(ws_url: str, conversations: int, turns: int) -> List[float]:
    clients = await asyncio.gather(*(shopper(ws_url) for _ in range(conversations)))

    async def conversation(client: Client) -> List[float]:
        side = ThroughGateway(client)
        return [await side.turn(turn) for turn in range(turns)]

    try:
        parts = await asyncio.gather(*(conversation(c) for c in clients))
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    return [x for part in parts for x in part]


async def alternating_round(rasa_url: str, ws_urls: Dict[str, str], turns: int) -> Dict[str, List[float]]:
    """One conversation on each side (``direct`` and one per websocket URL),
    their turns taken in turn, each side first in as many turns as the
    others (A-B-C, B-C-A, ...): at one conversation a side's round of 50
    turns lasts about a second, and a second of this machine's noise fell on
    one side's p95."""
    names = ["direct", *ws_urls]
    got: Dict[str, List[float]] = {name: [] for name in names}
    clients = [await shopper(url) for url in ws_urls.values()]
    try:
        async with _session() as session:
            sides: Dict[str, Union[Direct, ThroughGateway]] = {"direct": Direct(session, rasa_url)}
            sides.update({name: ThroughGateway(client) for name, client in zip(ws_urls, clients)})
            for turn in range(turns):
                first = turn % len(names)
                for name in names[first:] + names[:first]:
                    got[name].append(await sides[name].turn(turn))
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    return got


async def gateway_asked(http_url: str) -> Optional[Asked]:
    """The gateway's ``kara_bot_turn_seconds`` sum and count (None: no /metrics, an older gateway)."""
    try:
        async with _session() as session, session.get(
                http_url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as response:
            if response.status != 200:
                return None
            text = await response.text()
    except aiohttp.ClientError:
        return None
    found: Dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("kara_bot_turn_seconds_sum", "kara_bot_turn_seconds_count"):
            found[name] = float(value)
    if len(found) < 2:
        return None
    return found["kara_bot_turn_seconds_sum"], int(found["kara_bot_turn_seconds_count"])


async def bare_asked(ws_url: str) -> Optional[Asked]:
    """The bare relay's ``stats`` (None: an older bare relay, which does not answer it)."""
    client = await shopper(ws_url)
    try:
        await client.send(type="stats")
        seconds, count = (await client.expect("stats", 3))["rasa_s"]
        return float(seconds), int(count)
    except (TimeoutError, asyncio.TimeoutError):
        return None
    finally:
        await client.close()


async def asked_now(sides: Dict[str, Tuple[str, str]]) -> Dict[str, Optional[Asked]]:
    """(sum, count) of each side: gateway -> its HTTP URL, bare -> its websocket URL."""
    return {name: await (gateway_asked(url) if kind == "gateway" else bare_asked(url))
            for name, (kind, url) in sides.items()}


def split(before: Dict[str, Optional[Asked]], after: Dict[str, Optional[Asked]],
          turns: Dict[str, List[float]]) -> Dict[str, Tuple[float, float]]:
    """Per side: (mean wait for Rasa, mean of the rest of the turn), over the turns between the two readings."""
    parts: Dict[str, Tuple[float, float]] = {}
    for name, end in after.items():
        start = before.get(name)
        if end is None or start is None or end[1] <= start[1] or not turns.get(name):
            continue
        rasa = (end[0] - start[0]) / (end[1] - start[1])
        parts[name] = (rasa, sum(turns[name]) / len(turns[name]) - rasa)
    return parts


async def measure(rasa_url: str, ws_url: str, quick: bool, bare_url: Optional[str] = None,
                  http_url: Optional[str] = None,
                  ) -> Tuple[Dict[int, Dict[str, List[float]]], Dict[str, Tuple[float, float]]]:
    results: Dict[int, Dict[str, List[float]]] = {}
    parts: Dict[str, Tuple[float, float]] = {}
    # warm up both paths (first TF call, connection pools)
    await direct_round(rasa_url, 2, 2)
    await gateway_round(ws_url, 2, 2)
    for conversations, turns in plan(quick):
        got: Dict[str, List[float]] = {"direct": [], "gateway": []}
        if conversations == 1:
            ws_urls = {"gateway": ws_url, **({"bare": bare_url} if bare_url else {})}
            counted = {**({"gateway": ("gateway", http_url)} if http_url else {}),
                       **({"bare": ("bare", bare_url)} if bare_url else {})}
            before = await asked_now(counted)
            for _ in range(2 * ROUNDS):
                for side, took in (await alternating_round(rasa_url, ws_urls, turns)).items():
                    got.setdefault(side, []).extend(took)
            parts = split(before, await asked_now(counted), got)
        else:
            for side in ("direct", "gateway", "gateway", "direct") * ROUNDS:
                if side == "direct":
                    got[side] += await direct_round(rasa_url, conversations, turns)
                else:
                    got[side] += await gateway_round(ws_url, conversations, turns)
        results[conversations] = got
        d, g = summary(got["direct"]), summary(got["gateway"])
        print(f"  {conversations:>2} conversations: direct p95 {ms(d['p95'])}, gateway p95 {ms(g['p95'])} "
              f"({g['n']} turns each)", flush=True)
    return results, parts


def run(system: System, quick: bool) -> List[Row]:
    rasa_url = system.rasa_url
    gw = system.gateway("bot-latency", db_url=system.database(), rasa_url=rasa_url,
                        extra=["--metrics-token", METRICS_TOKEN])
    bare, bare_port = system.yardstick("bare_relay", "--rasa-url", rasa_url)
    bare_url = f"ws://127.0.0.1:{bare_port}"
    try:
        with system.profiled([gw], "bot-latency"):
            results, parts = asyncio.run(measure(rasa_url, gw.ws_url, quick, bare_url, gw.url))
    finally:
        bare.terminate()
        bare.wait(10)
        system.stop_gateway(gw)
    rows: List[Row] = []
    for conversations, got in results.items():
        d, g = summary(got["direct"]), summary(got["gateway"])
        ratio = g["p95"] / d["p95"]
        label = f"{conversations} concurrent"
        rows.append(Row(f"Bot turn p50 / p95 / p99, direct to Rasa, {label}",
                        f"{ms(d['p50'])} / {ms(d['p95'])} / {ms(d['p99'])}", note=(
                            f"{d['n']} turns per side at {label} (the three sides' turns alternating, "
                            f"{2 * ROUNDS} conversations each); "
                            "one gateway process on "
                            "PostgreSQL, live state in memory." if conversations == 1 else "")))
        rows.append(Row(f"Bot turn p50 / p95 / p99, through the gateway, {label}",
                        f"{ms(g['p50'])} / {ms(g['p95'])} / {ms(g['p99'])}"))
        rows.append(Row(f"Gateway overhead: p95 gateway / p95 direct, {label}", f"{ratio:.2f}",
                        f"<= {TARGET_RATIO:.2f}", check(ratio <= TARGET_RATIO)))
        if "bare" in got:  # the floor, and the gateway's fixed part in time
            b = summary(got["bare"])
            rows.append(Row(f"Bot turn p50 / p95 / p99, through a bare relay that stores nothing, {label}",
                            f"{ms(b['p50'])} / {ms(b['p95'])} / {ms(b['p99'])}", note=(
                                "bench/bare_relay.py: the same websocket hop and streamed request to Rasa as the "
                                "gateway, on the same libraries and event loop, with nothing stored or checked: "
                                "the floor of the ratio above.")))
            rows.append(Row(f"Bare relay overhead: p95 bare relay / p95 direct, {label}", f"{b['p95'] / d['p95']:.2f}"))
            rows.append(Row(f"Overhead in time, p50 / p95 minus direct: gateway; bare relay, {label}",
                            f"{ms(g['p50'] - d['p50'])} / {ms(g['p95'] - d['p95'])}; "
                            f"{ms(b['p50'] - d['p50'])} / {ms(b['p95'] - d['p95'])}"))
        if conversations == 1 and len(parts) == 2:
            (g_rasa, g_own), (b_rasa, b_own) = parts["gateway"], parts["bare"]
            rows.append(Row(f"Waiting for Rasa, mean, as each side saw it: gateway; bare relay, {label}",
                            f"{ms(g_rasa)}; {ms(b_rasa)}", note=(
                                "From the gateway's kara_bot_turn_seconds and the bare relay's own count, over "
                                "the same interleaved turns: how long Rasa took to answer each side. A longer "
                                "wait on the gateway's side is Rasa slowed by what runs beside its turn (the "
                                "gateway stores the shopper's message meanwhile), not the gateway's own time.")))
            rows.append(Row(f"The rest of a turn, mean (client's turn minus that wait): gateway; bare relay, {label}",
                            f"{ms(g_own)}; {ms(b_own)}"))
    return rows
