"""The handoff queue and the rest of the live state: the :class:`QueueStore` contract.

Live state is what every gateway process must agree on at once: which chats
wait in which queue and in what order, who owns a chat, which agents are
online. It lives in Redis (:class:`handoff.live_state_redis.RedisQueueStore`) so
several processes act as one, or in memory
(:class:`handoff.live_state_memory.MemoryQueueStore`) for a
single process. Both pass the same contract tests
(``tests/handoff/test_queue_store.py``). Durable records (transcripts,
handoff history) are in :mod:`handoff.storage`, not here.

Ordering: queues are served ``emergency`` > ``security`` > ``disputes`` >
``general`` (:data:`handoff.contract.QUEUES`), first come first served within
a queue; a chat whose agent dropped goes back to the *front* of its queue. A
shopper's position counts every chat served before theirs, across queues
(1 = next).

Every state change an agent or a timer makes is one atomic operation that
checks its precondition (``claim`` only a waiting chat, ``release`` /
``requeue`` only a chat one owns), so two agents claiming at once cannot both
win, on one process or many.

What is kept: a chat waiting or with an agent, until it leaves; a closed chat
(its pending rating, "conversation ended" on reload) for
:data:`CLOSED_KEPT_S`, without its queue entry; nothing for a conversation
with the bot, which reads as never seen. So live state grows with the chats
open and recently closed, not with every conversation a process ever had.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Set, Tuple

from .contract import QUEUE_PRIORITY, QUEUES
from .countdown import due_iso

#: Conversation states, as the shopper sees them.
BOT, WAITING, AGENT, CLOSED = "bot", "waiting", "agent", "closed"

#: How long a closed chat's live state is kept (its rating may come later,
#: a reload shows "conversation ended"); then the conversation is with the bot.
CLOSED_KEPT_S = 24 * 3600
#: How many handle times the rolling average keeps.
HANDLE_TIMES_KEPT = 50


@dataclass(frozen=True)
class QueueEntry:
    """A chat waiting for a person (what agents see in the queue lists)."""

    conversation_id: str
    queue: str
    reason: str
    summary: str
    handoff_id: int
    context: Dict[str, Any] = field(default_factory=dict)
    enqueued_at: float = field(default_factory=time.time)
    line: str = "chat"
    requeued: bool = False
    #: a pending transfer (handoff/assign.py): the agent who keeps the chat until it is taken
    kept_by: Optional[int] = None
    kept_by_name: Optional[str] = None
    #: a transfer to a named agent: only they may take it (until it falls back to the queue)
    offered_to: Optional[int] = None
    offered_to_name: Optional[str] = None

    @property
    def priority(self) -> int:
        return QUEUE_PRIORITY[self.queue]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, text: str) -> "QueueEntry":
        return cls(**json.loads(text))

    def frame(self, now: Optional[float] = None) -> Dict[str, Any]:
        """The entry as the protocol shows it to agents (``sla_due``: its
        first-response deadline, :mod:`handoff.countdown`)."""
        now = time.time() if now is None else now
        return {
            "conversation_id": self.conversation_id,
            "queue": self.queue,
            "priority": self.priority,
            "reason": self.reason,
            "summary": self.summary,
            "context": self.context,
            "line": self.line,
            "requeued": self.requeued,
            "enqueued_at": _iso(self.enqueued_at),
            "waited_s": max(0, int(now - self.enqueued_at)),
            "sla_due": due_iso(self.queue, self.enqueued_at),
            "kept_by": _who(self.kept_by, self.kept_by_name),
            "offered_to": _who(self.offered_to, self.offered_to_name),
        }


def _who(agent_id: Optional[int], name: Optional[str]) -> Optional[Dict[str, Any]]:
    return None if agent_id is None else {"id": agent_id, "name": name}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


@dataclass(frozen=True)
class LiveState:
    """Where a conversation is now. A conversation never seen is in ``bot``."""

    state: str = BOT
    queue: Optional[str] = None
    handoff_id: Optional[int] = None
    agent_id: Optional[int] = None
    agent_name: Optional[str] = None
    entry: Optional[QueueEntry] = None
    #: set while ``closed`` and the shopper's rating of that handoff is awaited
    rating_handoff: Optional[int] = None
    #: with an agent who transferred it: the entry waiting in its queue until
    #: someone takes it (the owner keeps the chat meanwhile)
    pending: Optional[QueueEntry] = None


Snapshot = Dict[str, List[QueueEntry]]


def positions(snapshot: Snapshot) -> Dict[str, int]:
    """conversation id -> position in serving order (1 = next)."""
    result: Dict[str, int] = {}
    ahead = 0
    for queue in QUEUES:
        for entry in snapshot.get(queue, []):
            ahead += 1
            result[entry.conversation_id] = ahead
    return result


class QueueStore(Protocol):
    """Live state shared by all gateway processes (see module docs)."""

    async def get(self, conversation_id: str) -> LiveState:
        """The live state (``LiveState()`` when unknown)."""

    async def set_state(self, conversation_id: str, state: LiveState) -> None:
        """Overwrite the state of a conversation that is neither waiting nor owned
        (new conversation, closed -> bot, rating received)."""

    async def enqueue(self, entry: QueueEntry, *, front: bool = False) -> None:
        """Put a chat in ``entry.queue`` (back, or front), state ``waiting``."""

    async def claim(
        self, conversation_id: str, agent_id: int, agent_name: str, *, capacity: Optional[int] = None
    ) -> Optional[QueueEntry]:
        """Atomically take a waiting chat, or one whose owner transferred it
        (its ``pending`` entry; the owner loses it: ``entry.kept_by``); None
        when it is neither (lost race), is offered to another agent
        (``offered_to``), is the claimer's own, or, with ``capacity``, when
        the claimer already owns that many chats. Records the claim time."""

    async def offer(
        self, conversation_id: str, agent_id: int, entry: QueueEntry, *, replaces: Optional[int] = None
    ) -> bool:
        """Owner ``agent_id`` transfers the chat but keeps it until someone
        takes it: ``entry`` waits in its queue (at the back; where it was when
        it already waits there) as the chat's ``pending``. With ``replaces``,
        only if the pending entry is still that handoff's. False (and nothing
        changes) otherwise, or when ``agent_id`` is not the owner."""

    async def release(
        self, conversation_id: str, agent_id: int, state: str, *, rating_handoff: Optional[int] = None
    ) -> bool:
        """Owner ``agent_id`` lets go: the chat goes to ``state`` (bot or closed).
        False (and nothing changes) when ``agent_id`` is not the owner."""

    async def requeue(self, conversation_id: str, agent_id: int, entry: QueueEntry, *, front: bool) -> bool:
        """Owner ``agent_id`` puts the chat back in a queue (transfer, agent drop).
        False (and nothing changes) when ``agent_id`` is not the owner."""

    async def dequeue(self, conversation_id: str, state: str) -> Optional[QueueEntry]:
        """Take a waiting chat out of its queue into ``state`` (ticket left)."""

    async def snapshot(self) -> Snapshot:
        """Every queue, in serving order."""

    async def owned_by(self, agent_id: int) -> List[str]:
        """Conversation ids owned by an agent."""

    async def agent_online(self, agent_id: int, process_id: str, ttl_s: float) -> None:
        """Mark an agent present on a process until now + ttl (heartbeats renew)."""

    async def agent_offline(self, agent_id: int, process_id: str) -> None:
        """The agent has no connection on that process any more."""

    async def online_agents(self) -> Set[int]:
        """Agents present on any process."""

    async def record_handle_time(self, seconds: float) -> None:
        """Remember how long a chat took an agent (claim to release)."""

    async def average_handle_time(self) -> Optional[float]:
        """Rolling mean of the last handle times; None before any."""

    async def mark_paged(self, handoff_id: int) -> bool:
        """True the first time only: an emergency handoff is paged once."""

    async def mark_escalated(self, key: str) -> bool:
        """True the first time only, whichever process asks: an SLA escalation
        (``key`` names it and its chat, :mod:`handoff.escalation`) happens once."""

    async def owners(self) -> Set[int]:
        """Agents who own at least one chat (online or not)."""

    async def set_status(self, agent_id: int, status: str) -> None:
        """An agent's status (``online``, ``away``, ``busy``: :mod:`handoff.live_status`)."""

    async def statuses(self) -> Dict[int, str]:
        """Every agent's status that was set (an agent never set is ``online``)."""

    async def claim_times(self) -> Dict[int, float]:
        """Agent -> when they last claimed a chat (``time.time()``): who is idle longest."""

    async def once(self, key: str, ttl_s: float) -> bool:
        """True for the first caller of ``key`` (any process) until ``ttl_s`` passes."""

    async def count(self, key: str, window_s: float, add: int = 1) -> Tuple[int, float]:
        """Add ``add`` to the counter ``key`` (shared by every process) and
        return its value and the seconds left in its window. A window starts
        with the first count and lasts ``window_s``; then the counter is
        gone (see :mod:`handoff.throttle`)."""

    async def populated(self) -> bool:
        """Whether the live state is known to hold every open handoff. False
        on a new or restarted (emptied) Redis: the gateway then rebuilds it
        from SQL (:meth:`handoff.recovery.Recovery.restore_live_state`)."""

    async def mark_populated(self) -> None:
        """Record that the live state was built (see :meth:`populated`)."""

    async def close(self) -> None:
        """Release connections."""
