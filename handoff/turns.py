"""Bot turns of a conversation: one at a time, in the order their messages were stored.

A shopper's message is acknowledged as soon as it is stored; the assistant's
answer to it is a *turn* that runs afterwards, in the background. A second
message sent while the assistant is still answering the first is therefore
acknowledged at once (as in any chat product) and answered after the first:
its turn waits for the turn before it, then looks at the chat again (the first
answer may have handed the chat to a person, and then the second message is
for the person, not the assistant).

At most :attr:`TurnQueue.ahead` turns wait per conversation; :meth:`room`
holds the next message until one has run, so a shopper who writes faster than
the assistant answers slows down their own socket, not anybody else's.
"""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, List

Spawn = Callable[[Awaitable[Any]], "asyncio.Task[Any]"]


class TurnQueue:
    """Per conversation, the turns not yet done, oldest first."""

    def __init__(self, spawn: Spawn, ahead: int = 4) -> None:
        #: starts a task the gateway tracks (and cancels when it closes)
        self._spawn = spawn
        self.ahead = ahead
        self._turns: Dict[str, List["asyncio.Task[Any]"]] = {}

    def busy(self, conversation_id: str) -> bool:
        """Whether a turn of this conversation is still running or waiting."""
        return any(not task.done() for task in self._turns.get(conversation_id, ()))

    async def room(self, conversation_id: str) -> None:
        """Wait until fewer than :attr:`ahead` turns of the conversation are pending."""
        while True:
            pending = [task for task in self._turns.get(conversation_id, ()) if not task.done()]
            if len(pending) < self.ahead:
                return
            await asyncio.wait({pending[0]})

    def add(self, conversation_id: str, turn: Callable[[], Awaitable[None]]) -> "asyncio.Task[Any]":
        """Run ``turn()`` once every earlier turn of the conversation is done
        (whether it succeeded, failed or was cancelled)."""
        turns = self._turns.setdefault(conversation_id, [])
        before = turns[-1] if turns else None

        async def run() -> None:
            if before is not None:
                await asyncio.wait({before})  # (not ``await before``: its failure is not ours)
            await turn()

        task = self._spawn(run())
        turns.append(task)
        task.add_done_callback(lambda done: self._done(conversation_id, done))
        return task

    def _done(self, conversation_id: str, task: "asyncio.Task[Any]") -> None:
        turns = self._turns.get(conversation_id)
        if turns is None:
            return
        try:
            turns.remove(task)
        except ValueError:
            pass
        if not turns:
            del self._turns[conversation_id]

    def __len__(self) -> int:
        """Conversations with a turn pending (for tests and stats)."""
        return len(self._turns)
