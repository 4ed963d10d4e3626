"""The websocket server: one port, two endpoints, one loop per socket.

:func:`start` builds the gateway (storage, live state, bus, Rasa client) from
a :class:`~handoff.config.GatewayConfig` and listens; :func:`run` is what
``python -m handoff serve`` calls. Each socket runs :func:`shopper_session`
or :func:`agent_session`: read a frame, rate-limit it, parse it
(:mod:`handoff.protocol`), call the :class:`~handoff.service.Gateway`, answer
errors with an ``error`` frame and keep reading. Only an ``unauthorized``
error closes the socket (code 4401).

Per connection the gateway keeps a token bucket and two references, and no
task or timer of its own (``websockets`` keeps its reader and its keepalive:
a ping every ``ping_interval``, the socket dropped when its pong is not back
within as long). Compression is off and queues are small, so an idle
connection costs under 20 KiB (``tests/handoff/test_scale.py``). Until it said
hello, a socket has ``hello_timeout_s``; a handshake has ``open_timeout_s``.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, List, Optional, Set, Tuple

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

from . import protocol as p
from .auth import TokenSigner
from .bus import MemoryBus, RedisBus
from .config import GatewayConfig
from .desk import routes as desk_routes  # tickets, ratings, canned replies, audit, agents, labels, search
from .live_state import MemoryQueueStore
from .live_state_redis import RedisQueueStore
from .ops.http import OpsRoutes  # reports for supervisors, /metrics
from .rasa_pool import RasaPool
from .ratelimit import TokenBucket
from .service import Gateway, random_secret
from .storage import AgentRecord, ConversationRecord, Storage, migrate
from .web import HttpRoutes, bind, process_request

logger = logging.getLogger(__name__)

#: Largest websocket message read at all; bigger ones close the socket (1009).
#: Between 4 KiB and this, the frame is answered with ``too_large``.
MAX_MESSAGE_BYTES = 64 * 1024
#: at shutdown, how long a socket may take to close before it is dropped (see RunningGateway.close)
SHUTDOWN_GRACE_S = 5.0
#: how long websockets waits for a client's side of a close handshake
CLOSE_TIMEOUT_S = 2.0
_NO_HEADERS = Headers()


#: (how many messages a call took, the rest of their work, whether the next
#: call may start before that work is done); see :class:`Pipeline`
Taken = Tuple[int, Awaitable[None], bool]
_Step = Tuple[Awaitable[None], List[Tuple[Any, Optional[str]]]]


class Pipeline:
    """A socket's chat messages, stored and relayed in order without holding up reading.

    The reader checks each ``message`` frame, queues it here and reads on.
    While anything is queued, one consumer task (per socket, none while idle)
    works the queue: it hands every waiting message to :attr:`take` (the
    gateway's ``shopper_messages`` / ``agent_messages``), which takes those
    that belong together (with an agent, the whole burst: one group commit,
    one bus round trip; with the bot, one at a time) and returns the rest of
    their work. Works are awaited in order, so messages are delivered in the
    order they were sent; a relayed burst's work (commit, then publish) may
    still be running while the next burst is taken and submitted for the next
    commit (at most one ahead), while a message for the bot is stored and
    acknowledged before the next is looked at (the assistant's answer is a
    turn of its own, :mod:`handoff.turns`). At most :attr:`LIMIT` wait in the queue (the
    reader then waits for the consumer to take them); any other frame first
    waits for the queue to be worked off (:meth:`drain`), so it is handled
    after the messages sent before it.
    """

    # Every socket has one, idle or not: slots only (no closure, no list until
    # a message comes; ``take`` is the gateway's function, shared by all).
    __slots__ = ("socket", "gateway", "take", "subject", "items", "task", "room")
    LIMIT = 256

    def __init__(
        self,
        socket: ServerConnection,
        gateway: Gateway,
        take: Callable[[Gateway, Any, List[Any]], Awaitable[Taken]],
    ) -> None:
        self.socket = socket
        self.gateway = gateway
        #: ``Gateway.shopper_messages`` or ``Gateway.agent_messages``: (gateway, subject, messages) -> Taken
        self.take = take
        #: the conversation or the agent, once the socket said hello
        self.subject: Any = None
        self.items: Optional[List[Tuple[Any, Optional[str]]]] = None
        self.task: "Optional[asyncio.Task[None]]" = None
        self.room: "Optional[asyncio.Future[None]]" = None

    async def add(self, message: Any, ref: Optional[str]) -> None:
        if self.items is None:
            self.items = []
        self.items.append((message, ref))
        if self.task is None:
            self.task = asyncio.ensure_future(self._work())
        elif len(self.items) >= self.LIMIT:
            self.room = asyncio.get_running_loop().create_future()
            await self.room

    async def _work(self) -> None:
        ahead: Optional[_Step] = None  # a relayed burst whose work is still to be awaited
        try:
            while True:
                if not self.items:
                    if ahead is None:
                        break
                    step, ahead = ahead, None
                    await self._finish(step)
                    continue
                batch, self.items = self.items, None
                self._wake()
                while batch:
                    try:
                        taken, work, chained = await self.take(
                            self.gateway, self.subject, [message for message, _ in batch]
                        )
                    except Exception as exc:  # refers to the first message
                        if ahead is not None:
                            step, ahead = ahead, None
                            await self._finish(step)
                        await self._failed(exc, batch[:1])
                        batch = batch[1:]
                        continue
                    step = (work, batch[:taken])
                    batch = batch[taken:]
                    if ahead is not None:
                        previous, ahead = ahead, None
                        await self._finish(previous)
                    if chained:
                        ahead = step
                    else:
                        await self._finish(step)
        finally:
            self.task = None
            self._wake()

    def _wake(self) -> None:
        room, self.room = self.room, None
        if room is not None and not room.done():
            room.set_result(None)

    async def _finish(self, step: _Step) -> None:
        work, items = step
        try:
            await work
        except Exception as exc:
            await self._failed(exc, items)

    async def _failed(self, exc: Exception, items: List[Tuple[Any, Optional[str]]]) -> None:
        """Answer a failure: a refusal refers to the first message, anything
        else (storage down...) to all of ``items``."""
        if isinstance(exc, p.ProtocolError):
            if exc.ref is None:
                exc.ref = items[0][1]
            await _send(self.socket, exc.frame())
            return
        logger.error("relaying a message failed", exc_info=exc)
        for _, ref in items:
            await _send(self.socket, p.internal_error_frame(ref))

    async def drain(self) -> None:
        while self.task is not None:
            await self.task


async def _send(socket: ServerConnection, frame: Any) -> None:
    try:
        await socket.send(p.dumps(frame))
    except ConnectionClosed:
        pass


class _HelloTimeout(Exception):
    """The socket did not say hello in time (see :func:`_recv`)."""


async def _recv(socket: ServerConnection, deadline: Optional[float]) -> Any:
    """The next websocket message; before hello (``deadline`` set, a loop
    time) only until the deadline. A socket that never says hello would
    otherwise hold its file descriptor for good."""
    if deadline is None:
        return await socket.recv()
    try:
        return await asyncio.wait_for(socket.recv(), max(0.0, deadline - asyncio.get_running_loop().time()))
    except asyncio.TimeoutError:
        raise _HelloTimeout from None


def _hello_deadline(gateway: Gateway) -> Optional[float]:
    timeout = gateway.config.hello_timeout_s
    return asyncio.get_running_loop().time() + timeout if timeout > 0 else None


async def _close_without_hello(gateway: Gateway, socket: ServerConnection) -> None:
    seconds = f"{gateway.config.hello_timeout_s:g}"
    await _send(socket, p.error_frame(p.Code.NOT_READY, f"No hello within {seconds} s; closing."))
    await socket.close(p.CLOSE_HELLO_TIMEOUT, "hello timeout")


def _limited(bucket: TokenBucket) -> None:
    wait_ms = bucket.take()
    if wait_ms:
        raise p.ProtocolError(
            p.Code.RATE_LIMITED, "Too many frames; slow down.", retry_after_ms=wait_ms
        )


async def shopper_session(
    gateway: Gateway, socket: ServerConnection, address: str, sessions: "Set[asyncio.Task[Any]]"
) -> None:
    _track(sessions)
    bucket = TokenBucket(gateway.config.rate_per_s, gateway.config.rate_burst)
    pipeline = Pipeline(socket, gateway, Gateway.shopper_messages)
    conversation: Optional[ConversationRecord] = None
    deadline = _hello_deadline(gateway)
    raw: Any = None
    frame: Any = None
    try:
        while True:
            raw = frame = None  # an idle socket keeps neither its last frame nor its text
            # (not ``async for``: no generator per socket)
            raw = await _recv(socket, deadline if conversation is None else None)
            ref: Optional[str] = None
            try:
                _limited(bucket)
                frame = p.parse_frame(raw, p.SHOPPER_FRAMES)
                ref = frame.ref
                if conversation is not None and isinstance(frame, p.ShopperMessage):
                    await pipeline.add(frame, ref)
                    continue
                await pipeline.drain()
                if isinstance(frame, p.ShopperHello):
                    if conversation is not None:
                        raise p.ProtocolError(p.Code.BAD_STATE, "hello was already sent.")
                    if frame.v != p.VERSION:
                        raise p.ProtocolError(
                            p.Code.UNSUPPORTED_VERSION, f"This gateway speaks version {p.VERSION}.", field="v"
                        )
                    gateway.hub.hold(socket)  # the welcome comes first
                    try:
                        conversation, frames, new = await gateway.shopper_hello(
                            socket, frame.token, frame.role, frame.line, address
                        )
                        pipeline.subject = conversation
                        frames[0] = _with_ref(frames[0], ref)  # the welcome answers the hello
                        for out in frames:
                            await _send(socket, out)
                        del frames, out  # the welcome and history need not live as long as the socket
                    finally:
                        gateway.hub.release(socket)
                    if new and conversation.line == "emergency":
                        await gateway.start_emergency(conversation)
                elif conversation is None:
                    raise p.ProtocolError(p.Code.NOT_READY, "Send hello first.")
                elif isinstance(frame, p.ShopperTyping):
                    await gateway.shopper_typing(conversation, frame.on)
                elif isinstance(frame, p.Rating):
                    await _send(socket, _with_ref(await gateway.rate(conversation, frame.score, frame.comment), ref))
                elif isinstance(frame, p.Ticket):
                    saved = await gateway.leave_ticket(conversation, frame.email, frame.text)
                    await _send(socket, _with_ref(saved, ref))
            except p.ProtocolError as error:
                gateway.metrics.refused("shopper", error.code)  # handoff/metrics.py
                if error.ref is None:
                    error.ref = ref
                await _send(socket, error.frame())
                if error.code == p.Code.UNAUTHORIZED:
                    await socket.close(p.CLOSE_UNAUTHORIZED, "unauthorized")
                    return
            except ConnectionClosed:
                raise
            except Exception:
                logger.exception("shopper frame failed")
                await _send(socket, p.internal_error_frame(ref))
    except _HelloTimeout:
        await _close_without_hello(gateway, socket)
    except ConnectionClosed:
        pass
    finally:
        await pipeline.drain()
        if conversation is not None:
            await gateway.shopper_left(conversation, socket)


async def agent_session(
    gateway: Gateway, socket: ServerConnection, address: str, sessions: "Set[asyncio.Task[Any]]"
) -> None:
    _track(sessions)
    bucket = TokenBucket(gateway.config.rate_per_s, gateway.config.rate_burst)
    pipeline = Pipeline(socket, gateway, Gateway.agent_messages)
    agent: Optional[AgentRecord] = None
    deadline = _hello_deadline(gateway)
    raw: Any = None
    frame: Any = None
    try:
        while True:
            raw = frame = None  # an idle socket keeps neither its last frame nor its text
            # (not ``async for``: no generator per socket)
            raw = await _recv(socket, deadline if agent is None else None)
            ref: Optional[str] = None
            try:
                _limited(bucket)
                frame = p.parse_frame(raw, p.AGENT_FRAMES)
                ref = frame.ref
                if agent is not None and isinstance(frame, p.AgentMessage):
                    await pipeline.add(frame, ref)
                    continue
                await pipeline.drain()
                if isinstance(frame, p.AgentHello):
                    if agent is not None:
                        raise p.ProtocolError(p.Code.BAD_STATE, "hello was already sent.")
                    if frame.v != p.VERSION:
                        raise p.ProtocolError(
                            p.Code.UNSUPPORTED_VERSION, f"This gateway speaks version {p.VERSION}.", field="v"
                        )
                    found = await gateway.agent_from_token(frame.token)
                    gateway.hub.hold(socket)  # the welcome comes first
                    try:
                        welcome = await gateway.agent_connected(found, socket)
                        agent = found
                        pipeline.subject = agent
                        await _send(socket, _with_ref(welcome, ref))
                        del welcome  # its queues and transcripts need not live as long as the socket
                    finally:
                        gateway.hub.release(socket)
                elif agent is None:
                    raise p.ProtocolError(p.Code.NOT_READY, "Send hello with your token first.")
                elif isinstance(frame, p.Claim):
                    await gateway.claim(agent, frame.conversation_id, ref)
                elif isinstance(frame, p.AgentTyping):
                    await gateway.agent_typing(agent, frame.conversation_id, frame.on)
                elif isinstance(frame, p.Transfer):
                    await gateway.transfer(agent, frame.conversation_id, frame.queue)
                elif isinstance(frame, p.Handback):
                    await gateway.handback(agent, frame.conversation_id)
                elif isinstance(frame, p.Close):
                    await gateway.close_chat(agent, frame.conversation_id)
            except p.ProtocolError as error:
                gateway.metrics.refused("agent", error.code)  # handoff/metrics.py
                if error.ref is None:
                    error.ref = ref
                await _send(socket, error.frame())
                if error.code == p.Code.UNAUTHORIZED:
                    await socket.close(p.CLOSE_UNAUTHORIZED, "unauthorized")
                    return
            except ConnectionClosed:
                raise
            except Exception:
                logger.exception("agent frame failed")
                await _send(socket, p.internal_error_frame(ref))
    except _HelloTimeout:
        await _close_without_hello(gateway, socket)
    except ConnectionClosed:
        pass
    finally:
        await pipeline.drain()
        if agent is not None:
            await gateway.agent_disconnected(agent, socket)


def _track(sessions: "Set[asyncio.Task[Any]]") -> None:
    """Keep this session's task in ``sessions`` while it runs (a shutdown
    cancels those stuck past the grace period, RunningGateway.close)."""
    task = asyncio.current_task()
    assert task is not None  # a session runs in websockets' task for its connection
    sessions.add(task)
    task.add_done_callback(sessions.discard)


def _with_ref(frame: Any, ref: Optional[str]) -> Any:
    if ref is not None:
        frame = dict(frame, ref=ref)
    return frame


@dataclass
class RunningGateway:
    gateway: Gateway
    server: Server
    host: str
    port: int
    #: the task of every running session (see close)
    sessions: "Set[asyncio.Task[Any]]" = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def close(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop accepting, close every socket with 1001 (going away; clients
        reconnect, to another process if there is one), then stop the gateway.
        Sockets get ``grace_s`` to finish: one whose client stopped reading
        (its close frame never goes out) or whose session is stuck is dropped
        then, so a shutdown never waits on a client."""
        self.server.close()  # every socket gets 1001
        try:
            await asyncio.wait_for(asyncio.shield(self.server.wait_closed()), grace_s)
        except asyncio.TimeoutError:
            stuck = list(self.sessions)
            logger.warning("shutdown: dropping %d socket(s) still open after %.0f s", len(stuck), grace_s)
            for socket in self.server.connections:
                socket.transport.abort()
            for task in stuck:
                task.cancel()
            await asyncio.wait_for(asyncio.shield(self.server.wait_closed()), grace_s)
        await self.gateway.close()


