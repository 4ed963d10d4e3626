"""bot/rasa_speedups.py answers as Rasa's own code does: the event class of
every type name, the validation of action-server answers and of events
appended over the HTTP API."""
from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import json
import logging
import itertools
import random
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker
import rasa.server
from rasa.shared.utils.common import all_subclasses

from bot import paths, rasa_speedups
from bot.rasa_speedups import debug_logs

RASA_CLASSES = {cls.type_name: cls for cls in reversed(all_subclasses(Event))}  # first match wins
RASA_POSSIBLE_KEYS = RulePolicy._get_possible_keys
RASA_VALIDATE_EVENTS = rasa.server.validate_events_in_request_body
RASA_STATES = Domain.states_for_tracker_history
RASA_APPLIED = DialogueStateTracker.applied_events
RASA_COPY = DialogueStateTracker.copy
RASA_PREDICTION_STATES = MaxHistoryTrackerFeaturizer.prediction_states
RASA_FEATURE_KEY = RulePolicy._create_feature_key
RASA_IS_EMPTY = Domain.is_empty
RASA_COPIES = {name: importlib.import_module(name).copy for name in debug_logs.MODULES}
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


def _event_json(rng: random.Random) -> object:
    """A random event as JSON: mostly well formed, some with a wrong name, type or field."""
    value = rng.choice(["x", 3, 1.5, None, True, [], {}, {"nested": [1]}])
    event = rng.choice([
        {"event": "session_started"},
        {"event": "slot", "name": rng.choice(["role", "order_id", 5, None]), "value": value},
        {"event": "slot", "name": "role"},
        {"event": "action", "name": rng.choice(["action_listen", None, 7]), "policy": rng.choice([None, "p", 1]),
         "confidence": rng.choice([1.0, None, "high"]), "hide_rule_turn": rng.choice([True, "no"])},
        {"event": "user", "text": rng.choice(["hi", None, 4]),
         "parse_data": {"intent": {"name": rng.choice(["greet", 1]), "confidence": 0.9},
                        "entities": rng.choice([[], [{"entity": "order_id", "value": "KH-1"}], [{"entity": "x"}]]),
                        "response_selector": rng.choice([{"all_retrieval_intents": []}, {"faq": {"response": {}}},
                                                         {"all_retrieval_intents": 3}, {}])}},
        {"event": "entities", "entities": rng.choice([[], "none", [{"entity": "e", "value": 1}]])},
        {"event": "entities"},
        {"event": "bot", "text": "hello", "timestamp": rng.choice([1.5, None, "yesterday"])},
        {"event": rng.choice(["pause", "resume", "restart", "rewind", "undo", "reset_slots", "followup",
                              "active_loop", "form", "agent", "export", "no_such_event", 3, None, ""])},
        {"no_event_key": 1},
        {"event": "pause", "metadata": rng.choice([{}, None, "meta"])},
        rng.choice(["not an event", 7, None, []]),
    ])
    if isinstance(event, dict) and rng.random() < 0.1:
        event.pop(rng.choice(sorted(event)), None)
    return event


def test_a_discriminated_one_of_answers_as_jsonschema_does() -> None:
    """Rasa's event schemas say valid or not as jsonschema's own validator
    does, for random answers and event lists, well formed and not."""
    from jsonschema.validators import validator_for
    from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

    from bot.rasa_speedups.events import _valid

    rng = random.Random(13)
    answer = RemoteAction.action_response_format_spec()
    outcomes = set()
    for schema, wrap in ((answer, lambda events: {"events": events, "responses": rng.choice([[], [{"text": "a"}], 3])}),
                         (EVENTS_SCHEMA, lambda events: events)):
        rasa_validator, ours = validator_for(schema)(schema), _valid(schema)
        for _ in range(1500):
            instance = wrap([_event_json(rng) for _ in range(rng.randint(0, 4))])
            expected = rasa_validator.is_valid(instance)
            assert ours(instance) == expected, instance
            outcomes.add(expected)
    assert outcomes == {True, False}


