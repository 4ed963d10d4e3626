"""Several Rasa processes must not handle two messages of one conversation at
once: with Redis configured, the assistant takes Rasa's Redis lock for each
message (bot/processes.py writes the lock store into the endpoints file)."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import List

import redis

from bot.model_cache import ensure_model
from bot.processes import seed_shop, start_bot_stack
from tests.bot.rest import RestShopper


def test_each_message_takes_the_conversation_lock_in_redis(redis_url: str, tmp_path: Path) -> None:
    shop = f"sqlite:///{tmp_path / 'shop.db'}"
    seed_shop(shop)
    stack = start_bot_stack(ensure_model(quiet=True), shop, tmp_path, redis_url=redis_url)
    commands: List[str] = []
    watching = threading.Event()

    def watch() -> None:
        client = redis.Redis.from_url(redis_url)
        with client.monitor() as monitor:
            watching.set()
            deadline = time.monotonic() + 20
            for entry in monitor.listen():
                commands.append(entry["command"])
                if time.monotonic() > deadline or any("lock:" in c and "DEL" in c.upper()
                                                       for c in commands[-5:]):
                    break

    try:
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert watching.wait(5)
        shopper = RestShopper(stack.rasa_url, role="shopper")
        assert shopper.texts("hello")  # the bot still answers
        watcher.join(20)
    finally:
        stack.stop()
    lock_key = f"kara:lock:{shopper.sender}"
    touched = [c for c in commands if lock_key in c]
    assert any(c.upper().startswith("SET") for c in touched), commands[-20:]
    assert any(c.upper().startswith("DEL") for c in touched), commands[-20:]
