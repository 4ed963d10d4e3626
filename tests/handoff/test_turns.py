"""handoff.ordering.TurnQueue: one bot turn at a time per conversation, in order, bounded."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, List, Set

from handoff.ordering import TurnQueue


class Spawner:
    def __init__(self) -> None:
        self.tasks: Set["asyncio.Task[Any]"] = set()

    def __call__(self, coro: Awaitable[Any]) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        return task


async def test_turns_of_a_conversation_run_one_at_a_time_in_order() -> None:
    turns = TurnQueue(Spawner())
    log: List[str] = []

    def turn(name: str, delay: float) -> Any:
        async def run() -> None:
            log.append(f"{name} start")
            await asyncio.sleep(delay)
            log.append(f"{name} end")
        return run

    turns.add("c1", turn("a", 0.05))
    turns.add("c1", turn("b", 0.0))
    last = turns.add("c1", turn("c", 0.0))
    other = turns.add("c2", turn("x", 0.0))  # another conversation does not wait
    await other
    assert log == ["a start", "x start", "x end"]
    assert turns.busy("c1") and not turns.busy("c2")
    await last
    assert log[3:] == ["a end", "b start", "b end", "c start", "c end"]
    await asyncio.sleep(0)
    assert not turns.busy("c1") and len(turns) == 0  # nothing kept for idle conversations


async def test_a_failed_or_cancelled_turn_does_not_stop_the_next() -> None:
    turns = TurnQueue(Spawner())
    log: List[str] = []

    async def fails() -> None:
        raise RuntimeError("boom")

    async def hangs() -> None:
        await asyncio.sleep(60)

    async def works() -> None:
        log.append("answered")

    failed = turns.add("c", fails)
    hung = turns.add("c", hangs)
    last = turns.add("c", works)
    await asyncio.wait({failed})
    await asyncio.sleep(0.01)
    assert log == []  # still behind the hanging one
    hung.cancel()
    await last
    assert log == ["answered"]


async def test_room_holds_the_next_message_while_too_many_turns_wait() -> None:
    turns = TurnQueue(Spawner(), ahead=2)
    release = asyncio.Event()

    async def blocked() -> None:
        await release.wait()

    turns.add("c", blocked)
    await asyncio.wait_for(turns.room("c"), 1)  # one pending: room
    turns.add("c", blocked)
    waiting = asyncio.ensure_future(turns.room("c"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await asyncio.wait_for(turns.room("other"), 1)  # other conversations are not held
    release.set()
    await asyncio.wait_for(waiting, 1)
