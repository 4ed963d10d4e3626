"""Fixtures for the action tests: real databases, real rasa_sdk trackers.

``db_url`` is parametrised over a fresh SQLite file and a throw-away
PostgreSQL database (``bot.databases``: created once per test session and
dropped at the end; its tables are recreated for every test). ``shop`` seeds
the demo file into it. No database is mocked.
"""
from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import create_engine

from actions.policy import load_policy
from bot.databases import temporary_database
from actions.shop import db
from actions.shop.models import Base
from actions.shop.seed import DEMO_FILE, seed_file

#: The day the demo file's relative dates ("today-3") are anchored to in tests.
SEED_DAY = date(2026, 11, 25)


@pytest.fixture(autouse=True)
def _fresh_policy_cache() -> Iterator[None]:
    """Each test reads policy.yml (or its own KARA_POLICY_FILE) afresh."""
    load_policy.cache_clear()
    yield
    load_policy.cache_clear()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    with temporary_database("kara_actions_test") as url:
        yield url
    db.dispose_engines()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty shop database, also exported as ``KARA_SHOP_DB_URL`` for the actions."""
    db.dispose_engines()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    else:
        url = request.getfixturevalue("pg_database_url")
        engine = create_engine(url, future=True)
        Base.metadata.drop_all(engine)
        engine.dispose()
    monkeypatch.setenv("KARA_SHOP_DB_URL", url)
    yield url
    db.dispose_engines()


@pytest.fixture
def seed_day() -> date:
    """The day the demo data was seeded on (anchor of its relative dates)."""
    return SEED_DAY


@pytest.fixture
def shop(db_url: str) -> str:
    """The database at ``db_url`` seeded from ``demo_shop.yml``."""
    seed_file(DEMO_FILE, db_url, today=SEED_DAY)
    return db_url


TrackerFactory = Callable[..., Tracker]


@pytest.fixture
def make_tracker() -> TrackerFactory:
    """Build a real ``rasa_sdk.Tracker`` the way the action server does."""

    def build(
        slots: Optional[Dict[str, Any]] = None,
        intent: Optional[str] = None,
        text: str = "",
        confidence: float = 0.93,
        events: Optional[List[Dict[str, Any]]] = None,
        metadata: Optional[Dict[str, Any]] = None,
        sender_id: str = "conversation-1",
    ) -> Tracker:
        latest = {
            "intent": {"name": intent, "confidence": confidence} if intent else {},
            "entities": [],
            "text": text,
            "metadata": metadata or {},
        }
        if events is None:
            events = [{"event": "action", "name": "action_listen"}]
            if intent:
                events.append({"event": "user", "text": text, "parse_data": latest, "metadata": metadata or {}})
        return Tracker(
            sender_id=sender_id,
            slots=dict(slots or {}),
            latest_message=latest,
            events=events,
            paused=False,
            followup_action=None,
            active_loop={},
            latest_action_name="action_listen",
        )

    return build


Run = Callable[..., Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]]


@pytest.fixture
def run_action() -> Run:
    """Run an action to completion: (messages the dispatcher got, events returned)."""

    def run(action: Action, tracker: Tracker, domain: Optional[Dict[str, Any]] = None):
        dispatcher = CollectingDispatcher()
        events = asyncio.run(action.run(dispatcher, tracker, domain or {}))
        return dispatcher.messages, events

    return run


def user_event(text: str, intent: str, confidence: float = 0.9) -> Dict[str, Any]:
    """A ``user`` event as the Rasa server serialises it (for tracker histories)."""
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": [], "text": text},
    }


@pytest.fixture
def user() -> Callable[..., Dict[str, Any]]:
    return user_event
