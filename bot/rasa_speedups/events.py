"""Events: their classes found by name, and the JSON schemas they are checked
against compiled once (see the package's docstring for the measurements).

An event's schema is a ``oneOf`` of 23 alternatives, one per event name
(``"event": {"const": ...}``). jsonschema tries every one in turn and, to
prove only one matches, every other one again, building an error for each
that fails: 13% of a conversation's first turn (its session start is an
action-server answer). Whether an answer is valid is asked first of a
validator that checks such a ``oneOf`` against the one alternative the
event's name picks (:func:`_valid`); only an invalid one goes through
Rasa's validator, for Rasa's error.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, Optional, Text, Tuple, Type


def remember_event_classes() -> None:
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


#: a ``oneOf``'s alternatives by the string ``const`` of one property, each different
Dispatch = Tuple[Text, Dict[Text, Any]]


def _dispatch(alternatives: Any) -> Optional[Dispatch]:
    """The property whose ``const`` (a different string in each alternative)
    tells a ``oneOf``'s alternatives apart, and each alternative by it; or None."""
    if not isinstance(alternatives, list) or not alternatives or not isinstance(alternatives[0], dict):
        return None
    for name in alternatives[0].get("properties") or {}:
        by_value: Dict[Text, Any] = {}
        for alternative in alternatives:
            properties = alternative.get("properties") if isinstance(alternative, dict) else None
            sub = properties.get(name) if isinstance(properties, dict) else None
            const = sub.get("const") if isinstance(sub, dict) else None
            if not isinstance(const, str) or const in by_value:
                break
            by_value[const] = alternative
        else:
            return name, by_value
    return None


def _valid(schema: Dict[Text, Any]) -> Callable[[Any], bool]:
    """Whether an instance is valid under ``schema``, a ``oneOf`` that
    :func:`_dispatch` can split checked against the one alternative the
    instance's value picks: every other alternative fails on its ``const``
    when the property is there (a string), so this is the ``oneOf``'s own
    answer. Any other instance gets jsonschema's ``oneOf``."""
    from jsonschema import ValidationError, _validators
    from jsonschema.validators import extend, validator_for

    dispatches: Dict[int, Tuple[Any, Optional[Dispatch]]] = {}  # by id of the alternatives, kept alive here

    def one_of(validator: Any, alternatives: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        known = dispatches.get(id(alternatives))
        if known is None or known[0] is not alternatives:
            known = dispatches[id(alternatives)] = (alternatives, _dispatch(alternatives))
        dispatch = known[1]
        value = instance.get(dispatch[0]) if dispatch is not None and isinstance(instance, dict) else None
        if dispatch is None or not isinstance(value, str):
            yield from _validators.oneOf(validator, alternatives, instance, schema)
            return
        picked = dispatch[1].get(value)
        if picked is None:
            yield ValidationError(f"{instance!r} is not valid under any of the given schemas")
            return
        yield from validator.descend(instance, picked)

    base = validator_for(schema)
    base.check_schema(schema)
    return extend(base, {"oneOf": one_of})(schema).is_valid  # type: ignore[no-any-return]


def validate_action_results_with_one_validator() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    valid = _valid(schema)

    def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        if valid(result):
            return True
        error: Optional[ValidationError] = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from "
            f"the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions")
        raise error

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def validate_appended_events_with_one_validator() -> None:
    import rasa.server
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

    validator_class = validator_for(EVENTS_SCHEMA)
    validator_class.check_schema(EVENTS_SCHEMA)
    validator = validator_class(EVENTS_SCHEMA)
    valid = _valid(EVENTS_SCHEMA)

    def validate_events_in_request_body(request: Any) -> None:
        events = request.json if isinstance(request.json, list) else [request.json]
        if valid(events):
            return
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
