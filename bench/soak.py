"""Soak: many shopper conversations and agents at once, for minutes, on the real system.

    .venv-gateway/bin/python -m bench.soak [--shoppers 500] [--agents 20] [--seconds 300]
                                           [--rasa-url URL[,URL]] [--rasa-processes N]
                                           [--bot-share 0.3] [--json FILE] [--seed N]
                                           [--trace-memory FILE [--trace-every S]]

Starts (through :class:`bench.system.System`) a PostgreSQL database of its
own, one ``python -m handoff serve`` process with the default per-connection
rate limit, and, unless ``--rasa-url`` is given, the assistant (action server
+ Rasa server; ``--rasa-processes 2``: two of each on a PostgreSQL tracker
store, behind the gateway's pool); then runs a bounded load on loopback:

* **shoppers** (``--shoppers`` at once, connected over a ramp of at most 30 s)
  cycle through a conversation's life: sometimes an FAQ to the assistant
  first (``--bot-share``), then ``/request_human`` (a real Rasa turn: the
  assistant's handoff payload moves the chat to a queue), then a chat with a
  person at human speed (a message every 2-6 s, each with a unique
  ``client_id``), the agent closes it, the shopper rates it, and starts over
  in the same conversation (back to the bot) or in a new one. Bot turns are a
  minority of the messages; the rest is the handed-off part. Now and then a
  shopper resends a message with the same ``client_id`` (a retry) or drops
  its socket right after sending and resumes with its token on a new one,
  resending what was not acknowledged: the gateway must store each once.
* **agents** (``--agents``) claim every chat offered to them (spread by
  conversation id, any agent takes a chat waiting over 2 s), answer each
  shopper message after 0.2-1 s and close the chat after 6-16 of them. One
  console answering 25 chats faster than a person would outruns the
  gateway's per-connection rate limit, so each paces its frames within it
  (:class:`Pace`: the gateway's own ``rate_per_s`` / ``rate_burst``, read
  from its configuration as the gateway process gets it, with a margin).
  An agent acts only on what a console would show when its frame's turn
  comes: a reply or a close for a chat it still has (not one that ended or
  that it already closed), a claim for a chat still in its queue list
  (:class:`Agent`). So its error frames are errors a console would get too:
  every code but ``already_claimed`` (two agents claiming one chat at once,
  the race claiming is) is counted, and none is expected.

At the end (shoppers stop sending, outstanding acknowledgements are awaited
for up to 15 s) the gateway is stopped and the database is read: every
message a client got acknowledged (its echo) must be stored, and stored
once. Printed figures: messages accepted / stored, duplicates, lost, bot
turns, handoffs, resends, reconnects, error frames by code (an agent's also
by the frame that got it), crashed processes
and tracebacks in the gateway log, gateway RSS at start (ramp done) / middle
/ end and its peak, latency percentiles (shopper message -> own echo, agent
message -> shopper, bot turn). Exit status 0 only when nothing was lost or
duplicated and nothing crashed. Every loop is bounded by the deadline; the
whole run by ``seconds + 180`` s.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import aiohttp
import psutil
import websockets

from bench import system as system_module
from bench.system import AGENT_PASSWORD, System, raise_nofile
from bot.processes import http_json
from handoff.config import GatewayConfig
from handoff.ratelimit import TokenBucket

FAQS = [
    "hello",
    "what are your opening hours?",
    "how long does a refund take?",
    "what is your support email?",
    "can I cancel my order?",
    "how do disputes work?",
]
WORDS = "order delivery parcel refund pharmacy tablets pack box courier address payment receipt".split()


def pct(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Figures:
    shopper_sent: Set[str] = field(default_factory=set)  # client ids
    shopper_acked: Set[str] = field(default_factory=set)
    agent_sent: Set[str] = field(default_factory=set)  # texts
    agent_acked: Set[str] = field(default_factory=set)
    bot_turns: int = 0
    bot_turns_failed: int = 0
    handoffs: int = 0
    claims: int = 0
    closes: int = 0
    ratings: int = 0
    resends: int = 0
    reconnects: int = 0
    conversations: int = 0
    no_ack: int = 0
    errors: Counter = field(default_factory=Counter)
    #: the first error frame of each code a shopper got: its message, and the chat's state as the shopper saw it
    error_examples: Dict[str, str] = field(default_factory=dict)
    agent_errors: Counter = field(default_factory=Counter)  # "frame type:code"
    echo_ms: List[float] = field(default_factory=list)
    agent_to_shopper_ms: List[float] = field(default_factory=list)
    bot_turn_ms: List[float] = field(default_factory=list)
    agent_sent_at: Dict[str, float] = field(default_factory=dict)


class Shopper:
    """One shopper: a socket, its reader, and its life (see module docs)."""

    def __init__(self, index: int, url: str, figures: Figures, rng: random.Random, stop_at: float) -> None:
        self.index = index
        self.url = url
        self.f = figures
        self.rng = rng
        self.stop_at = stop_at
        self.ws: Any = None
        self.reader: Optional["asyncio.Task[None]"] = None
        self.token: Optional[str] = None
        self.state = "bot"
        self.serial = 0
        self.acks: Dict[str, asyncio.Event] = {}
        self.sent_at: Dict[str, float] = {}
        self.bot_done = asyncio.Event()
        self.rating_asked = asyncio.Event()
        self.rated = asyncio.Event()

    def left(self) -> float:
        return self.stop_at - time.monotonic()

    async def connect(self, token: Optional[str]) -> None:
        self.ws = await websockets.connect(self.url, open_timeout=20, compression=None, max_queue=64)
        hello: Dict[str, Any] = {"type": "hello", "v": 1, "role": "shopper"}
        if token:
            hello["token"] = token
        await self.ws.send(json.dumps(hello))
        welcome = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        assert welcome["type"] == "welcome", welcome
        self.token = welcome["token"]
        self.state = welcome["state"]
        if not token:
            self.f.conversations += 1
        self.reader = asyncio.ensure_future(self._read(self.ws))

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    sender = frame.get("sender")
                    cid = frame.get("client_id")
                    if sender == "shopper" and cid:
                        if cid in self.sent_at and cid not in self.f.shopper_acked:
                            self.f.echo_ms.append((time.monotonic() - self.sent_at[cid]) * 1000)
                        self.f.shopper_acked.add(cid)
                        event = self.acks.get(cid)
                        if event is not None:
                            event.set()
                    elif sender == "agent":
                        sent = self.f.agent_sent_at.pop(frame.get("text", ""), None)
                        if sent is not None:
                            self.f.agent_to_shopper_ms.append((time.monotonic() - sent) * 1000)
                elif kind == "typing" and frame.get("who") == "bot" and frame.get("on") is False:
                    self.bot_done.set()
                elif kind == "state":
                    self.state = frame["state"]
                elif kind == "rating_request":
                    self.rating_asked.set()
                elif kind == "rating_saved":
                    self.rated.set()
                elif kind == "error":
                    self.f.errors[frame.get("code")] += 1
                    self.f.error_examples.setdefault(str(frame.get("code")),
                                                     f"{frame.get('message')} (state {self.state})")
                    if frame.get("code") == "unavailable":
                        self.bot_done.set()
        except websockets.ConnectionClosed:
            pass

    async def close(self, abort: bool = False) -> None:
        if self.ws is not None:
            if abort:
                self.ws.transport.abort()
            else:
                await self.ws.close()
        if self.reader is not None:
            try:
                await asyncio.wait_for(self.reader, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self.reader.cancel()

    def _new_id(self) -> str:
        self.serial += 1
        return f"sk{self.index}-{self.serial}"

    async def _send(self, text: str, client_id: str) -> None:
        """A message's first sending, which says so as the widget's does (a resend never does)."""
        self.f.shopper_sent.add(client_id)
        self.sent_at.setdefault(client_id, time.monotonic())
        self.acks.setdefault(client_id, asyncio.Event())
        await self.ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id, "first": True}))

    async def bot_turn(self, text: str) -> None:
        """A message the assistant answers (state ``bot``, or ``closed``: back to the bot)."""
        self.bot_done.clear()
        started = time.monotonic()
        client_id = self._new_id()
        await self._send(text, client_id)
        try:
            await asyncio.wait_for(self.bot_done.wait(), max(1.0, min(60.0, self.left() + 15)))
            self.f.bot_turns += 1
            self.f.bot_turn_ms.append((time.monotonic() - started) * 1000)
        except asyncio.TimeoutError:
            self.f.bot_turns_failed += 1

    async def chat_message(self) -> None:
        client_id = self._new_id()
        text = f"soak {client_id}: " + " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(3, 12)))
        await self._send(text, client_id)
        if self.rng.random() < 0.03:  # a retry of the same message: stored once, acknowledged again
            self.f.resends += 1
            await self.ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))
        if self.rng.random() < 0.01:  # the socket drops before the echo: resume and resend
            self.f.reconnects += 1
            await self.close(abort=True)
            await self.connect(self.token)
            self.f.resends += 1
            await self.ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))
        try:
            await asyncio.wait_for(self.acks[client_id].wait(), 15)
        except asyncio.TimeoutError:
            self.f.no_ack += 1
        self.acks.pop(client_id, None)

    async def life(self) -> None:
        await self.connect(None)
        while self.left() > 5:
            if self.rng.random() < self.f_bot_share:
                await self.bot_turn(self.rng.choice(FAQS))
            if self.state in ("bot", "closed"):
                self.rating_asked.clear()
                await self.bot_turn("/request_human")
                for _ in range(100):  # the handoff follows the bot's reply: up to 10 s
                    if self.state in ("waiting", "agent"):
                        break
                    await asyncio.sleep(0.1)
                if self.state not in ("waiting", "agent"):
                    await asyncio.sleep(min(2.0, max(0.0, self.left())))
                    continue
                self.f.handoffs += 1
            # with a person (or waiting for one): talk at human speed until the chat is closed
            while self.left() > 3 and self.state in ("waiting", "agent") and not self.rating_asked.is_set():
                await asyncio.sleep(self.rng.uniform(2.0, 6.0))
                if self.left() <= 3 or self.rating_asked.is_set() or self.state not in ("waiting", "agent"):
                    break
                await self.chat_message()
            if self.rating_asked.is_set() and self.left() > 1:
                self.rated.clear()
                await self.ws.send(json.dumps({"type": "rating", "score": self.rng.randint(1, 5)}))
                try:
                    await asyncio.wait_for(self.rated.wait(), 10)
                    self.f.ratings += 1
                except asyncio.TimeoutError:
                    pass
                if self.rng.random() < 0.5 and self.left() > 5:  # this shopper leaves; a new one comes
                    await self.close()
                    await self.connect(None)

    f_bot_share = 0.3


class Pace:
    """A client's side of the gateway's per-connection rate limit: the same
    token bucket (:class:`handoff.ratelimit.TokenBucket`) at ``MARGIN`` of the
    gateway's rate and burst (frames reach it later than they leave, and not
    always as far apart), waited on before each frame is sent."""

    MARGIN = 0.8

    def __init__(self, config: GatewayConfig) -> None:
        self.bucket = TokenBucket(config.rate_per_s * self.MARGIN, max(1, int(config.rate_burst * self.MARGIN)))

    async def turn(self) -> None:
        """Return once a frame may go."""
        while True:
            wait_ms = self.bucket.take()
            if not wait_ms:
                return
            await asyncio.sleep(wait_ms / 1000)


def gateway_config() -> GatewayConfig:
    """The configuration of the soak's gateway process: its environment (this
    one and :data:`bench.system.GATEWAY_ENV`) read as the gateway reads it."""
    import os

    return GatewayConfig.from_env({**os.environ, **system_module.GATEWAY_ENV})


@dataclass
class Chat:
    """A chat an agent holds: one claim of it, until its ``chat_ended``. Its
    reply and close tasks act only while the agent still holds this claim (a
    later claim of the same conversation is another :class:`Chat`)."""

    conversation_id: str
    left: int  # shopper messages still to answer; the answer that takes the last one closes the chat
    closing: bool = False  # the close is decided: no further reply is begun
    closed: bool = False  # the close frame went out: nothing more is sent for this chat


class Agent:
    """One agent console (see module docs).

    Frames wait for the pace (:class:`Pace`), at times for seconds; a console
    sends what its agent does at once, on what the screen shows then. So
    whether a frame still fits is checked when its turn comes (``still`` of
    :meth:`send`), against what a console shows: the chats it holds
    (``owned``: from ``claimed`` until ``chat_ended``) and the chats waiting
    (``waiting``: the last ``queues`` list, and each ``handoff`` since)."""

    def __init__(self, index: int, count: int, url: str, token: str, figures: Figures, rng: random.Random,
                 stop_at: float, config: GatewayConfig) -> None:
        self.index = index
        self.count = count
        self.url = url
        self.token = token
        self.f = figures
        self.rng = rng
        self.stop_at = stop_at
        self.ws: Any = None
        self.serial = 0  # frames sent (their refs)
        self.replies = 0  # messages sent (each text is unique: the soak finds it stored by its text)
        self.owned: Dict[str, Chat] = {}
        self.waiting: Set[str] = set()
        self.claiming: Dict[str, float] = {}
        self.tasks: Set["asyncio.Task[Any]"] = set()
        self.config = config
        self.pace = Pace(config)

    async def send(self, frame: Dict[str, Any], stamp: Optional[str] = None,
                   still: Optional[Callable[[], bool]] = None) -> bool:
        """A frame, once the gateway's rate limit lets this socket send it (see
        :class:`Pace`), unless ``still()`` then says it no longer fits (False:
        not sent); ``stamp``: a message text, sent from now (its agent ->
        shopper latency counts from now, not from before that wait: the soak's
        own pacing). A ``ref`` names the frame in the errors it may get."""
        await self.pace.turn()
        if still is not None and not still():
            return False
        if stamp is not None:
            self.f.agent_sent.add(stamp)
            self.f.agent_sent_at[stamp] = time.monotonic()
        self.serial += 1
        await self.ws.send(json.dumps({**frame, "ref": f"{frame['type']}:{self.serial}"}))
        return True

    def mine(self, cid: str) -> bool:
        return int(cid[:8], 16) % self.count == self.index

    async def run(self) -> None:
        self.ws = await websockets.connect(self.url, open_timeout=20, compression=None, max_queue=256)
        self.pace = Pace(self.config)  # the gateway's bucket starts full when the socket opens
        await self.send({"type": "hello", "v": 1, "token": self.token})
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind in ("welcome", "queues"):  # (claims wait for the pace in their own task: reading goes on)
                    self.waiting = {e["conversation_id"] for entries in frame["queues"].values() for e in entries}
                    self._spawn(self._offer(frame["queues"]))
                elif kind == "handoff":
                    self.waiting.add(frame["entry"]["conversation_id"])
                    self._spawn(self._offer({"x": [frame["entry"]]}))
                elif kind == "claimed":
                    cid = frame["chat"]["conversation_id"]
                    self.claiming.pop(cid, None)
                    self.waiting.discard(cid)
                    if cid not in self.owned:  # (a claim of a chat it holds already is answered as one)
                        self.owned[cid] = Chat(cid, self.rng.randint(6, 16))
                        self.f.claims += 1
                elif kind == "message":
                    chat = self.owned.get(frame.get("conversation_id", ""))
                    if frame.get("sender") == "agent":
                        self.f.agent_acked.add(frame.get("text", ""))
                    elif frame.get("sender") == "shopper" and chat is not None and not chat.closing:
                        self._spawn(self._answer(chat))
                elif kind == "chat_ended":
                    self.owned.pop(frame.get("conversation_id"), None)
                elif kind == "error":
                    code = frame.get("code")
                    if code not in ("already_claimed",):
                        self.f.errors[f"agent:{code}"] += 1
                        self.f.agent_errors[f"{str(frame.get('ref')).split(':')[0]}:{code}"] += 1
        except websockets.ConnectionClosed:
            pass

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _offer(self, queues: Dict[str, List[Dict[str, Any]]]) -> None:
        if time.monotonic() > self.stop_at:
            return
        now = time.monotonic()
        for entries in queues.values():
            for entry in entries:
                cid = entry["conversation_id"]
                if cid in self.owned or now - self.claiming.get(cid, -10.0) < 3:
                    continue
                if self.mine(cid) or entry.get("waited_s", 0) >= 2:
                    self.claiming[cid] = now
                    await self.send({"type": "claim", "conversation_id": cid}, still=partial(self._listed, cid))

    def _listed(self, cid: str) -> bool:
        """A console's Claim button: on a chat its queue list shows, not one it holds."""
        return cid in self.waiting and cid not in self.owned

    def _holds(self, chat: Chat) -> bool:
        """Still this claim of the chat, and its close not sent: a console's reply box is there."""
        return self.owned.get(chat.conversation_id) is chat and not chat.closed

    def _close_now(self, chat: Chat) -> bool:
        """The close's turn: sent only while the chat is held; nothing follows it."""
        if not self._holds(chat):
            return False
        chat.closed = True
        return True

    async def _answer(self, chat: Chat) -> None:
        await asyncio.sleep(self.rng.uniform(0.2, 1.0))
        if not self._holds(chat) or chat.closing or time.monotonic() > self.stop_at:
            return
        chat.left -= 1
        chat.closing = last = chat.left <= 0  # one answer is the last: only it closes the chat
        cid = chat.conversation_id
        self.replies += 1
        text = f"soak agent {self.index}-{self.replies}: noted, let me check that for you."
        try:
            if not await self.send({"type": "message", "conversation_id": cid, "text": text}, stamp=text,
                                   still=partial(self._holds, chat)) or not last:
                return
            await asyncio.sleep(self.rng.uniform(0.2, 1.0))
            if await self.send({"type": "close", "conversation_id": cid}, still=partial(self._close_now, chat)):
                self.f.closes += 1
        except websockets.ConnectionClosed:
            pass

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.ws is not None:
            await self.ws.close()


