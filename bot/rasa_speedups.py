"""Some of Rasa 3.6's per-turn costs, cut in the project's Rasa processes.

:func:`install` runs in every Rasa server that :func:`bot.processes.rasa_server`
starts, before Rasa loads. py-spy of one process at 10 concurrent
conversations (README, "Assistant at scale") found:

* ``Event.resolve_by_type`` (16% of the busy samples): every event rebuilt
  from its JSON, each turn's whole session, finds its class by walking every
  subclass of ``Event`` and asking ``inspect.isabstract`` of each. Classes do
  not change once imported, so a found class is remembered by type name; a
  name not found yet still takes Rasa's walk (a class imported later is found).
* ``RulePolicy._get_possible_keys`` (6%): to find the rules that apply, every
  rule is checked against every state of the conversation, back to its
  start, though a rule that got further back than its own length is known to
  apply (Rasa's ``_is_rule_applicable`` says so first). Here the walk back
  stops once every rule left is that short: the same rules, found in the
  last few states instead of all of them.
* ``RemoteAction._validate_action_result`` (6%, though only a session start
  called the action server): ``jsonschema.validate`` checks the fixed schema
  itself on every call before checking the answer. Here the schema is checked
  once and the validator kept; every answer is still validated, with Rasa's
  error message.
* ``rasa.server.validate_events_in_request_body`` (34% of a process's busy
  samples in the 500-shopper soak, where every handoff pauses the Rasa
  conversation and every close resumes it by appending events over the HTTP
  API): the same ``jsonschema.validate`` of a fixed schema, kept the same way.

Each keeps Rasa's behaviour; ``tests/bot/test_rasa_speedups.py`` compares them
with Rasa's own code.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Text, Type

_installed = False


def install() -> None:
    """Patch Rasa (idempotent)."""
    global _installed
    if _installed:
        return
    _remember_event_classes()
    _stop_at_the_longest_rule()
    _validate_with_one_validator()
    _validate_events_with_one_validator()
    _installed = True


def _remember_event_classes() -> None:
    from rasa.shared.core.events import Event

    rasa_resolve = Event.resolve_by_type
    found: Dict[Text, Type[Event]] = {}

    def resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
        cls = found.get(type_name)
        if cls is not None:
            return cls
        cls = rasa_resolve(type_name, default)  # unknown: None, the default or Rasa's error
        if cls is not None and cls is not default:
            found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]


def _stop_at_the_longest_rule() -> None:
    from rasa.core.policies.rule_policy import RulePolicy

    def _get_possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> Set[Text]:
        possible_keys = set(lookup.keys())
        for i, state in enumerate(reversed(states)):
            # a rule of length n applies at every index >= n: past the longest, nothing changes
            if all(len(self._rule_key_to_state(key)) <= i for key in possible_keys):
                break
            possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, i, state)}
        return possible_keys

    RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[method-assign]


def _validate_with_one_validator() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        error: Optional[ValidationError] = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from "
            f"the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions")
        raise error

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def _validate_events_with_one_validator() -> None:
    import rasa.server
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

    validator_class = validator_for(EVENTS_SCHEMA)
    validator_class.check_schema(EVENTS_SCHEMA)
    validator = validator_class(EVENTS_SCHEMA)

    def validate_events_in_request_body(request: Any) -> None:
        events = request.json if isinstance(request.json, list) else [request.json]
        error = best_match(validator.iter_errors(events))
        if error is not None:  # Rasa's answer, word for word
            raise rasa.server.ErrorResponse(
                rasa.server.HTTPStatus.BAD_REQUEST,
                "BadRequest",
                f"Failed to validate the events format. "
                f"For more information about the format visit the docs. Error: {error}",
                help_url=rasa.server._docs("/pages/http-api"),
            ) from error

    rasa.server.validate_events_in_request_body = validate_events_in_request_body