def _state(rng: random.Random, start: bool = False) -> dict:
    if start:  # a conversation's first state: no previous action
        return rng.choice([{}, {"slots": {"role": (1.0,)}}])
    if rng.random() < 0.15:  # an end-to-end turn: the bot's text, no action name; or a rule's "not set"
        return {"prev_action": rng.choice([{"action_text": "hi there"}, {"action_name": "should_not_be_set"}])}
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


# --- past states (bot/rasa_speedups/states.py) ---------------------------------

DOMAIN = Domain.load(str(paths.ROOT / "domain.yml"))
RULE_ONLY = {"rule_only_slots": ["order_request", "line"], "rule_only_loops": ["order_form"]}


def _slot_value(rng: random.Random, name: str) -> object:
    slot = DOMAIN.slots[[s.name for s in DOMAIN.slots].index(name)]
    values = getattr(slot, "values", None)
    return rng.choice([*values, None]) if values else rng.choice(["KH-1001", "a@b.co", None])


def _event(rng: random.Random, clock: List[float]) -> Event:
    """One random event of a conversation of this domain, reverts and loops included."""
    clock[0] += 1.0
    at = clock[0]
    roll = rng.random()
    form = rng.choice(DOMAIN.form_names)
    if roll < 0.25:
        return UserUttered(rng.choice(["hi", "where is KH-1001", "refunds?"]),
                           intent={"name": rng.choice(DOMAIN.intents), "confidence": 0.9},
                           entities=rng.choice([[], [{"entity": "order_number", "value": "KH-1001"}]]),
                           timestamp=at)
    if roll < 0.55:
        # ("...": a rule snippet's action, never in a live conversation; its states cut a rule's key)
        return ActionExecuted(rng.choice([*DOMAIN.action_names_or_texts[:40], form, "action_listen", "..."]),
                              hide_rule_turn=rng.random() < 0.3, timestamp=at)
    if roll < 0.65:
        return BotUttered("hello", timestamp=at)
    if roll < 0.78:
        name = rng.choice([slot.name for slot in DOMAIN.slots])
        return SlotSet(name, _slot_value(rng, name), timestamp=at)
    if roll < 0.85:
        return ActiveLoop(rng.choice([form, None]), timestamp=at)
    rare = [FollowupAction("utter_greet", timestamp=at), UserUtteranceReverted(timestamp=at),
            ActionReverted(timestamp=at), LoopInterrupted(True, timestamp=at),
            ActionExecutionRejected(form, timestamp=at), Restarted(timestamp=at), SessionStarted(timestamp=at)]
    return rng.choice(rare)


def _grown(conversations: int) -> Iterator[Tuple[random.Random, DialogueStateTracker, List[float]]]:
    """Random conversations grown event by event: after each event, the
    conversation's random source, its tracker and its clock."""
    for seed in range(conversations):
        rng = random.Random(seed)
        tracker = DialogueStateTracker("s", DOMAIN.slots)
        clock = [1_700_000_000.0]
        for _ in range(rng.randint(5, 60)):
            tracker.update(_event(rng, clock))
            yield rng, tracker, clock


def test_past_states_are_rasas_as_a_conversation_grows() -> None:
    """Random conversations grown event by event (the replay goes on where it
    stopped, or starts again after a revert or restart): at every step the
    applied events and each variant of the states are Rasa's."""
    compared = 0
    for rng, tracker, _clock in _grown(60):
        assert [id(e) for e in tracker.applied_events()] == [id(e) for e in RASA_APPLIED(tracker)]
        if rng.random() < 0.5:
            continue
        for ignore in (False, True):
            for rule_only in (None, RULE_ONLY):
                for omit in (False, True):
                    ours = DOMAIN.states_for_tracker_history(tracker, omit, ignore, rule_only)
                    assert ours == RASA_STATES(DOMAIN, tracker, omit, ignore, rule_only)
                    compared += 1
    assert compared > 1000


