"""The handoff queue and the rest of the live state: the :class:`QueueStore` contract.

Live state is what every gateway process must agree on at once: which chats
wait in which queue and in what order, who owns a chat, which agents are
online. It lives in Redis (:class:`handoff.live_state_redis.RedisQueueStore`) so
several processes act as one, or in memory (:class:`MemoryQueueStore`) for a
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
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Dict, List, Optional, Protocol, Set, Tuple

from .contract import QUEUE_PRIORITY, QUEUES
from .countdown import due_iso
from .live_status import MemoryAgentStatus

#: Conversation states, as the shopper sees them.
BOT, WAITING, AGENT, CLOSED = "bot", "waiting", "agent", "closed"

#: How long a closed chat's live state is kept (its rating may come later,
#: a reload shows "conversation ended"); then the conversation is with the bot.
CLOSED_KEPT_S = 24 * 3600


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


#: Throttle counters kept in memory before the ended windows are swept out.
COUNTERS_BEFORE_SWEEP = 10_000
#: How many handle times the rolling average keeps.
HANDLE_TIMES_KEPT = 50


class MemoryQueueStore(MemoryAgentStatus):
    """One-process live state in dicts. Each method runs without awaiting, so
    it is atomic on the event loop exactly like a Lua script on Redis."""

    def __init__(self) -> None:
        self._states: Dict[str, LiveState] = {}
        self._queues: Dict[str, List[str]] = {queue: [] for queue in QUEUES}
        self._owned: Dict[int, Set[str]] = {}
        self._presence: Dict[Tuple[int, str], float] = {}
        self._handle_times: List[float] = []
        self._paged: Set[int] = set()
        self._escalated: Set[str] = set()
        self._once: Dict[str, float] = {}
        self._counts: Dict[str, Tuple[int, float]] = {}  # key -> (count, window end)
        # closed conversations -> when their state is forgotten; every closed
        # state is kept equally long, so insertion order is expiry order
        self._closing: Dict[str, float] = {}
        # Memory dies with its process and is never emptied under it: nothing
        # to rebuild (a restarted one-process gateway starts with empty queues).
        self._populated = True
        MemoryAgentStatus.__init__(self)

    async def get(self, conversation_id: str) -> LiveState:
        self._expire()
        return self._states.get(conversation_id, LiveState())

    def _keep(self, conversation_id: str, state: LiveState) -> None:
        """Record ``state`` as the module docs say: nothing for the bot, a
        closed chat until :data:`CLOSED_KEPT_S` from now."""
        self._closing.pop(conversation_id, None)
        if state.state == BOT:
            self._states.pop(conversation_id, None)
        else:
            if state.state == CLOSED:
                self._closing[conversation_id] = time.monotonic() + CLOSED_KEPT_S
            self._states[conversation_id] = state
        self._expire()

    def _expire(self) -> None:
        now = time.monotonic()
        while self._closing:
            cid, until = next(iter(self._closing.items()))
            if until > now:
                return
            del self._closing[cid]
            self._states.pop(cid, None)

    async def set_state(self, conversation_id: str, state: LiveState) -> None:
        self._unlist(conversation_id)
        current = self._states.get(conversation_id)
        if current is not None and current.agent_id is not None:
            self._owned.get(current.agent_id, set()).discard(conversation_id)
        self._keep(conversation_id, state)

    def _unlist(self, conversation_id: str) -> None:
        for ids in self._queues.values():
            if conversation_id in ids:
                ids.remove(conversation_id)

    async def enqueue(self, entry: QueueEntry, *, front: bool = False) -> None:
        self._put(entry, front)

    def _put(self, entry: QueueEntry, front: bool) -> None:
        cid = entry.conversation_id
        self._unlist(cid)
        current = self._states.get(cid)
        if current is not None and current.agent_id is not None:
            self._owned.get(current.agent_id, set()).discard(cid)
        ids = self._queues[entry.queue]
        ids.insert(0, cid) if front else ids.append(cid)
        self._keep(cid, LiveState(state=WAITING, queue=entry.queue, handoff_id=entry.handoff_id, entry=entry))

    async def claim(
        self, conversation_id: str, agent_id: int, agent_name: str, *, capacity: Optional[int] = None
    ) -> Optional[QueueEntry]:
        current = self._states.get(conversation_id)
        if current is None or (capacity is not None and len(self._owned.get(agent_id, ())) >= capacity):
            return None
        entry = current.entry if current.state == WAITING else current.pending
        if entry is None or current.state not in (WAITING, AGENT) or current.agent_id == agent_id:
            return None
        if entry.offered_to is not None and entry.offered_to != agent_id:
            return None
        self._unlist(conversation_id)
        if current.agent_id is not None:  # a transfer: its owner lets go now
            self._owned.get(current.agent_id, set()).discard(conversation_id)
        self._states[conversation_id] = LiveState(
            state=AGENT, queue=entry.queue, handoff_id=entry.handoff_id, agent_id=agent_id, agent_name=agent_name,
            entry=entry,
        )
        self._owned.setdefault(agent_id, set()).add(conversation_id)
        self._claimed_at[agent_id] = time.time()
        return entry

    async def offer(
        self, conversation_id: str, agent_id: int, entry: QueueEntry, *, replaces: Optional[int] = None
    ) -> bool:
        if not self._owns(conversation_id, agent_id):
            return False
        current = self._states[conversation_id]
        if replaces is not None and (current.pending is None or current.pending.handoff_id != replaces):
            return False
        if conversation_id not in self._queues[entry.queue]:
            self._unlist(conversation_id)
            self._queues[entry.queue].append(conversation_id)
        self._states[conversation_id] = replace(current, pending=entry)
        return True

    def _owns(self, conversation_id: str, agent_id: int) -> bool:
        current = self._states.get(conversation_id)
        return current is not None and current.state == AGENT and current.agent_id == agent_id

    async def release(
        self, conversation_id: str, agent_id: int, state: str, *, rating_handoff: Optional[int] = None
    ) -> bool:
        if not self._owns(conversation_id, agent_id):
            return False
        current = self._states[conversation_id]
        self._unlist(conversation_id)  # a pending transfer is withdrawn
        self._owned.get(agent_id, set()).discard(conversation_id)
        kept = LiveState(state=state, handoff_id=current.handoff_id, rating_handoff=rating_handoff)
        self._keep(conversation_id, kept)
        return True

    async def requeue(self, conversation_id: str, agent_id: int, entry: QueueEntry, *, front: bool) -> bool:
        if not self._owns(conversation_id, agent_id):
            return False
        self._owned.get(agent_id, set()).discard(conversation_id)
        self._put(entry, front)
        return True

    async def dequeue(self, conversation_id: str, state: str) -> Optional[QueueEntry]:
        current = self._states.get(conversation_id)
        if current is None or current.state != WAITING:
            return None
        self._unlist(conversation_id)
        self._keep(conversation_id, LiveState(state=state, handoff_id=current.handoff_id))
        return current.entry

    async def snapshot(self) -> Snapshot:
        result: Snapshot = {}
        for queue in QUEUES:
            entries = []
            for cid in self._queues[queue]:
                state = self._states[cid]
                entry = state.entry if state.state == WAITING else state.pending
                if entry is not None:
                    entries.append(entry)
            result[queue] = entries
        return result

    async def owned_by(self, agent_id: int) -> List[str]:
        return sorted(self._owned.get(agent_id, set()))

    async def agent_online(self, agent_id: int, process_id: str, ttl_s: float) -> None:
        self._presence[(agent_id, process_id)] = time.time() + ttl_s

    async def agent_offline(self, agent_id: int, process_id: str) -> None:
        self._presence.pop((agent_id, process_id), None)

    async def online_agents(self) -> Set[int]:
        now = time.time()
        for key in [key for key, until in self._presence.items() if until < now]:
            del self._presence[key]
        return {agent_id for agent_id, _ in self._presence}

    async def record_handle_time(self, seconds: float) -> None:
        self._handle_times.insert(0, seconds)
        del self._handle_times[HANDLE_TIMES_KEPT:]

    async def average_handle_time(self) -> Optional[float]:
        if not self._handle_times:
            return None
        return sum(self._handle_times) / len(self._handle_times)

    async def mark_paged(self, handoff_id: int) -> bool:
        if handoff_id in self._paged:
            return False
        self._paged.add(handoff_id)
        return True

    async def mark_escalated(self, key: str) -> bool:
        if key in self._escalated:
            return False
        self._escalated.add(key)
        return True

    async def owners(self) -> Set[int]:
        return {agent_id for agent_id, owned in self._owned.items() if owned}

    async def once(self, key: str, ttl_s: float) -> bool:
        now = time.time()
        if self._once.get(key, 0.0) > now:
            return False
        self._once[key] = now + ttl_s
        return True

    async def count(self, key: str, window_s: float, add: int = 1) -> Tuple[int, float]:
        now = time.monotonic()
        hits, ends = self._counts.get(key, (0, 0.0))
        if ends <= now:
            if add < 0:
                return 0, 0.0
            hits, ends = 0, now + window_s
            if len(self._counts) >= COUNTERS_BEFORE_SWEEP:  # forget ended windows, not one by one
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        hits = max(0, hits + add)
        self._counts[key] = (hits, ends)
        return hits, ends - now

    async def populated(self) -> bool:
        return self._populated

    async def mark_populated(self) -> None:
        self._populated = True

    async def close(self) -> None:
        return None
