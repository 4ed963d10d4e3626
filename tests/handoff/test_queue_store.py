"""Contract tests of the live-state store: the same tests for memory and Redis."""
from __future__ import annotations

import asyncio
import uuid
from typing import AsyncIterator

import pytest

from handoff.live_state import AGENT, BOT, CLOSED, WAITING, LiveState, QueueEntry, positions
from handoff.live_state_memory import MemoryQueueStore
from handoff.live_state_redis import RedisQueueStore


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    if request.param == "memory":
        yield MemoryQueueStore()
        return
    redis_url = request.getfixturevalue("redis_url")
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    s = RedisQueueStore(redis_url, prefix=prefix)
    try:
        yield s
    finally:
        keys = [k async for k in s.redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await s.redis.delete(*keys)
        await s.close()


def entry(cid: str, queue: str = "general", handoff_id: int = 1, **kw) -> QueueEntry:
    return QueueEntry(conversation_id=cid, queue=queue, reason="r", summary="s", handoff_id=handoff_id,
                      context={"order_number": "KH-204518", "items": [], "nested": {}}, **kw)


async def ids(store) -> dict:
    snap = await store.snapshot()
    return {q: [e.conversation_id for e in entries] for q, entries in snap.items()}


async def test_unknown_conversation_is_with_the_bot(store) -> None:
    assert await store.get("nope") == LiveState()
    assert (await store.get("nope")).state == BOT


async def test_priority_then_fifo(store) -> None:
    await store.enqueue(entry("g1"))
    await store.enqueue(entry("d1", "disputes"))
    await store.enqueue(entry("g2"))
    await store.enqueue(entry("e1", "emergency"))
    await store.enqueue(entry("s1", "security"))
    await store.enqueue(entry("e2", "emergency"))
    snap = await ids(store)
    assert snap == {"emergency": ["e1", "e2"], "security": ["s1"], "disputes": ["d1"], "general": ["g1", "g2"]}
    pos = positions(await store.snapshot())
    assert [pos[c] for c in ("e1", "e2", "s1", "d1", "g1", "g2")] == [1, 2, 3, 4, 5, 6]
    state = await store.get("g2")
    assert state.state == WAITING and state.queue == "general" and state.handoff_id == 1


async def test_entry_round_trips_context(store) -> None:
    await store.enqueue(entry("c1"))
    got = (await store.snapshot())["general"][0]
    assert got == entry("c1", enqueued_at=got.enqueued_at)
    assert got.context == {"order_number": "KH-204518", "items": [], "nested": {}}


async def test_claim_is_exclusive(store) -> None:
    await store.enqueue(entry("c1"))
    results = await asyncio.gather(*(store.claim("c1", agent, f"A{agent}") for agent in range(1, 9)))
    winners = [i + 1 for i, r in enumerate(results) if r is not None]
    assert len(winners) == 1
    state = await store.get("c1")
    assert state.state == AGENT and state.agent_id == winners[0] and state.agent_name == f"A{winners[0]}"
    assert await store.owned_by(winners[0]) == ["c1"]
    assert (await ids(store))["general"] == []
    assert await store.claim("c1", 99, "late") is None
    assert await store.claim("never-queued", 1, "A") is None


async def test_release_only_by_owner(store) -> None:
    await store.enqueue(entry("c1", handoff_id=7))
    await store.claim("c1", 1, "A")
    assert not await store.release("c1", 2, BOT)
    assert (await store.get("c1")).state == AGENT
    assert await store.release("c1", 1, CLOSED, rating_handoff=7)
    state = await store.get("c1")
    assert state.state == CLOSED and state.rating_handoff == 7 and state.agent_id is None
    assert await store.owned_by(1) == []
    assert not await store.release("c1", 1, BOT)


async def test_requeue_goes_to_front_or_back(store) -> None:
    for cid in ("a", "b", "c"):
        await store.enqueue(entry(cid))
    await store.claim("b", 1, "A")
    assert not await store.requeue("b", 2, entry("b", requeued=True), front=True)
    assert await store.requeue("b", 1, entry("b", requeued=True), front=True)
    assert (await ids(store))["general"] == ["b", "a", "c"]
    assert (await store.get("b")).entry.requeued
    assert await store.owned_by(1) == []
    # transfer: owner sends it to the back of another queue
    await store.claim("a", 1, "A")
    await store.enqueue(entry("x", "security"))
    assert await store.requeue("a", 1, entry("a", "security"), front=False)
    snap = await ids(store)
    assert snap["security"] == ["x", "a"] and snap["general"] == ["b", "c"]
    # front of an empty queue
    await store.claim("c", 3, "C")
    assert await store.requeue("c", 3, entry("c", "disputes"), front=True)
    assert (await ids(store))["disputes"] == ["c"]


async def test_dequeue_only_waiting(store) -> None:
    await store.enqueue(entry("c1"))
    assert (await store.dequeue("c1", BOT)).conversation_id == "c1"
    assert (await store.get("c1")).state == BOT
    assert await store.dequeue("c1", BOT) is None
    assert (await ids(store))["general"] == []


async def test_set_state_takes_out_of_queue(store) -> None:
    await store.enqueue(entry("c1"))
    await store.set_state("c1", LiveState(state=BOT))
    assert (await ids(store))["general"] == []
    assert await store.get("c1") == LiveState(state=BOT)


async def kept(store, cid: str) -> bool:
    """Whether the store holds anything for ``cid`` (not only what ``get`` says)."""
    if isinstance(store, MemoryQueueStore):
        return cid in store._states
    return bool(await store.redis.exists(store._conv(cid)))


async def test_back_with_the_bot_keeps_nothing(store) -> None:
    """Live state grows with open chats, not with every conversation ever had."""
    await store.enqueue(entry("handed-back"))
    await store.claim("handed-back", 1, "A")
    await store.release("handed-back", 1, BOT)
    await store.enqueue(entry("ticket-left"))
    await store.dequeue("ticket-left", BOT)
    await store.enqueue(entry("wrote-again"))
    await store.set_state("wrote-again", LiveState(state=BOT))
    for cid in ("handed-back", "ticket-left", "wrote-again"):
        assert await store.get(cid) == LiveState()
        assert not await kept(store, cid), cid


async def test_closed_chat_is_kept_without_its_entry_then_forgotten(store, monkeypatch) -> None:
    import handoff.live_state_memory
    import handoff.live_state_redis

    for module in (handoff.live_state_memory, handoff.live_state_redis):
        monkeypatch.setattr(module, "CLOSED_KEPT_S", 1)
    await store.enqueue(entry("c1", handoff_id=7))
    await store.claim("c1", 1, "A")
    await store.release("c1", 1, CLOSED, rating_handoff=7)
    assert await store.get("c1") == LiveState(state=CLOSED, handoff_id=7, rating_handoff=7)
    await asyncio.sleep(1.3)
    assert await store.get("c1") == LiveState()
    assert not await kept(store, "c1")


async def test_presence_counts_processes(store) -> None:
    assert await store.online_agents() == set()
    await store.agent_online(1, "p1", 30)
    await store.agent_online(1, "p2", 30)
    await store.agent_online(2, "p1", 0.05)
    assert await store.online_agents() == {1, 2}
    await asyncio.sleep(0.1)
    assert await store.online_agents() == {1}
    await store.agent_offline(1, "p1")
    assert await store.online_agents() == {1}
    await store.agent_offline(1, "p2")
    assert await store.online_agents() == set()


async def test_handle_time_average_and_paging_once(store) -> None:
    assert await store.average_handle_time() is None
    for seconds in (60, 120, 180):
        await store.record_handle_time(seconds)
    assert await store.average_handle_time() == pytest.approx(120)
    assert await store.mark_paged(5)
    assert not await store.mark_paged(5)
    assert await store.mark_paged(6)


async def test_an_escalation_is_marked_once(store) -> None:
    assert await store.mark_escalated("breach:c1:1000")
    assert not await store.mark_escalated("breach:c1:1000")
    assert await store.mark_escalated("breach:c1:2000")  # a new clock of the same chat
    assert await store.mark_escalated("silent:7:1000")


async def test_memory_and_redis_agree_on_random_histories(redis_url) -> None:
    """Random sequences of operations give the same answers on both stores."""
    import random

    rng = random.Random(20240501)
    conversations = [f"c{i}" for i in range(6)]
    queues = ["emergency", "security", "disputes", "general"]
    for round_number in range(12):
        prefix = f"test:{uuid.uuid4().hex[:12]}"
        memory, redis_store = MemoryQueueStore(), RedisQueueStore(redis_url, prefix=prefix)
        try:
            for step in range(60):
                op = rng.choice(["enqueue", "enqueue", "claim", "claim", "release", "requeue", "dequeue", "set_state"])
                cid = rng.choice(conversations)
                agent_id = rng.randint(1, 3)
                handoff_id = rng.randint(1, 99)
                queue = rng.choice(queues)
                front = rng.random() < 0.3
                then = rng.choice([BOT, CLOSED])
                results = []
                for s in (memory, redis_store):
                    if op == "enqueue":
                        results.append(await s.enqueue(entry(cid, queue, handoff_id, enqueued_at=1.0), front=front))
                    elif op == "claim":
                        results.append(await s.claim(cid, agent_id, f"A{agent_id}"))
                    elif op == "release":
                        results.append(await s.release(cid, agent_id, then, rating_handoff=handoff_id))
                    elif op == "requeue":
                        results.append(await s.requeue(cid, agent_id, entry(cid, queue, handoff_id, enqueued_at=2.0),
                                                       front=front))
                    elif op == "dequeue":
                        results.append(await s.dequeue(cid, BOT))
                    else:
                        results.append(await s.set_state(cid, LiveState(state=then, rating_handoff=handoff_id)))
                assert results[0] == results[1], (round_number, step, op)
                assert await ids(memory) == await ids(redis_store), (round_number, step, op)
                for c in conversations:
                    assert await memory.get(c) == await redis_store.get(c), (round_number, step, op, c)
                for a in (1, 2, 3):
                    assert await memory.owned_by(a) == await redis_store.owned_by(a)
        finally:
            keys = [k async for k in redis_store.redis.scan_iter(match=f"{prefix}:*")]
            if keys:
                await redis_store.redis.delete(*keys)
            await redis_store.close()


async def test_owners_and_once(store) -> None:
    assert await store.owners() == set()
    for cid in ("a", "b"):
        await store.enqueue(entry(cid))
    await store.claim("a", 7, "A")
    await store.claim("b", 8, "B")
    assert await store.owners() == {7, 8}
    await store.release("a", 7, BOT)
    assert await store.owners() == {8}
    assert await store.once("job", 0.2)
    assert not await store.once("job", 0.2)
    assert await store.once("other", 0.2)
    await asyncio.sleep(0.3)
    assert await store.once("job", 0.2)


async def test_claim_within_capacity_and_claim_times(store) -> None:
    for cid in ("c1", "c2", "c3"):
        await store.enqueue(entry(cid))
    assert await store.claim("c1", 7, "Ada", capacity=2) is not None
    assert await store.claim("c2", 7, "Ada", capacity=2) is not None
    assert await store.claim("c3", 7, "Ada", capacity=2) is None  # full
    assert (await store.get("c3")).state == WAITING
    assert await store.claim("c3", 7, "Ada") is not None  # a claim of one's own is not limited
    assert set((await store.claim_times()).keys()) == {7}


async def test_a_transfer_is_kept_by_its_owner_until_taken(store) -> None:
    await store.enqueue(entry("c1"))
    await store.claim("c1", 7, "Ada")
    pending = entry("c1", "disputes", handoff_id=2, kept_by=7, kept_by_name="Ada", offered_to=8, offered_to_name="Ben")
    assert not await store.offer("c1", 9, pending)  # not the owner
    assert await store.offer("c1", 7, pending)
    state = await store.get("c1")
    assert state.state == AGENT and state.agent_id == 7 and state.pending == pending and state.handoff_id == 1
    assert (await ids(store))["disputes"] == ["c1"] and await store.owned_by(7) == ["c1"]
    assert await store.claim("c1", 7, "Ada") is None  # not one's own
    assert await store.claim("c1", 9, "Cy") is None  # offered to Ben
    opened = entry("c1", "disputes", handoff_id=2, kept_by=7, kept_by_name="Ada")
    assert not await store.offer("c1", 7, opened, replaces=5)  # another transfer's
    assert await store.offer("c1", 7, opened, replaces=2)
    assert (await ids(store))["disputes"] == ["c1"]
    taken = await store.claim("c1", 9, "Cy")
    assert taken == opened
    state = await store.get("c1")
    assert (state.state, state.agent_id, state.queue, state.handoff_id) == (AGENT, 9, "disputes", 2)
    assert state.pending is None
    assert await store.owned_by(7) == [] and await store.owned_by(9) == ["c1"]
    assert (await ids(store))["disputes"] == []


async def test_release_withdraws_a_pending_transfer(store) -> None:
    await store.enqueue(entry("c1"))
    await store.claim("c1", 7, "Ada")
    await store.offer("c1", 7, entry("c1", "security", handoff_id=2, kept_by=7))
    assert await store.release("c1", 7, CLOSED)
    assert (await ids(store))["security"] == [] and (await store.get("c1")).pending is None


async def test_agent_status(store) -> None:
    assert await store.statuses() == {}
    await store.set_status(7, "away")
    await store.set_status(8, "busy")
    await store.set_status(8, "online")
    assert await store.statuses() == {7: "away", 8: "online"}