def test_a_form_folds_as_in_rasa() -> None:
    """A form's happy path (its executions fold into one) and a form that ran
    before it was activated (its earlier events change when it is), grown
    event by event."""
    def user(intent: str) -> UserUttered:
        return UserUttered(intent, intent={"name": intent, "confidence": 1.0})

    listen, form = ActionExecuted("action_listen"), "order_form"
    runs = [
        [ActionExecuted("action_listen"), user("track_order"), ActionExecuted(form), ActiveLoop(form),
         SlotSet("requested_slot", "order_number"), BotUttered("number?"), ActionExecuted("action_listen"),
         user("inform"), ActionExecuted(form), SlotSet("order_number", "KH-1001"),
         SlotSet("requested_slot", "order_contact"), ActionExecuted("action_listen"), user("inform"),
         ActionExecuted(form), ActiveLoop(None), SlotSet("requested_slot", None), ActionExecuted("utter_done")],
        [ActionExecuted("action_listen"), user("track_order"), ActionExecuted(form), ActionExecuted("action_listen"),
         user("inform"), ActionExecuted(form), ActiveLoop(form), ActionExecuted(form), listen],
    ]
    for events in runs:
        tracker = DialogueStateTracker("s", DOMAIN.slots)
        for event in events:
            tracker.update(event)
            assert [id(e) for e in tracker.applied_events()] == [id(e) for e in RASA_APPLIED(tracker)]
            for ignore in (False, True):
                assert DOMAIN.states_for_tracker_history(tracker, False, ignore, RULE_ONLY) == \
                    RASA_STATES(DOMAIN, tracker, False, ignore, RULE_ONLY)
        assert len(RASA_APPLIED(tracker)) < len(tracker.events)  # the form's executions folded


# --- the states the rule and memoization policies look up by (lookup_states.py) ---

#: the featurizers of RulePolicy (the whole conversation) and of MemoizationPolicy (max_history 5)
FEATURIZERS = (MaxHistoryTrackerFeaturizer(None, max_history=None), MaxHistoryTrackerFeaturizer(None, max_history=5))


def _lookups_are_rasas(tracker: DialogueStateTracker) -> int:
    """Every variant of the featurizers' prediction states equals Rasa's, and
    so does the rule policy's key of them; the caller then changes the last
    state of what it got (as the featurizer does), which the next call must
    not see. Returns the variants compared."""
    compared = 0
    policy = RulePolicy.__new__(RulePolicy)
    for featurizer, ignore, unlikely, rule_only, use_text in itertools.product(
            FEATURIZERS, (False, True), (False, True), (None, RULE_ONLY), (True, False)):
        args = (DOMAIN, use_text, ignore, rule_only, unlikely)
        try:
            expected = RASA_PREDICTION_STATES(featurizer, [tracker], *args)
        except IndexError:  # no state left: Rasa fails, and so must this
            with pytest.raises(IndexError):
                featurizer.prediction_states([tracker], *args)
            continue
        (ours,) = featurizer.prediction_states([tracker], *args)
        assert ours == expected[0]
        assert policy._create_feature_key(ours) == RASA_FEATURE_KEY(policy, ours)
        for sub_state in ours[-1].values():
            sub_state.clear()
        compared += 1
    return compared


def test_lookup_states_are_rasas_as_a_conversation_grows() -> None:
    """Random conversations grown event by event: the states the rule and
    memoization policies get (with or without rule-only turns and
    ``action_unlikely_intent``, by text or by intent) are Rasa's, though each
    state is built once and only the last is handed out fresh."""
    compared = kept = 0
    for rng, tracker, _clock in _grown(60):
        if rng.random() < 0.3:
            continue
        compared += _lookups_are_rasas(tracker)
        replay = tracker.__dict__["_kara_replays"][False]
        kept += sum(len(k.states) for k in replay.__dict__["_kara_lookup_states"].values())
    assert compared > 10_000
    assert kept > 10_000  # states were kept (not all of them left out)


