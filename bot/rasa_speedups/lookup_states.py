"""The states the rule and memoization policies look up by, built once each.

Both policies ask their featurizer (``MaxHistoryTrackerFeaturizer`` without a
state featurizer) for the conversation's states on every prediction: five
times a turn. Each time it took a fresh copy of every state since the start
(:mod:`.states`), stripped the user text beside an intent from every one,
and then used the end: memoization its last five, the rule walk its last
three, only a prediction no rule matches the whole list (its feature key).
That copying grew with the conversation: 23% of a Rasa process's GIL
samples at 10 concurrent conversations of up to 70 turns.

Here a state is built, stripped and kept once, when the replay it comes from
(:class:`.states.Replay`) first reaches past it; every call hands out a new
list of those kept states and a fresh copy of the last one. Sharing is safe
because these two policies only read the states, and the one change the
featurizer makes (the last message's text or intent, ``_choose_last_user_input``)
falls on the last state, which is never shared. The kept states travel with
the replay from turn to turn (:func:`bot.rasa_speedups.carry`). Any other
featurizer, tracker type or option is Rasa's own code.

``tests/bot/test_rasa_speedups.py`` holds every variant equal to Rasa's on
random conversations grown event by event and handed from turn to turn,
with the handed-out states changed by the caller in between.
"""
from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Text, Tuple

from rasa.shared.core.constants import USER
from rasa.shared.nlu.constants import INTENT, TEXT

from .states import Position, Replay, Walk, copy_state, replay_of

if TYPE_CHECKING:
    from rasa.shared.core.domain import Domain, State
    from rasa.shared.core.trackers import DialogueStateTracker

#: (ignore_rule_only_turns, ignore_action_unlikely_intent)
Variant = Tuple[bool, bool]


@dataclass
class Kept:
    """The states of one variant for a replay's positions before ``upto``."""

    walk: Walk  # Rasa's loop, where it stopped
    upto: int = 0
    last_position: Optional[Position] = None  # positions[upto - 1], by identity
    states: List["State"] = field(default_factory=list)  # as handed out (text beside an intent stripped)
    unstripped: Optional["State"] = None  # a copy of states[-1] before the text was stripped
    #: ``json.dumps(state, sort_keys=True)`` of states[:len(keys)], made when first asked for
    keys: List[Text] = field(default_factory=list)
    #: the index in states of each rule snippet state (``...``: never in a live conversation)
    snippets: List[int] = field(default_factory=list)


def _kept(replay: Replay, variant: Variant, rule_only_data: Optional[Dict[Text, Any]]) -> Kept:
    lookups: Dict[Variant, Kept] = replay.__dict__.setdefault("_kara_lookup_states", {})
    kept = lookups.get(variant)
    positions = replay.positions
    if kept is None or kept.walk.rule_only_data != rule_only_data or kept.upto >= len(positions) or (
            kept.upto and positions[kept.upto - 1] is not kept.last_position):
        walk = Walk(variant[0], None if rule_only_data is None else dict(rule_only_data))
        kept = lookups[variant] = Kept(walk)
    return kept


def _step(domain: "Domain", walk: Walk, position: Position, ignore_unlikely: bool) -> Optional["State"]:
    """The walk one position on; None: a hidden rule turn or a left-out ``action_unlikely_intent``."""
    from rasa.core.featurizers.tracker_featurizers import _is_prev_action_unlikely_intent_in_state

    state = walk.step(domain, position)
    if state is None or ignore_unlikely and _is_prev_action_unlikely_intent_in_state(state):
        return None
    return state


def _strip(kept: Kept, state: "State") -> "State":
    """As the featurizer strips a state that is not the last (``_remove_user_text_if_intent``)."""
    kept.unstripped = copy_state(state)
    user = state.get(USER, {})
    if user.get(INTENT) and user.get(TEXT):
        del user[TEXT]  # type: ignore[misc]
    return state


