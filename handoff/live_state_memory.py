"""Live state in one process's memory: the embedded default's :class:`~handoff.live_state.QueueStore`.

Each method changes its dicts without awaiting, so it is atomic on the event
loop exactly as a Lua script is on Redis (:mod:`handoff.live_state_redis`);
both pass the same contract tests (``tests/handoff/test_queue_store.py``).
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Dict, List, Optional, Set, Tuple

from .contract import QUEUES
from .live_state import AGENT, BOT, CLOSED, CLOSED_KEPT_S, HANDLE_TIMES_KEPT, WAITING, LiveState, QueueEntry, Snapshot
from .live_status import MemoryAgentStatus

#: Throttle counters kept in memory before the ended windows are swept out.
COUNTERS_BEFORE_SWEEP = 10_000


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
