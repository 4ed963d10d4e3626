"""A conversation's applied events and past states, worked out once a turn.

To predict an action, Rasa's rule and memoization policies each turn the
whole conversation into states (``Domain.states_for_tracker_history``):
replay every event into a fresh tracker and describe it before every action
(``get_active_state``). The rule policy does it twice (for the message's
text and for its intent), the memoization policy once, and a turn predicts
twice (the answer, then ``action_listen``): five replays of the whole session
a turn, 22% of a Rasa process's busy samples at 10 concurrent conversations.

Here the states before each action are recorded once per tracker (:class:`Replay`)
and every call builds its answer from copies of them with Rasa's own
steps (hidden rule turns, rule-only features, the substituted user input);
when the tracker has only grown since (the second prediction of a turn), the
replay goes on from where it stopped. The events a replay was made from are
compared by identity: anything else (a reverted or restarted conversation, a
new tracker) replays from the start, as Rasa does. The project's tracker
store hands a conversation's replay on to its next turn's tracker
(:func:`carry`, :func:`resume`), which holds the same event objects. Training trackers (Rasa's
``TrackerWithCachedStates``, which keeps its own) are left to Rasa.

The events that apply (``DialogueStateTracker.applied_events``: reverted
ones undone, a form's repeated executions folded) were worked out from the
whole conversation on each call, five to seven times a turn (the replays, the
session-expiry checks). Here they are kept beside the tracker's events, and
events appended since are added to them when they cannot change what came
before (no restart, session start, revert, new form or form execution);
anything else is Rasa's computation again.

``tests/bot/test_rasa_speedups.py`` holds both equal to Rasa's on random
conversations grown event by event.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Set, Text

from rasa.shared.core.constants import PREVIOUS_ACTION

if TYPE_CHECKING:
    from rasa.shared.core.domain import Domain, State
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker


@dataclass
class Position:
    """The replayed tracker just before one action (or at the end)."""

    hide_rule_turn: bool
    #: ``get_active_state`` there (handed out as copies: Rasa's callers change states)
    state: "State"
    #: the previous action's sub-state there (``tracker.latest_action``)
    prev_action: Optional[Dict[Text, Any]]
    #: whether a hidden rule turn may start there (no follow-up action, not the active loop)
    can_hide: bool


@dataclass
class Replay:
    """Positions of a replay of ``applied`` (the tracker's applied events)."""

    domain: "Domain"
    omit_unset_slots: bool
    applied: List["Event"]
    tracker: "DialogueStateTracker"  # the replay, after every applied event
    positions: List[Position] = field(default_factory=list)  # one per ActionExecuted in applied
    #: the tracker's events this replay describes: the deque, its length and last event
    version: tuple = ()  # type: ignore[type-arg]


#: a tracker's replays, by ``omit_unset_slots``
Replays = Dict[bool, Replay]


def carry_replays(tracker: "DialogueStateTracker", renamed: Dict[int, "Event"]) -> Optional[Replays]:
    """Take ``tracker``'s replays away from it, for another tracker of the
    conversation whose events are the same objects except ``renamed`` (see
    :func:`bot.rasa_speedups.carry`). A replay goes on from its end if the
    other tracker's applied events start with the same objects (checked
    there), else starts again."""
    replays: Optional[Replays] = tracker.__dict__.pop("_kara_replays", None)
    if not replays:
        return None
    for replay in replays.values():
        replay.applied = [renamed.get(id(event), event) for event in replay.applied]
        replay.version = ()
        rename_replayed(replay.tracker, renamed)
    return replays


def rename_replayed(tracker: "DialogueStateTracker", renamed: Dict[int, "Event"]) -> None:
    """A replay's own tracker holds the renamed events too, so that the ones
    of the turn's tracker are not kept alive beside them (the turn's own are
    at its end: earlier turns' were renamed when they were carried)."""
    events = tracker.events
    for index in range(len(events) - 1, -1, -1):
        kept = renamed.get(id(events[index]))
        if kept is None:
            break
        events[index] = kept
    for name in ("latest_message", "latest_bot_utterance"):
        kept = renamed.get(id(getattr(tracker, name)))
        if kept is not None:
            setattr(tracker, name, kept)


def resume_replays(tracker: "DialogueStateTracker", replays: Replays) -> None:
    tracker.__dict__["_kara_replays"] = replays


def _position(domain: "Domain", tracker: "DialogueStateTracker", hide_rule_turn: bool,
              omit_unset_slots: bool) -> Position:
    return Position(hide_rule_turn, domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots),
                    None if tracker.latest_action is None else dict(tracker.latest_action),
                    not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name)


def _version(tracker: "DialogueStateTracker") -> tuple:  # type: ignore[type-arg]
    # the deque itself, not its id: a replaced deque's id could be reused
    events = tracker.events
    return (events, len(events), events[-1] if events else None)


def _same_version(replay: Replay, tracker: "DialogueStateTracker") -> bool:
    events = tracker.events
    old = replay.version
    return bool(old) and old[0] is events and old[1] == len(events) and (
        not events or events[-1] is old[2])