def lookup_states(domain: "Domain", tracker: "DialogueStateTracker", variant: Variant,
                  rule_only_data: Optional[Dict[Text, Any]]) -> List["State"]:
    """``_remove_user_text_if_intent`` of the (filtered) states of ``tracker``:
    the kept states and a fresh last one, in a new list."""
    positions = replay_of(domain, tracker, omit_unset_slots=False)
    replay: Replay = tracker.__dict__["_kara_replays"][False]
    kept = _kept(replay, variant, rule_only_data)
    for position in positions[kept.upto:-1]:
        state = _step(domain, kept.walk, position, variant[1])
        if state is not None:
            if _is_snippet(state):
                kept.snippets.append(len(kept.states))
            kept.states.append(_strip(kept, state))
    kept.upto, kept.last_position = len(positions) - 1, positions[-2] if len(positions) > 1 else None
    # the end is described again once the conversation goes on: built on a copy of the walk
    last = _step(domain, replace(kept.walk), positions[-1], variant[1])
    states = Handed(kept.states)
    states.kept, states.count, states.snippet = kept, len(kept.states), kept.snippets[-1] if kept.snippets else -1
    if last is not None:  # (its previous action or user input may be a kept state's)
        states.append(copy_state(last))
    elif states and kept.unstripped is not None:  # the end was left out: the last kept state, as it was built
        states[-1] = copy_state(kept.unstripped)
        states.count -= 1
    return states


class Handed(list):  # type: ignore[type-arg]
    """States handed out: the first ``count`` are ``kept.states``' own."""

    __slots__ = ("kept", "count", "snippet")
    kept: Kept
    count: int
    snippet: int  # the last snippet state's index among the first ``count``, or -1


def _is_snippet(state: "State") -> bool:
    from rasa.core.policies.rule_policy import RulePolicy

    return RulePolicy._is_rule_snippet_state(state)


def feature_key(states: Handed) -> Optional[Text]:
    """``RulePolicy._create_feature_key(states)`` (the states after the last
    rule snippet state, as JSON), from the JSON of each kept state, made once."""
    count, kept = states.count, states.kept
    start = states.snippet + 1
    for index in range(len(states) - 1, count - 1, -1):  # the fresh ones at the end
        if _is_snippet(states[index]):
            start = index + 1
            break
    if start >= len(states):
        return None
    while len(kept.keys) < count:
        kept.keys.append(json.dumps(kept.states[len(kept.keys)], sort_keys=True))
    # (json.dumps of a list: its items' own JSON, ", " between them)
    pieces = kept.keys[start:count] + [json.dumps(state, sort_keys=True) for state in states[max(start, count):]]
    return "[" + ", ".join(pieces) + "]"


def _unchanged(states: Any) -> bool:
    """Whether ``states`` is a :class:`Handed` whose kept part is still the kept states."""
    return type(states) is Handed and len(states) >= states.count and all(
        map(operator.is_, states[:states.count], states.kept.states[:states.count]))


def install() -> None:
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    rasa_prediction_states = MaxHistoryTrackerFeaturizer.prediction_states
    patched_domain_states = Domain.states_for_tracker_history

    def prediction_states(self: MaxHistoryTrackerFeaturizer, trackers: List[DialogueStateTracker],
                          domain: Domain, use_text_for_last_user_input: bool = False,
                          ignore_rule_only_turns: bool = False, rule_only_data: Optional[Dict[Text, Any]] = None,
                          ignore_action_unlikely_intent: bool = False) -> List[List["State"]]:
        if (type(self) is not MaxHistoryTrackerFeaturizer or self.state_featurizer is not None
                or len(trackers) != 1 or type(trackers[0]) is not DialogueStateTracker
                or type(domain).states_for_tracker_history is not patched_domain_states):
            return rasa_prediction_states(self, trackers, domain, use_text_for_last_user_input,
                                          ignore_rule_only_turns, rule_only_data, ignore_action_unlikely_intent)
        states = lookup_states(domain, trackers[0], (ignore_rule_only_turns, ignore_action_unlikely_intent),
                               rule_only_data)
        if not states:  # (Rasa fails on this, and so should this)
            return rasa_prediction_states(self, trackers, domain, use_text_for_last_user_input,
                                          ignore_rule_only_turns, rule_only_data, ignore_action_unlikely_intent)
        states = self.slice_state_history(states, self.max_history)
        # the last state's text or intent; the others were stripped when they were kept
        self._choose_last_user_input([states[-1:]], use_text_for_last_user_input)
        return [states]

    MaxHistoryTrackerFeaturizer.prediction_states = prediction_states  # type: ignore[method-assign]

    rasa_feature_key = RulePolicy._create_feature_key

    def _create_feature_key(self: RulePolicy, states: List["State"]) -> Optional[Text]:
        # a prediction no rule matched: the key of the whole conversation
        return feature_key(states) if _unchanged(states) else rasa_feature_key(self, states)  # type: ignore[arg-type]

    RulePolicy._create_feature_key = _create_feature_key  # type: ignore[method-assign]
