"""action_session_start: metadata into slots, no policy fact slot, carry-over."""
from __future__ import annotations

import pytest
import yaml

from actions.policy import POLICY_SLOTS
from actions.session import ActionSessionStart
from bot import paths

ACTION = ActionSessionStart()
DOMAIN = yaml.safe_load(paths.DOMAIN.read_text())


def slot_values(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def test_starts_without_policy_fact_slots_and_ends_listening(run_action, make_tracker) -> None:
    """The policy facts are filled into responses by Rasa (bot/rasa_nlg.py):
    no session carries them as slot events."""
    messages, events = run_action(ACTION, make_tracker(events=[]), DOMAIN)
    assert messages == []
    assert events[0]["event"] == "session_started"
    assert events[-1] == {"event": "action", "name": "action_listen", "policy": None, "confidence": None, "timestamp": None}
    assert set(slot_values(events)) & set(POLICY_SLOTS) == set()


@pytest.mark.parametrize("source", ["slot", "message"])
def test_role_and_line_from_metadata(run_action, make_tracker, source: str) -> None:
    metadata = {"role": "Provider", "line": "emergency"}
    if source == "slot":
        tracker = make_tracker(slots={"session_started_metadata": metadata}, events=[])
    else:
        tracker = make_tracker(metadata=metadata, events=[])
    values = slot_values(run_action(ACTION, tracker)[1])
    assert values["role"] == "provider" and values["line"] == "emergency"


@pytest.mark.parametrize("metadata", [{"role": "admin", "line": "vip"}, {"role": 42}, "garbage", None])
def test_unknown_metadata_is_ignored(run_action, make_tracker, metadata) -> None:
    tracker = make_tracker(slots={"session_started_metadata": metadata}, events=[])
    values = slot_values(run_action(ACTION, tracker)[1])
    assert "role" not in values and "line" not in values


def test_previous_slots_are_carried_over_and_metadata_wins(run_action, make_tracker) -> None:
    history = [
        {"event": "slot", "name": "role", "value": "shopper"},
        {"event": "slot", "name": "order_number", "value": "KH-204518"},
        {"event": "slot", "name": "verification_failures", "value": 2.0},
        {"event": "slot", "name": "support_email", "value": "stale@example.com"},
    ]
    tracker = make_tracker(slots={"session_started_metadata": {"role": "vendor"}}, events=history)
    events = run_action(ACTION, tracker, DOMAIN)[1]
    values = slot_values(events)
    assert values["order_number"] == "KH-204518"
    assert values["verification_failures"] == 2.0
    assert values["role"] == "vendor"  # set after the carried-over value
    assert "support_email" not in values  # a slot of an older domain is not carried over


def test_carry_over_can_be_switched_off_in_the_domain(run_action, make_tracker) -> None:
    history = [{"event": "slot", "name": "order_number", "value": "KH-204518"},
               {"event": "slot", "name": "role", "value": "shopper"}]
    domain = {**DOMAIN, "session_config": {"carry_over_slots_to_new_session": False}}
    values = slot_values(run_action(ACTION, make_tracker(events=history), domain)[1])
    assert values == {}
