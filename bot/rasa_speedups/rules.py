"""The rule walk: which of the trained rules apply to a conversation.

Rasa's ``RulePolicy._get_possible_keys`` checks every rule (230 here)
against every state of the conversation, back to its start, for each lookup
(rules, and the unhappy paths of a form) of each prediction, two predictions
a turn. Here:

* a rule that got further back than its own length is known to apply (Rasa's
  ``_is_rule_applicable`` says so first), so the walk stops once every rule
  left is that short (the longest rule here has three states);
* the first step only looks at the rules that can match the conversation's
  last state: a rule whose last state names a previous action applies only
  where the conversation's last state names the same one (Rasa's
  ``_does_rule_match_state``), so the rules are indexed by that action once
  per lookup; the others are all checked, by Rasa's own test;
* Rasa's ``_is_rule_applicable`` is followed step by step on each rule's
  states parsed once (Rasa reverses a copy of them for every rule at every
  step, 2-3% of a turn), ending in Rasa's own ``_does_rule_match_state``; a
  subclass that overrides ``_is_rule_applicable`` keeps its own.

The same rules are found as by Rasa's walk (``tests/bot/test_rasa_speedups.py``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Set, Text, Tuple


@dataclass(frozen=True)
class RuleIndex:
    """The keys of one lookup, by the previous action of their last state."""

    by_action: Dict[Text, Tuple[Text, ...]]
    unindexed: Tuple[Text, ...]
    length: Dict[Text, int]
    #: each rule's states, last first (Rasa's ``reversed_rule_states``)
    reversed_states: Dict[Text, Tuple[Dict[Text, Any], ...]]

    @classmethod
    def of(cls, lookup: Dict[Text, Text]) -> "RuleIndex":
        from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET
        from rasa.shared.nlu.constants import ACTION_NAME

        by_action: Dict[Text, List[Text]] = {}
        unindexed: List[Text] = []
        length: Dict[Text, int] = {}
        reversed_states: Dict[Text, Tuple[Dict[Text, Any], ...]] = {}
        for key in lookup:
            states = json.loads(key)
            length[key] = len(states)
            reversed_states[key] = tuple(reversed(states))
            action = (states[-1].get(PREVIOUS_ACTION) or {}).get(ACTION_NAME) if states else None
            if isinstance(action, str) and action and action != SHOULD_NOT_BE_SET:
                by_action.setdefault(action, []).append(key)
            else:
                unindexed.append(key)
        return cls({a: tuple(keys) for a, keys in by_action.items()}, tuple(unindexed), length, reversed_states)

    def candidates(self, last_state: Dict[Text, Any]) -> List[Text]:
        from rasa.shared.core.constants import PREVIOUS_ACTION
        from rasa.shared.nlu.constants import ACTION_NAME

        action = (last_state.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
        return [*self.by_action.get(action, ()), *self.unindexed] if isinstance(action, str) else list(self.unindexed)


def _index(policy: Any, lookup: Dict[Text, Text]) -> RuleIndex:
    """The lookup's index, built once. Kept on the policy beside the lookup it
    was built from; a lookup that changed size (during training) is indexed again."""
    indexes: Dict[int, Tuple[Dict[Text, Text], int, RuleIndex]] = policy.__dict__.setdefault("_kara_rule_index", {})
    entry = indexes.get(id(lookup))
    if entry is None or entry[0] is not lookup or entry[1] != len(lookup):
        entry = indexes[id(lookup)] = (lookup, len(lookup), RuleIndex.of(lookup))
    return entry[2]


def install() -> None:
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.constants import PREVIOUS_ACTION

    rasas_test = RulePolicy._is_rule_applicable

    def _get_possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> Set[Text]:
        if not states:
            return set(lookup)
        index = _index(self, lookup)
        possible_keys = index.candidates(states[-1])
        own_test = type(self)._is_rule_applicable is not rasas_test
        for i, state in enumerate(reversed(states)):
            # a rule of length n applies at every index >= n: past the longest, nothing changes
            if all(index.length[key] <= i for key in possible_keys):
                break
            if own_test:
                possible_keys = [key for key in possible_keys if self._is_rule_applicable(key, i, state)]
            else:
                possible_keys = _applicable(self, index, possible_keys, i, state)
        return set(possible_keys)

    def _applicable(policy: RulePolicy, index: RuleIndex, keys: List[Text], i: int,
                    state: Dict[Text, Any]) -> List[Text]:
        """The keys Rasa's ``_is_rule_applicable(key, i, state)`` keeps, by its own steps."""
        current = state.get(PREVIOUS_ACTION)
        kept: List[Text] = []
        for key in keys:
            rule_states = index.reversed_states[key]
            if i >= len(rule_states):  # got further back than the rule is long
                kept.append(key)
                continue
            rule_state = rule_states[i]
            previous = rule_state.get(PREVIOUS_ACTION)
            if not previous or not current:  # both conversation starts, or only one of them
                if not previous and not current:
                    kept.append(key)
            elif policy._does_rule_match_state(rule_state, state):
                kept.append(key)
        return kept

    RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[method-assign]