def replay_of(domain: "Domain", tracker: "DialogueStateTracker", omit_unset_slots: bool) -> List[Position]:
    """The positions of Rasa's ``generate_all_prior_trackers``, the last one
    being the tracker as it is now."""
    from rasa.shared.core.events import ActionExecuted

    replays: Replays = tracker.__dict__.setdefault("_kara_replays", {})
    replay = replays.get(omit_unset_slots)
    if replay is not None and replay.domain is domain and _same_version(replay, tracker):
        return replay.positions
    applied = tracker.applied_events()
    kept = 0
    if replay is not None and replay.domain is domain and len(replay.applied) <= len(applied) and all(
            old is new for old, new in zip(replay.applied, applied)):
        kept = len(replay.applied)  # only grown: go on from there
        replay.positions.pop()  # the old end, described again before the next action
    else:
        replay = Replay(domain, omit_unset_slots, [], tracker.init_copy())
        replays[omit_unset_slots] = replay
    for event in applied[kept:]:
        if isinstance(event, ActionExecuted):
            replay.positions.append(_position(domain, replay.tracker, event.hide_rule_turn, omit_unset_slots))
        replay.tracker.update(event)
    replay.positions.append(_position(domain, replay.tracker, False, omit_unset_slots))
    replay.applied = applied
    replay.version = _version(tracker)
    return replay.positions


@dataclass
class Applied:
    """A tracker's applied events, and the events they were worked out from."""

    events: Deque["Event"]  # the tracker's deque (Rasa replaces it on a reset)
    count: int
    last: Optional["Event"]
    loops: Set[Text]  # the names of the forms the conversation activated
    applied: List["Event"]


def carry_applied(tracker: "DialogueStateTracker", renamed: Dict[int, "Event"]) -> Optional[Applied]:
    """Take ``tracker``'s applied events away from it (as :func:`carry_replays`)."""
    applied: Optional[Applied] = tracker.__dict__.pop("_kara_applied", None)
    if applied is None:
        return None
    applied.applied = [renamed.get(id(event), event) for event in applied.applied]
    applied.last = renamed.get(id(applied.last), applied.last)
    return applied


def resume_applied(tracker: "DialogueStateTracker", applied: Applied) -> None:
    """Give ``tracker`` the applied events of the tracker it was built after:
    its first ``applied.count`` events (checked by the last of them on use)."""
    applied.events = tracker.events
    tracker.__dict__["_kara_applied"] = applied


def _grows_plainly(event: "Event", loops: Set[Text]) -> bool:
    """Whether Rasa's ``applied_events`` appends ``event`` as it is, without
    changing what it found for the events before it."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
    )

    if isinstance(event, (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted)):
        return False
    if isinstance(event, ActiveLoop):
        return not event.name or event.name in loops  # a new form would change earlier events
    return not (isinstance(event, ActionExecuted) and event.action_name in loops)


def copy_state(state: "State") -> "State":
    return {kind: dict(sub_state) for kind, sub_state in state.items()}  # type: ignore[misc]


@dataclass
class Walk:
    """Rasa's loop in ``Domain.states_for_tracker_history``, one position at
    a time, and what it carries from one position to the next (kept between
    calls by :mod:`.lookup_states`, which goes on from where it stopped)."""

    ignore_rule_only_turns: bool
    rule_only_data: Optional[Dict[Text, Any]]
    previous: Optional["State"] = None  # the last state built
    last_ml_action: Optional[Dict[Text, Any]] = None
    turn_was_hidden: bool = False

    def step(self, domain: "Domain", position: Position) -> Optional["State"]:
        """The state at ``position``, on a copy of its recorded one (None: a hidden rule turn)."""
        if self.ignore_rule_only_turns:
            if not self.turn_was_hidden:
                self.last_ml_action = None if position.prev_action is None else dict(position.prev_action)
            if position.can_hide:
                self.turn_was_hidden = position.hide_rule_turn
            if self.turn_was_hidden:
                return None
        state = copy_state(position.state)
        if self.ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if self.previous is not None:
                domain._substitute_rule_only_user_input(state, self.previous)
            if self.last_ml_action:
                state[PREVIOUS_ACTION] = self.last_ml_action
        self.previous = state = domain._clean_state(state)
        return state


def install() -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActiveLoop
    from rasa.shared.core.trackers import DialogueStateTracker

    rasa_applied = DialogueStateTracker.applied_events

    def applied_events(self: DialogueStateTracker) -> List["Event"]:
        events = self.events
        if type(self) is not DialogueStateTracker or events.maxlen is not None:
            return rasa_applied(self)  # training trackers; a capped deque drops old events
        kept: Optional[Applied] = self.__dict__.get("_kara_applied")
        if kept is not None and kept.events is events and kept.count <= len(events) and (
                kept.count == 0 or events[kept.count - 1] is kept.last):
            new = list(itertools.islice(events, kept.count, None))
            if all(_grows_plainly(event, kept.loops) for event in new):
                kept.applied += new
                kept.count, kept.last = len(events), events[-1] if events else None
                return list(kept.applied)
        applied = rasa_applied(self)
        loops = {event.name for event in events if isinstance(event, ActiveLoop) and event.name}
        self.__dict__["_kara_applied"] = Applied(events, len(events), events[-1] if events else None, loops,
                                                 list(applied))
        return applied

    DialogueStateTracker.applied_events = applied_events  # type: ignore[method-assign]

    rasa_states = Domain.states_for_tracker_history

    def states_for_tracker_history(self: Domain, tracker: DialogueStateTracker, omit_unset_slots: bool = False,
                                   ignore_rule_only_turns: bool = False,
                                   rule_only_data: Optional[Dict[Text, Any]] = None) -> List["State"]:
        if type(tracker) is not DialogueStateTracker:  # training trackers keep their own cache
            return rasa_states(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        step = partial(Walk(ignore_rule_only_turns, rule_only_data).step, self)
        return [state for state in map(step, replay_of(self, tracker, omit_unset_slots)) if state is not None]

    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]
