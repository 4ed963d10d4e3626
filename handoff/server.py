"""The websocket server: one port, two endpoints, one loop per socket.

:func:`start` builds the gateway (storage, live state, bus, Rasa client) from
a :class:`~handoff.config.GatewayConfig` and listens; :func:`run` is what
``python -m handoff serve`` calls. Each socket runs
:func:`handoff.session.session`, one loop for both endpoints (``/ws/agent``
gets :data:`~handoff.session.AGENT`, any other path
:data:`~handoff.session.SHOPPER`).

Per connection the gateway keeps a token bucket and two references, and no
task or timer of its own (``websockets`` keeps its reader and its keepalive:
a ping every ``ping_interval``, the socket dropped when its pong is not back
within as long). Compression is off and queues are small, so an idle
connection costs under 20 KiB (``tests/handoff/test_scale.py``). Until it said
hello, a socket has ``hello_timeout_s``; a handshake has ``open_timeout_s``.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
from dataclasses import dataclass, field
from typing import Any, Awaitable, Set

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers

from .auth import TokenSigner
from .bus import MemoryBus, RedisBus
from .config import GatewayConfig
from .desk import routes as desk_routes  # tickets, ratings, canned replies, audit, agents, labels, search
from .live_state_memory import MemoryQueueStore
from .live_state_redis import RedisQueueStore
from .attachments.routes import PATH as ATTACHMENTS
from .attachments.routes import AttachmentRoutes
from .ops.http import OpsRoutes  # reports for supervisors, /metrics
from .rasa_pool import RasaPool
from .service import Gateway, random_secret
from .session import AGENT, SHOPPER, session
from .storage import Storage, migrate
from .web import HttpRoutes, Upload, bind, process_request

logger = logging.getLogger(__name__)

#: Largest websocket message read at all; bigger ones close the socket (1009).
#: Between 4 KiB and this, the frame is answered with ``too_large``.
MAX_MESSAGE_BYTES = 64 * 1024
#: at shutdown, how long a socket may take to close before it is dropped (see RunningGateway.close)
SHUTDOWN_GRACE_S = 5.0
#: how long websockets waits for a client's side of a close handshake
CLOSE_TIMEOUT_S = 2.0
_NO_HEADERS = Headers()


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

    attachments = AttachmentRoutes(gateway)  # files sent in chats: a larger POST body (web.Upload)
    upload = Upload(config.attachment_max_bytes, config.upload_timeout_s, attachments.too_large)
    routes = HttpRoutes(config.widget_dir, gateway.login, config.allowed_origins, config.trusted_proxies,
                        [OpsRoutes(gateway).respond, attachments.respond, *desk_routes(gateway)],
                        {ATTACHMENTS: upload})
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
        # the connection answers 408 at open_timeout_s, an upload at upload_timeout_s
        # (web.GatewayConnection); this is the backstop
        open_timeout=max(config.open_timeout_s, config.upload_timeout_s) + 1 if config.open_timeout_s > 0 else None,
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
    # What the gateway loaded (SQLAlchemy, aiohttp, alembic, the app: over 115,000 objects) lives as
    # long as it does, and every full collection walked it all, stalling every socket of the process
    # (a two-minute soak: three of 64-112 ms). Frozen, the collector skips it (two of 18-20 ms).
    gc.collect()
    gc.freeze()
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
