"""bot/rasa_speedups.py answers as Rasa's own code does: the event class of
every type name, and the validation of action-server answers."""
from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.utils.common import all_subclasses

from bot import rasa_speedups

RASA_CLASSES = {cls.type_name: cls for cls in reversed(all_subclasses(Event))}  # first match wins
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