def test_an_empty_domain_is_found_as_rasa_finds_it() -> None:
    domains = [DOMAIN, Domain.empty(), Domain.from_dict({}), Domain.from_dict({"intents": ["greet"]})]
    found = [domain.is_empty() for domain in domains]
    assert found == [RASA_IS_EMPTY(domain) for domain in domains] == [False, True, True, False]


def _as_stored(event: Event) -> Event:
    """The event as the tracker store builds it back from its row."""
    (built,) = deserialise_events([json.loads(json.dumps(event.as_dict()))])
    return built


def test_what_a_turn_worked_out_goes_on_in_the_next_turns_tracker() -> None:
    """As the tracker store does between turns: the next turn's tracker is
    built from the events as stored (this turn's rebuilt from their JSON),
    takes over what this turn's worked out (the states replay, the applied
    events, the replay behind copies) and extends it rather than starting
    again, and every answer is still Rasa's."""
    went_on = turns = 0
    for seed in range(40):
        rng = random.Random(seed)
        clock = [1_700_000_000.0]
        stored: List[Event] = []
        tracker = DialogueStateTracker("s", DOMAIN.slots)
        for _turn in range(rng.randint(2, 8)):
            for _ in range(rng.randint(2, 10)):
                tracker.update(_event(rng, clock))
                DOMAIN.states_for_tracker_history(tracker)  # what a turn works out
                FEATURIZERS[1].prediction_states([tracker], DOMAIN, False, True, RULE_ONLY, True)
                tracker.copy()
            new = list(tracker.events)[len(stored):]
            kept = [_as_stored(event) for event in new]
            carried = rasa_speedups.carry(tracker, {id(live): copy for live, copy in zip(new, kept)})
            assert not any(name.startswith("_kara_") for name in vars(tracker))  # handed on, not shared
            stored += kept
            tracker = rasa_speedups.tracker_of("s", stored, DOMAIN.slots, carried)
            assert _attributes(tracker) == _attributes(DialogueStateTracker.from_events("s", stored, DOMAIN.slots))
            turns += 1
            assert [id(e) for e in tracker.applied_events()] == [id(e) for e in RASA_APPLIED(tracker)]
            assert _attributes(tracker.copy()) == _attributes(RASA_COPY(tracker))
            for ignore in (False, True):
                for omit in (False, True):
                    assert DOMAIN.states_for_tracker_history(tracker, omit, ignore, RULE_ONLY) == \
                        RASA_STATES(DOMAIN, tracker, omit, ignore, RULE_ONLY)
            replay = None if carried.replays is None else carried.replays.get(False)
            lookups = None if replay is None else replay.__dict__.get("_kara_lookup_states")
            _lookups_are_rasas(tracker)
            went_on += (replay is not None and tracker.__dict__["_kara_replays"][False] is replay
                        and replay.__dict__.get("_kara_lookup_states") is lookups
                        and tracker.__dict__["_kara_shadow"] is carried.shadow
                        and tracker.__dict__["_kara_applied"] is carried.applied)
    assert went_on >= 0.7 * turns  # (a restart, revert or new form starts some again)


def _attributes(tracker: DialogueStateTracker) -> dict:
    """Every attribute of a tracker; events by identity (a copy shares them),
    the rest by value."""
    out = {}
    for name, value in vars(tracker).items():
        if name.startswith("_kara_"):
            continue
        if name == "events":
            value = ([id(event) for event in value], value.maxlen)
        elif name == "slots":
            value = {slot_name: vars(slot) for slot_name, slot in value.items()}
        elif name == "active_loop" and value is not None:
            value = vars(value)
        elif name in ("latest_message", "latest_bot_utterance") and value is not None:
            shared = any(value is event for event in tracker.events)
            # a reset's empty placeholder is made at the copy's replay: its time is the copy's
            value = (type(value), shared, {key: item for key, item in vars(value).items()
                                           if shared or key != "timestamp"})
        out[name] = value
    return out