async def create_agents(db_url: str, count: int) -> List[str]:
    from handoff.auth import hash_password
    from handoff.storage import Storage

    storage = Storage(db_url)
    hashed = hash_password(AGENT_PASSWORD)
    names = []
    try:
        for i in range(count):
            await storage.create_agent(f"soak{i}", f"Agent {i}", hashed)
            names.append(f"soak{i}")
    finally:
        await storage.close()
    return names


async def login(url: str, username: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/api/login", json={"username": username, "password": AGENT_PASSWORD}) as r:
            assert r.status == 200, await r.text()
            return (await r.json())["token"]


def stored_messages(db_url: str) -> Tuple[Counter, Counter, Counter]:
    """(shopper client id -> rows, agent text -> rows, sender -> rows) of the soak."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url, future=True)
    try:
        with engine.connect() as connection:
            shoppers = Counter({
                row[0]: row[1] for row in connection.execute(text(
                    "select client_id, count(*) from messages where sender = 'shopper' "
                    "and client_id like 'sk%' group by client_id"))
            })
            agents = Counter({
                row[0]: row[1] for row in connection.execute(text(
                    "select text, count(*) from messages where sender = 'agent' group by text"))
            })
            senders = Counter({
                row[0]: row[1]
                for row in connection.execute(text("select sender, count(*) from messages group by sender"))
            })
    finally:
        engine.dispose()
    return shoppers, agents, senders


async def soak(args: argparse.Namespace, system: System) -> Dict[str, Any]:
    rng = random.Random(args.seed)
    rasa_url = args.rasa_url or system.rasa_url
    rasa_proc = None if args.rasa_url else system.bot_stack
    db_url = system.database()
    # the default per-connection rate limit, as deployed; no new-chat limit (every shopper is on 127.0.0.1)
    system_module.GATEWAY_ENV = {"KARA_GATEWAY_NEW_CHATS_PER_ADDRESS": "0"}
    launcher = None
    if args.trace_memory:
        launcher = [system.gateway_python, "-m", "bench.memtrace", args.trace_memory, str(args.trace_every), "--"]
    gw = system.gateway("soak", db_url=db_url, rasa_url=rasa_url, launcher=launcher,
                        extra=["--rasa-timeout", "30", "--log-level", "WARNING"], nofile=True)
    process = psutil.Process(gw.pid)
    figures = Figures()
    Shopper.f_bot_share = args.bot_share
    rss: List[Tuple[float, int]] = []
    t0 = time.monotonic()
    rss_launch = process.memory_info().rss
    stop_at = t0 + args.seconds
    ramp = min(30.0, args.seconds / 5)

    names = await create_agents(db_url, args.agents)
    tokens = [await login(gw.url, name) for name in names]
    config = gateway_config()
    agents = [Agent(i, args.agents, gw.ws_url + "/ws/agent", tokens[i], figures, random.Random(rng.random()), stop_at,
                    config)
              for i in range(args.agents)]
    agent_tasks = [asyncio.ensure_future(a.run()) for a in agents]

    async def sample() -> None:
        while time.monotonic() < stop_at + 30:
            try:
                rss.append((time.monotonic() - t0, process.memory_info().rss))
            except psutil.Error:
                return
            await asyncio.sleep(2.0)

    sampler = asyncio.ensure_future(sample())
    shoppers = [Shopper(i, gw.ws_url + "/ws/shopper", figures, random.Random(rng.random()), stop_at)
                for i in range(args.shoppers)]

    async def start(s: Shopper, delay: float) -> None:
        await asyncio.sleep(delay)
        await s.life()

    lives = [asyncio.ensure_future(start(s, ramp * i / max(1, args.shoppers))) for i, s in enumerate(shoppers)]
    crashed_clients = 0
    done, pending = await asyncio.wait(lives, timeout=args.seconds + 60)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            crashed_clients += 1
            print(f"  shopper task failed: {task.exception()!r}", file=sys.stderr)
    rss_end = process.memory_info().rss if process.is_running() else 0
    await asyncio.sleep(2.0)  # last agent echoes
    for s in shoppers:
        await s.close()
    for a in agents:
        await a.close()
    await asyncio.gather(*agent_tasks, return_exceptions=True)
    sampler.cancel()
    elapsed = time.monotonic() - t0

    gateway_alive = gw.proc.poll() is None
    rasa_alive = all(isinstance(http_json(f"{url}/version"), dict) for url in rasa_url.split(","))
    actions_alive = all(m.actions.alive() for m in rasa_proc.members) if rasa_proc is not None else None
    system.stop_gateway(gw)  # a clean stop: every pending commit is done
    log = gw.log.read_text(errors="replace")
    shoppers_db, agents_db, senders = stored_messages(db_url)

    shopper_dupes = sum(1 for n in shoppers_db.values() if n > 1)
    shopper_lost = sorted(figures.shopper_acked - set(shoppers_db))
    soak_agent_db = {t: n for t, n in agents_db.items() if t.startswith("soak agent ")}
    agent_dupes = sum(1 for n in soak_agent_db.values() if n > 1)
    agent_lost = sorted(figures.agent_acked - set(soak_agent_db))
    steady = [(t, r) for t, r in rss if t >= ramp + 5]
    start_rss = steady[0][1] if steady else rss_launch
    mid_rss = min(steady, key=lambda p: abs(p[0] - (ramp + 5 + args.seconds) / 2))[1] if steady else 0
    end_rss = rss_end or (steady[-1][1] if steady else 0)
    peak_rss = max((r for _, r in rss), default=0)
    slope = None
    if len(steady) > 3:
        xs = [t for t, _ in steady]
        ys = [r / 2**20 for _, r in steady]
        mx, my = statistics.mean(xs), statistics.mean(ys)
        denominator = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / denominator * 60 if denominator else 0.0

    accepted = len(figures.shopper_acked) + len(figures.agent_acked)
    result: Dict[str, Any] = {
        "shoppers": args.shoppers,
        "agents": args.agents,
        "seconds": args.seconds,
        "elapsed_s": round(elapsed, 1),
        "conversations": figures.conversations,
        "messages_sent": len(figures.shopper_sent) + len(figures.agent_sent),
        "messages_accepted": accepted,
        "shopper_messages_accepted": len(figures.shopper_acked),
        "agent_messages_accepted": len(figures.agent_acked),
        "messages_stored": sum(shoppers_db.values()) + sum(soak_agent_db.values()),
        "rows_by_sender": dict(senders),
        "accepted_per_s": round(accepted / max(1.0, args.seconds), 1),
        "duplicates": shopper_dupes + agent_dupes,
        "lost": len(shopper_lost) + len(agent_lost),
        "lost_examples": (shopper_lost + agent_lost)[:5],
        "sent_without_ack": (len(figures.shopper_sent - figures.shopper_acked)
                             + len(figures.agent_sent - figures.agent_acked)),
        "stored_without_ack": len(set(shoppers_db) - figures.shopper_acked),
        "no_ack_within_15s": figures.no_ack,
        "bot_turns": figures.bot_turns,
        "bot_turns_unanswered": figures.bot_turns_failed,
        "handoffs": figures.handoffs,
        "claims": figures.claims,
        "closes": figures.closes,
        "ratings": figures.ratings,
        "resends": figures.resends,
        "reconnects": figures.reconnects,
        "error_frames": dict(figures.errors),
        "error_examples": dict(figures.error_examples),
        "agent_error_frames": dict(figures.agent_errors),
        "crashes": int(not gateway_alive) + int(not rasa_alive) + int(actions_alive is False) + crashed_clients,
        "gateway_alive": gateway_alive,
        "rasa_alive": rasa_alive,
        "actions_alive": actions_alive,
        "client_task_failures": crashed_clients,
        "gateway_tracebacks": log.count("Traceback"),
        "gateway_rss_mib": {
            "launch": round(rss_launch / 2**20, 1),
            "start": round(start_rss / 2**20, 1),
            "middle": round(mid_rss / 2**20, 1),
            "end": round(end_rss / 2**20, 1),
            "peak": round(peak_rss / 2**20, 1),
            "slope_mib_per_min": None if slope is None else round(slope, 2),
        },
        "latency_ms": {
            "shopper_echo_p50": _r(pct(figures.echo_ms, 50)),
            "shopper_echo_p95": _r(pct(figures.echo_ms, 95)),
            "shopper_echo_p99": _r(pct(figures.echo_ms, 99)),
            "agent_to_shopper_p95": _r(pct(figures.agent_to_shopper_ms, 95)),
            "bot_turn_p50": _r(pct(figures.bot_turn_ms, 50)),
            "bot_turn_p95": _r(pct(figures.bot_turn_ms, 95)),
            "bot_turn_p99": _r(pct(figures.bot_turn_ms, 99)),
        },
        "rasa_processes": len(rasa_url.split(",")),
    }
    return result


def _r(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)


def report(result: Dict[str, Any]) -> str:
    rss = result["gateway_rss_mib"]
    lat = result["latency_ms"]
    lines = [
        f"soak: {result['shoppers']} shoppers, {result['agents']} agents, {result['seconds']} s "
        f"(elapsed {result['elapsed_s']} s, {result['conversations']} conversations)",
        f"  messages accepted {result['messages_accepted']} ({result['accepted_per_s']}/s; "
        f"shopper {result['shopper_messages_accepted']}, agent {result['agent_messages_accepted']}), "
        f"stored {result['messages_stored']}",
        f"  duplicates {result['duplicates']}, lost {result['lost']}, sent without ack {result['sent_without_ack']}, "
        f"stored without ack {result['stored_without_ack']}",
        f"  bot turns {result['bot_turns']} (unanswered {result['bot_turns_unanswered']}), "
        f"handoffs {result['handoffs']}, "
        f"claims {result['claims']}, closes {result['closes']}, ratings {result['ratings']}, "
        f"resends {result['resends']}, reconnects {result['reconnects']}",
        f"  error frames {result['error_frames']} (agents' by frame: {result['agent_error_frames']})"
        + "".join(f"\n    {code}: {example}" for code, example in result["error_examples"].items()),
        f"  crashes {result['crashes']} (gateway alive {result['gateway_alive']}, rasa alive {result['rasa_alive']}, "
        f"actions alive {result['actions_alive']}), tracebacks in gateway log {result['gateway_tracebacks']}",
        f"  gateway RSS MiB: launch {rss['launch']}, start {rss['start']}, middle {rss['middle']}, end {rss['end']}, "
        f"peak {rss['peak']}, slope {rss['slope_mib_per_min']} MiB/min",
        f"  latency ms: shopper echo p50 {lat['shopper_echo_p50']} p95 {lat['shopper_echo_p95']} "
        f"p99 {lat['shopper_echo_p99']}; agent->shopper p95 {lat['agent_to_shopper_p95']}; "
        f"bot turn p50 {lat['bot_turn_p50']} p95 {lat['bot_turn_p95']} p99 {lat['bot_turn_p99']} "
        f"({result['rasa_processes']} Rasa process(es))",
    ]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=500)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--rasa-url", help="a running assistant (URL[,URL...]); default: start one")
    parser.add_argument("--rasa-processes", type=int, default=1,
                        help="Rasa processes of the assistant started (more than one: on a PostgreSQL tracker store)")
    parser.add_argument("--bot-share", type=float, default=0.3,
                        help="chance of an FAQ turn before each request for a person")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--trace-memory", metavar="FILE",
                        help="run the gateway under tracemalloc (bench.memtrace) and write what grows to FILE")
    parser.add_argument("--trace-every", type=float, default=120.0, metavar="S",
                        help="seconds between tracemalloc snapshots (with --trace-memory)")
    args = parser.parse_args(argv)
    if not (1 <= args.shoppers <= 5000 and 1 <= args.agents <= 200 and 5 <= args.seconds <= 3600):
        parser.error("--shoppers 1..5000, --agents 1..200, --seconds 5..3600")
    raise_nofile()
    with System(rasa_processes=max(1, args.rasa_processes)) as system:
        result = asyncio.run(asyncio.wait_for(soak(args, system), args.seconds + 180))
    print(report(result), flush=True)
    print(json.dumps(result), flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    # an agent's error is one a real console would get too (see Agent): none is expected
    agent_errors = sum(n for code, n in result["error_frames"].items() if code.startswith("agent:"))
    ok = result["duplicates"] == 0 and result["lost"] == 0 and result["crashes"] == 0 and not agent_errors
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
