"""What every part of the gateway shares: its stores, its relay, its background jobs.

:class:`~handoff.service.Gateway` builds one :class:`GatewayCore` and hands it
to each of its parts (:mod:`handoff.shopper`, :mod:`handoff.bot`,
:mod:`handoff.handoffs`, :mod:`handoff.agents`, :mod:`handoff.waits`,
:mod:`handoff.recovery`, :mod:`handoff.lifecycle`, :mod:`handoff.ordering`).
A part keeps no state another part needs; what several need lives here.

Timers (agent grace period, emergency paging) are ``loop.call_later`` handles
in the process where the event happened (:meth:`Tasks.later`); when they fire
they re-check live state, so a timer that is no longer relevant does nothing.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Set

from . import frames
from .auth import TokenSigner
from .config import GatewayConfig
from .frames import Frame
from .hub import Hub
from .live_state import QueueStore
from .metrics import GatewayMetrics
from .protocol import Code, ProtocolError
from .rasa_client import RasaUnavailable
from .rasa_pool import RasaPool
from .storage import AgentRecord, ConversationRecord, MessageRecord, Storage

logger = logging.getLogger(__name__)

#: messages in a welcome's history, a chat's transcript, a replay
HISTORY_LIMIT = 200


class Tasks:
    """The gateway's background jobs and timers, all cancelled when it closes."""

    def __init__(self) -> None:
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._timers: Set[asyncio.TimerHandle] = set()

    def spawn(self, coro: Awaitable[Any]) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background job failed", exc_info=task.exception())

    def later(self, delay: float, job: Callable[[], Awaitable[Any]]) -> None:
        """Run ``job()`` as a background job in ``delay`` seconds."""
        loop = asyncio.get_running_loop()
        handle: Optional[asyncio.TimerHandle] = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self.spawn(job())

        handle = loop.call_later(max(0.0, delay), fire)
        self._timers.add(handle)

    async def cancel_all(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class GatewayCore:
    """The shared state of one gateway process (see module docs)."""

    def __init__(
        self,
        config: GatewayConfig,
        storage: Storage,
        live: QueueStore,
        hub: Hub,
        rasa: RasaPool,
        signer: TokenSigner,
        metrics: GatewayMetrics,
    ) -> None:
        self.config = config
        #: SQL: every message, handoff stint, ticket, page, rating (handoff.storage)
        self.storage = storage
        #: the live state: queues, who owns what, presence (handoff.live_state)
        self.live = live
        self.hub = hub
        self.rasa = rasa
        self.signer = signer
        self.metrics = metrics
        self.process_id = uuid.uuid4().hex[:12]
        self.tasks = Tasks()
        #: the agents with a socket on this process
        self.agents: Dict[int, AgentRecord] = {}
        #: runs automatic assignment soon (handoff/assign.py; set by the Gateway)
        self.assigner: Optional[Callable[[], None]] = None

    def wake_assigner(self) -> None:
        """A chat started waiting or an agent may take one: assign soon."""
        if self.assigner is not None:
            self.assigner()

    async def system(self, conversation_id: str, text: str) -> Frame:
        """Store a ``system`` message (a transition the transcript keeps); its frame."""
        record, _ = await self.storage.add_message(
            MessageRecord(conversation_id=conversation_id, sender="system", text=text)
        )
        return frames.message_frame(record)

    async def conversation(self, conversation_id: str) -> ConversationRecord:
        record = await self.storage.conversation(conversation_id)
        if record is None:
            raise ProtocolError(Code.NOT_FOUND, "No such conversation.")
        return record

    async def resume_rasa(self, cid: str) -> None:
        try:
            await self.rasa.resume(cid)
        except RasaUnavailable as exc:
            logger.warning("could not resume the rasa conversation: %s", exc)

    async def pause_rasa(self, cid: str) -> None:
        try:
            await self.rasa.pause(cid)
        except RasaUnavailable as exc:
            logger.warning("could not pause the rasa conversation: %s", exc)