def test_a_copy_is_rasas_copy_as_a_conversation_grows() -> None:
    """Random conversations grown event by event, copied now and then (the
    replay behind the copy goes on or starts again): every attribute of the
    copy is that of Rasa's copy, an event of the conversation is the same
    object in both, and changing a copy changes neither the tracker nor the
    next copy."""
    copies = 0
    for rng, tracker, clock in _grown(60):
        if rng.random() < 0.6:
            continue
        before = _attributes(tracker)
        ours, rasas = tracker.copy(), RASA_COPY(tracker)
        assert _attributes(ours) == _attributes(rasas)
        again = tracker.copy()
        for name in ("latest_message", "latest_bot_utterance"):
            shared = any(getattr(rasas, name) is event for event in tracker.events)
            assert (getattr(ours, name) is getattr(tracker, name)) == shared
            assert (getattr(ours, name) is getattr(again, name)) == shared  # a placeholder is each copy's
        for event in [_event(rng, clock) for _ in range(3)]:
            ours.update(event)  # what the processor does to its copy
        assert _attributes(tracker) == before
        assert _attributes(tracker.copy()) == _attributes(RASA_COPY(tracker))
        copies += 1
    assert copies > 300


def test_a_copy_after_the_events_were_replaced_is_rasas() -> None:
    """Rasa never replaces a tracker's events, but if something did, the
    replay behind the copies starts again."""
    rng, clock = random.Random(3), [1_700_000_000.0]
    tracker = DialogueStateTracker("s", DOMAIN.slots)
    for _ in range(12):
        tracker.update(_event(rng, clock))
    tracker.copy()
    other = DialogueStateTracker.from_events("s", [_event(rng, clock) for _ in range(12)], DOMAIN.slots)
    tracker.events = other.events  # the same length, other events
    assert _attributes(tracker.copy()) == _attributes(RASA_COPY(tracker))


def test_past_states_handed_out_are_copies() -> None:
    """Rasa's callers change the states they get; the next call does not see it."""
    tracker = DialogueStateTracker("s", DOMAIN.slots)
    for event in [ActionExecuted("action_listen"), UserUttered("hi", intent={"name": "greet", "confidence": 1.0}),
                  ActionExecuted("utter_greet"), BotUttered("hello")]:
        tracker.update(event)
    first = DOMAIN.states_for_tracker_history(tracker)
    for state in first:
        for sub_state in state.values():
            sub_state.clear()
    assert DOMAIN.states_for_tracker_history(tracker) == RASA_STATES(DOMAIN, tracker)


# --- debug log arguments (bot/rasa_speedups/debug_logs.py) -----------------------

def _in_debug_call(tree: ast.AST) -> List[bool]:
    """For each ``copy.<x>`` in a module: whether it is inside a ``*.debug(...)`` call."""
    found: List[bool] = []

    def visit(node: ast.AST, in_debug: bool) -> None:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "copy":
            found.append(in_debug)
        debug = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "debug"
        for child in ast.iter_child_nodes(node):
            visit(child, in_debug or debug)

    visit(tree, False)
    return found


@pytest.mark.parametrize("module", debug_logs.MODULES)
def test_copies_left_out_are_only_debug_log_arguments(module: str) -> None:
    """The stand-in ``copy`` is safe only where every use is an argument of a debug line."""
    uses = _in_debug_call(ast.parse(inspect.getsource(importlib.import_module(module))))
    assert uses and all(uses)
    assert RASA_COPIES[module] is importlib.import_module("copy")


