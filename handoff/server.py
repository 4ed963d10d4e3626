"""The websocket server: one port, two endpoints, one loop per socket.

:func:`start` builds the gateway (storage, live state, bus, Rasa client) from
a :class:`~handoff.config.GatewayConfig` and listens; :func:`run` is what
``python -m handoff serve`` calls. Each socket runs one loop, :func:`session`,
with its endpoint's :class:`Endpoint` (:data:`SHOPPER` or :data:`AGENT`: its
frame table, hello, other frames, leaving): read a frame, rate-limit it,
parse it (:mod:`handoff.protocol`), queue a chat message on the socket's
:class:`~handoff.ordering.Pipeline` or hand any other frame to the
:class:`~handoff.service.Gateway`, answer errors with an ``error`` frame and
keep reading. Only an ``unauthorized`` error closes the socket (code 4401).

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
from typing import Any, Awaitable, Callable, Mapping, Optional, Set, Tuple

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed

from . import frames
from . import protocol as p
from .auth import TokenSigner
from .bus import MemoryBus, RedisBus
from .config import GatewayConfig
from .live_state import MemoryQueueStore
from .live_state_redis import RedisQueueStore
from .ordering import Pipeline, Take, send
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
    await send(socket, frames.error(p.Code.NOT_READY, f"No hello within {seconds} s; closing."))
    await socket.close(p.CLOSE_HELLO_TIMEOUT, "hello timeout")


def _limited(bucket: TokenBucket) -> None:
    wait_ms = bucket.take()
    if wait_ms:
        raise p.ProtocolError(
            p.Code.RATE_LIMITED, "Too many frames; slow down.", retry_after_ms=wait_ms
        )


async def _shopper_hello(
    gateway: Gateway, socket: ServerConnection, frame: Any, ref: Optional[str], address: str
) -> Tuple[ConversationRecord, Optional[Awaitable[None]]]:
    gateway.hub.hold(socket)  # the welcome comes first
    try:
        conversation, out, new = await gateway.shopper_hello(socket, frame.token, frame.role, frame.line, address)
        out[0] = frames.with_ref(out[0], ref)  # the welcome answers the hello
        for one in out:
            await send(socket, one)
        del out  # the welcome and history need not live as long as the socket
    finally:
        gateway.hub.release(socket)
    opening = gateway.start_emergency(conversation) if new and conversation.line == "emergency" else None
    return conversation, opening


async def _shopper_frame(
    gateway: Gateway, socket: ServerConnection, conversation: ConversationRecord, frame: Any, ref: Optional[str]
) -> None:
    if isinstance(frame, p.ShopperTyping):
        await gateway.shopper_typing(conversation, frame.on)
    elif isinstance(frame, p.Rating):
        await send(socket, frames.with_ref(await gateway.rate(conversation, frame.score, frame.comment), ref))
    elif isinstance(frame, p.Ticket):
        await send(socket, frames.with_ref(await gateway.leave_ticket(conversation, frame.email, frame.text), ref))


async def _shopper_left(gateway: Gateway, conversation: ConversationRecord, socket: ServerConnection) -> None:
    await gateway.shopper_left(conversation, socket)


async def _agent_hello(
    gateway: Gateway, socket: ServerConnection, frame: Any, ref: Optional[str], address: str
) -> Tuple[AgentRecord, Optional[Awaitable[None]]]:
    agent = await gateway.agent_from_token(frame.token)
    gateway.hub.hold(socket)  # the welcome comes first
    try:
        welcome = await gateway.agent_connected(agent, socket)
        await send(socket, frames.with_ref(welcome, ref))
        del welcome  # its queues and transcripts need not live as long as the socket
    finally:
        gateway.hub.release(socket)
    return agent, None


async def _agent_frame(
    gateway: Gateway, socket: ServerConnection, agent: AgentRecord, frame: Any, ref: Optional[str]
) -> None:
    if isinstance(frame, p.Claim):
        await gateway.claim(agent, frame.conversation_id, ref)
    elif isinstance(frame, p.AgentTyping):
        await gateway.agent_typing(agent, frame.conversation_id, frame.on)
    elif isinstance(frame, p.Transfer):
        await gateway.transfer(agent, frame.conversation_id, frame.queue)
    elif isinstance(frame, p.Handback):
        await gateway.handback(agent, frame.conversation_id)
    elif isinstance(frame, p.Close):
        await gateway.close_chat(agent, frame.conversation_id)


async def _agent_left(gateway: Gateway, agent: AgentRecord, socket: ServerConnection) -> None:
    await gateway.agent_disconnected(agent, socket)


@dataclass(frozen=True)
class Endpoint:
    """What differs between ``/ws/shopper`` and ``/ws/agent``; :func:`session` is the rest.

    One instance per endpoint, shared by its sockets (nothing per socket)."""

    name: str
    #: the client frames it parses (handoff.protocol)
    frames: Mapping[str, Any]
    #: its hello frame, and its chat message frame (queued on the socket's Pipeline, handoff.ordering)
    hello_frame: "type[Any]"
    message: "type[Any]"
    #: the Gateway's function that takes queued messages (Pipeline.take)
    take: Take
    #: the answer to a frame before hello
    not_ready: str
    #: (gateway, socket, hello, ref, address) -> the subject (conversation, agent), and
    #: what to do once the welcome is out
    hello: Callable[..., Awaitable[Tuple[Any, Optional[Awaitable[None]]]]]
    #: (gateway, socket, subject, frame, ref): any other frame, once there is a subject
    handle: Callable[..., Awaitable[None]]
    #: (gateway, subject, socket): the socket closed, after hello
    left: Callable[..., Awaitable[None]]


SHOPPER = Endpoint(
    "shopper", p.SHOPPER_FRAMES, p.ShopperHello, p.ShopperMessage, Gateway.shopper_messages, "Send hello first.",
    _shopper_hello, _shopper_frame, _shopper_left,
)
AGENT = Endpoint(
    "agent", p.AGENT_FRAMES, p.AgentHello, p.AgentMessage, Gateway.agent_messages, "Send hello with your token first.",
    _agent_hello, _agent_frame, _agent_left,
)


async def session(
    endpoint: Endpoint, gateway: Gateway, socket: ServerConnection, address: str, sessions: "Set[asyncio.Task[Any]]"
) -> None:
    """One socket, from its hello to its close: read a frame, rate-limit it,
    parse it, hand chat messages to its pipeline and anything else to the
    endpoint (after the messages before it), answer refusals and failures
    with ``error`` frames and keep reading."""
    _track(sessions)
    bucket = TokenBucket(gateway.config.rate_per_s, gateway.config.rate_burst)
    pipeline = Pipeline(socket, gateway, endpoint.take)
    deadline = _hello_deadline(gateway)
    raw: Any = None
    frame: Any = None
    try:
        while True:
            raw = frame = None  # an idle socket keeps neither its last frame nor its text
            # (not ``async for``: no generator per socket)
            raw = await _recv(socket, deadline if pipeline.subject is None else None)
            ref: Optional[str] = None
            try:
                _limited(bucket)
                frame = p.parse_frame(raw, endpoint.frames)
                ref = frame.ref
                if pipeline.subject is not None and isinstance(frame, endpoint.message):
                    await pipeline.add(frame, ref)
                    continue
                await pipeline.drain()
                await _handle(endpoint, gateway, socket, pipeline, frame, ref, address)
            except p.ProtocolError as error:
                if await _refused(endpoint, gateway, socket, error, ref):
                    return
            except ConnectionClosed:
                raise
            except Exception:
                logger.exception("%s frame failed", endpoint.name)
                await send(socket, frames.internal_error(ref))
    except _HelloTimeout:
        await _close_without_hello(gateway, socket)
    except ConnectionClosed:
        pass
    finally:
        await pipeline.drain()
        if pipeline.subject is not None:
            await endpoint.left(gateway, pipeline.subject, socket)


async def _handle(
    endpoint: Endpoint,
    gateway: Gateway,
    socket: ServerConnection,
    pipeline: Pipeline,
    frame: Any,
    ref: Optional[str],
    address: str,
) -> None:
    """A frame that is not a chat message (those go to the pipeline)."""
    if isinstance(frame, endpoint.hello_frame):
        if pipeline.subject is not None:
            raise p.ProtocolError(p.Code.BAD_STATE, "hello was already sent.")
        if frame.v != p.VERSION:
            raise p.ProtocolError(p.Code.UNSUPPORTED_VERSION, f"This gateway speaks version {p.VERSION}.", field="v")
        pipeline.subject, then = await endpoint.hello(gateway, socket, frame, ref, address)
        if then is not None:
            await then
    elif pipeline.subject is None:
        raise p.ProtocolError(p.Code.NOT_READY, endpoint.not_ready)
    else:
        await endpoint.handle(gateway, socket, pipeline.subject, frame, ref)


async def _refused(
    endpoint: Endpoint, gateway: Gateway, socket: ServerConnection, error: p.ProtocolError, ref: Optional[str]
) -> bool:
    """Answer a refusal; True when the socket is closed for it (``unauthorized``)."""
    gateway.metrics.refused(endpoint.name, error.code)  # handoff/metrics.py
    if error.ref is None:
        error.ref = ref
    await send(socket, error.frame())
    if error.code == p.Code.UNAUTHORIZED:
        await socket.close(p.CLOSE_UNAUTHORIZED, "unauthorized")
        return True
    return False


async def shopper_session(
    gateway: Gateway, socket: ServerConnection, address: str, sessions: "Set[asyncio.Task[Any]]"
) -> None:
    await session(SHOPPER, gateway, socket, address, sessions)


async def agent_session(
    gateway: Gateway, socket: ServerConnection, address: str, sessions: "Set[asyncio.Task[Any]]"
) -> None:
    await session(AGENT, gateway, socket, address, sessions)


def _track(sessions: "Set[asyncio.Task[Any]]") -> None:
    """Keep this session's task in ``sessions`` while it runs (a shutdown
    cancels those stuck past the grace period, RunningGateway.close)."""
    task = asyncio.current_task()
    assert task is not None  # a session runs in websockets' task for its connection
    sessions.add(task)
    task.add_done_callback(sessions.discard)


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
                        [OpsRoutes(gateway).respond])
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
        return session(AGENT if path == "/ws/agent" else SHOPPER, gateway, socket, address, sessions)

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