def build_gateway(config: GatewayConfig) -> Gateway:
    storage = Storage(config.db_url)
    if config.redis_url:
        live: Any = RedisQueueStore(config.redis_url, prefix=config.redis_prefix)
        bus: Any = RedisBus(config.redis_url, prefix=config.redis_prefix)
    else:
        live, bus = MemoryQueueStore(), MemoryBus()
    secret = config.secret
    if not secret:
        logger.warning("no --secret: using a random one; tokens die with this process")
        secret = random_secret()
    rasa = RasaPool(config.rasa_url, timeout_s=config.rasa_timeout, token=config.rasa_token, secret=secret)
    return Gateway(config, storage, live, bus, rasa, TokenSigner(secret))


async def start(config: GatewayConfig) -> RunningGateway:
    """Migrate (unless told not to), build the gateway and listen."""
    if config.migrate:
        await asyncio.get_running_loop().run_in_executor(None, migrate, config.db_url)
    gateway = build_gateway(config)
    await gateway.start()

    routes = HttpRoutes(config.widget_dir, gateway.login, config.allowed_origins, config.trusted_proxies,
                        [OpsRoutes(gateway).respond, *desk_routes(gateway)])
    sessions: "Set[asyncio.Task[Any]]" = set()

    def handler(socket: ServerConnection) -> Awaitable[None]:
        # A plain function returning the session coroutine: one coroutine
        # frame less per connection.
        request, response = socket.request, socket.response
        assert request is not None and response is not None  # the handshake is over
        address = routes.address(socket.remote_address, request.headers)
        path = request.path.split("?", 1)[0]
        # The handshake's headers (~2 KiB a socket) are not read again.
        request.headers = response.headers = _NO_HEADERS
        session = agent_session if path == "/ws/agent" else shopper_session
        return session(gateway, socket, address, sessions)

    ping = config.ping_interval if config.ping_interval > 0 else None
    server = await serve(
        handler,
        config.host,
        config.port,
        process_request=process_request(routes),
        create_connection=bind(routes, config.open_timeout_s),
        origins=None,  # checked by HttpRoutes (the gateway's own Origin by default)
        compression=None,
        max_size=MAX_MESSAGE_BYTES,
        max_queue=4,
        write_limit=2**14,
        # the connection answers 408 at open_timeout_s (web.GatewayConnection); this is the backstop
        open_timeout=config.open_timeout_s + 1 if config.open_timeout_s > 0 else None,
        ping_interval=ping,
        ping_timeout=ping,  # a pong must be back before the next ping
        close_timeout=CLOSE_TIMEOUT_S,
        server_header=None,
    )
    port = server.sockets[0].getsockname()[1] if server.sockets else config.port
    return RunningGateway(gateway, server, config.host, port, sessions)


async def run(config: GatewayConfig) -> None:
    """Serve until SIGINT/SIGTERM; prints ``gateway listening on http://HOST:PORT``."""
    running = await start(config)
    print(f"gateway listening on {running.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # pragma: no cover
            pass
    await stop.wait()
    await running.close()