def test_debug_logging_still_gets_copies_and_states() -> None:
    stand_in = importlib.import_module("rasa.core.policies.rule_policy").copy
    states = [{"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}]
    logger = logging.getLogger("rasa")
    level = logger.level
    try:
        logger.setLevel(logging.INFO)
        assert stand_in.deepcopy(states) is states
        assert RulePolicy.format_tracker_states(states) == ""
        logger.setLevel(logging.DEBUG)
        copied = stand_in.deepcopy(states)
        assert copied == states and copied is not states and copied[0]["user"] is not states[0]["user"]
        assert "greet" in RulePolicy.format_tracker_states(states)
    finally:
        logger.setLevel(level)


# --- the collector (bot/rasa_speedups/collector.py) -----------------------------

def test_what_rasa_loaded_is_frozen_once_it_is_up(tmp_path: Path) -> None:
    """Rasa's own start-up loading runs, then what it left is frozen."""
    import asyncio
    import gc

    import rasa.core.run
    from rasa.core.utils import AvailableEndpoints
    from sanic import Sanic

    app = Sanic("kara_freeze_test")
    before = gc.get_freeze_count()
    try:
        agent = asyncio.run(rasa.core.run.load_agent_on_start(
            str(tmp_path / "no-model.tar.gz"), AvailableEndpoints(), None, app, asyncio.new_event_loop()))
        assert app.ctx.agent is agent and not agent.is_ready()  # Rasa's answer to a missing model
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_a_streamed_answer_whose_turn_fails_still_ends() -> None:
    """Rasa's REST channel streaming an answer (what the gateway asks for):
    a turn that raises after its first reply ends the stream with that reply,
    at once, as the plain answer would (Rasa's own left it open)."""
    from rasa.core.channels.rest import RestInput

    written: List[str] = []

    class Response:
        async def write(self, data: str) -> None:
            written.append(data)

    async def turn(message: object) -> None:
        await message.output_channel.send_text_message(message.sender_id, "first")  # type: ignore[attr-defined]
        raise RuntimeError("the tracker store is gone")

    stream = RestInput().stream_response(turn, "hi", "s1", "rest", None)
    asyncio.run(asyncio.wait_for(stream(Response()), 5))
    assert [json.loads(line) for line in written] == [{"recipient_id": "s1", "text": "first"}]


def test_the_graph_runs_as_dask_runs_it() -> None:
    """Every graph run of a conversation (the parse, the predictions) gives
    what Rasa's own run gives: ``dask.get`` on the same graph and inputs."""
    import dask
    import rasa.engine.runner.dask as rasa_dask
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage

    from bot.model_cache import ensure_model
    from bot.rasa_speedups import graph

    agent = Agent.load(str(ensure_model(quiet=True)))
    runs: List[Tuple[object, dict, List[str]]] = []
    ours = rasa_dask.DaskGraphRunner.run

    def recorded(self, inputs=None, targets=None):  # type: ignore[no-untyped-def]
        got = ours(self, inputs, targets)
        runs.append((self, dict(inputs or {}), list(targets or self._graph_schema.target_names)))
        return got

    texts = ["hi", "where is my order", "KH-10001", "how long does a refund take", "I want a person",
             "thanks", "my chest hurts and I can't breathe", "what are your opening hours"]
    rasa_dask.DaskGraphRunner.run = recorded
    try:
        for text in texts:
            asyncio.run(agent.handle_message(UserMessage(text, sender_id="graph-test")))
    finally:
        rasa_dask.DaskGraphRunner.run = ours
    assert {tuple(targets) for _, _, targets in runs} == {("run_RegexMessageHandler",), ("select_prediction",)}
    for runner, inputs, targets in runs:
        schema = runner._graph_schema.minimal_graph_schema(targets)  # type: ignore[attr-defined]
        tasks = runner._build_dask_graph(schema)  # type: ignore[attr-defined]
        expected = dict(dask.get({**tasks, **{name: (name, value) for name, value in inputs.items()}}, targets))
        got = graph.execute(graph.plan(tasks, targets), inputs, targets)
        assert got.keys() == expected.keys()
        for target in targets:
            value, rasa_value = got[target], expected[target]
            if isinstance(value, list):  # the parse: the messages with their intents and entities
                assert [m.as_dict() for m in value] == [m.as_dict() for m in rasa_value]
            else:
                assert value == rasa_value
