"""One socket's session, from its hello to its close: one loop for both endpoints.

:func:`session` reads a frame, rate-limits it, parses it
(:mod:`handoff.protocol`), queues a chat message on the socket's
:class:`~handoff.ordering.Pipeline` or hands any other frame (after the
messages sent before it) to its :class:`Endpoint` (:data:`SHOPPER` or
:data:`AGENT`: frame table, hello, other frames, leaving), which calls the
:class:`~handoff.service.Gateway`. Refusals and failures are answered with an
``error`` frame and the loop reads on; only an ``unauthorized`` error closes
the socket (code 4401), and a socket that has not said hello within
``hello_timeout_s`` is closed with 4408.

Per connection a session keeps a token bucket and its pipeline, and no task
or timer of its own while idle (an idle connection costs under 20 KiB,
``tests/handoff/test_scale.py``).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Optional, Set, Tuple

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from . import frames
from . import protocol as p
from .ordering import Pipeline, Take, send
from .ratelimit import TokenBucket
from .service import Gateway
from .storage import AgentRecord, ConversationRecord

logger = logging.getLogger(__name__)


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


# -- the endpoints: hello, other frames, leaving (a hello's welcome and
# history live in these functions' frames, not as long as the socket)


async def _shopper_hello(
    gateway: Gateway, socket: ServerConnection, frame: Any, ref: Optional[str], address: str
) -> Tuple[ConversationRecord, Optional[Awaitable[None]]]:
    gateway.hub.hold(socket)  # the welcome comes first
    try:
        conversation, out, new = await gateway.shopper_hello(socket, frame.token, frame.role, frame.line, address,
                                                           browser=frame.browser)
        out[0] = frames.with_ref(out[0], ref)  # the welcome answers the hello
        for one in out:
            await send(socket, one)
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
        await gateway.transfer(agent, frame.conversation_id, frame.queue, frame.note, frame.agent_id)
    elif isinstance(frame, p.Note):
        await gateway.add_note(agent, frame.conversation_id, frame.text)
    elif isinstance(frame, p.Seen):
        await gateway.seen(agent, frame.conversation_id, frame.up_to)
    elif isinstance(frame, p.Handback):
        await gateway.handback(agent, frame.conversation_id)
    elif isinstance(frame, p.Close):
        await gateway.close_chat(agent, frame.conversation_id)
    else:
        await _supervisor_frame(gateway, socket, agent, frame, ref)


async def _supervisor_frame(
    gateway: Gateway, socket: ServerConnection, agent: AgentRecord, frame: Any, ref: Optional[str]
) -> None:
    """Status, and the supervisors' frames (handoff/assign.py, handoff/supervise.py)."""
    if isinstance(frame, p.Status):
        await gateway.set_status(agent, frame.status)
    elif isinstance(frame, p.ListChats):
        await send(socket, await gateway.list_chats(agent, ref))
    elif isinstance(frame, p.Watch):
        await send(socket, await gateway.watch(agent, socket, frame.conversation_id, ref))
    elif isinstance(frame, p.Unwatch):
        await gateway.unwatch(agent, socket, frame.conversation_id)
    elif isinstance(frame, p.Reassign):
        await send(socket, await gateway.reassign(agent, frame.conversation_id, frame.agent_id, frame.queue, ref))


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


def _track(sessions: "Set[asyncio.Task[Any]]") -> None:
    """Keep this session's task in ``sessions`` while it runs (a shutdown
    cancels those stuck past the grace period, RunningGateway.close)."""
    task = asyncio.current_task()
    assert task is not None  # a session runs in websockets' task for its connection
    sessions.add(task)
    task.add_done_callback(sessions.discard)
