"""bot/rasa_speedups.py answers as Rasa's own code does: the event class of
every type name, the validation of action-server answers and of events
appended over the HTTP API."""
from __future__ import annotations

import json
import random

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.events import Event, UserUttered
import rasa.server
from rasa.shared.utils.common import all_subclasses

from bot import rasa_speedups

RASA_CLASSES = {cls.type_name: cls for cls in reversed(all_subclasses(Event))}  # first match wins
RASA_POSSIBLE_KEYS = RulePolicy._get_possible_keys
RASA_VALIDATE_EVENTS = rasa.server.validate_events_in_request_body
rasa_speedups.install()


def test_every_event_type_resolves_to_rasas_class() -> None:
    assert len(RASA_CLASSES) > 20
    for _ in range(2):  # found, then remembered
        for name, cls in RASA_CLASSES.items():
            assert Event.resolve_by_type(name) is cls


def test_unknown_names_answer_as_rasa_does() -> None:
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", default=UserUttered) is UserUttered
    assert Event.resolve_by_type("topic") is None


def test_action_server_answers_are_still_validated() -> None:
    action = RemoteAction("action_handle_order", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "x", "value": 1}],
                                            "responses": [{"text": "hi"}]})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"no_event_key": 1}]})


class _Request:
    def __init__(self, body: object) -> None:
        self.json = body


EVENT_BODIES = [
    {"event": "pause"},
    [{"event": "resume"}, {"event": "slot", "name": "order_id", "value": "KH-1"}],
    {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 1.0}}},
    [],
    {"no_event_key": 1},
    [{"event": "pause"}, {"event": 3}],
    {"event": "slot", "name": 5},
    "not an event",
    [{"event": "bot", "text": "hello", "timestamp": "yesterday"}],
]


@pytest.mark.parametrize("body", EVENT_BODIES, ids=lambda body: json.dumps(body)[:40])
def test_appended_events_are_validated_as_rasa_does(body: object) -> None:
    """The same bodies pass; the rest fail with Rasa's status and message."""
    assert rasa.server.validate_events_in_request_body is not RASA_VALIDATE_EVENTS
    outcomes = []
    for validate in (RASA_VALIDATE_EVENTS, rasa.server.validate_events_in_request_body):
        try:
            validate(_Request(body))
            outcomes.append(None)
        except rasa.server.ErrorResponse as error:
            outcomes.append((error.status, error.error_info["message"]))
    assert outcomes[0] == outcomes[1]


def _state(rng: random.Random, start: bool = False) -> dict:
    if start:  # a conversation's first state: no previous action
        return rng.choice([{}, {"slots": {"role": (1.0,)}}])
    state = {"prev_action": {"action_name": rng.choice(["action_listen", "utter_greet", "utter_email"])}}
    if state["prev_action"]["action_name"] == "action_listen":
        state["user"] = {"intent": rng.choice(["greet", "ask_email", "thank"])}
    return state


def test_rules_found_are_rasas() -> None:
    """Random rules (some starting a conversation) against random conversations:
    the rules that apply are the ones Rasa's own walk finds."""
    rng = random.Random(13)
    policy = RulePolicy.__new__(RulePolicy)  # the walk uses no trained state
    differing = 0
    for _ in range(300):
        lookup = {}
        for _ in range(rng.randint(1, 12)):
            rule = [_state(rng, start=(n == 0 and rng.random() < 0.3)) for n in range(rng.randint(1, 4))]
            lookup[json.dumps(rule)] = "utter_x"
        conversation = [_state(rng, start=(n == 0)) for n in range(rng.randint(1, 14))]
        found = policy._get_possible_keys(lookup, conversation)
        assert found == RASA_POSSIBLE_KEYS(policy, lookup, conversation)
        differing += found != set(lookup)
    assert differing > 50  # rules were ruled out, not all kept
