"""A tracker's copy, taken from a replay kept beside the tracker.

Rasa's processor copies the tracker before every action it runs
(``DialogueStateTracker.copy``: a new tracker that replays every event of
the session), twice a turn, so each turn replayed the whole session twice
more (7% of a process's samples holding the GIL at 10 conversations, after
the states replay was cut).

Here the replay is kept beside the tracker (:class:`Shadow`: a tracker that
only ever had the events applied, as Rasa's copy has them) and goes on from
where it stopped while the tracker's events only grew (the same deque, the
last event replayed still in its place); anything else replays from the
start. A copy is the shadow's attributes with the parts Rasa changes in
place (events, slots, active loop, a reset's empty messages) copied, so
neither changes the other (the latest action is replaced, never changed).
``tests/bot/test_rasa_speedups.py`` holds every attribute of a copy equal to
Rasa's on random conversations grown event by event.
"""
from __future__ import annotations

import copy
import itertools
import operator
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional

if TYPE_CHECKING:
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker


@dataclass
class Shadow:
    """``tracker``: Rasa's copy of the first ``count`` events of ``events``."""

    events: Deque["Event"]  # the deque of the tracker it shadows (Rasa replaces it on some resets)
    count: int
    last: Optional["Event"]
    tracker: "DialogueStateTracker"


def _shadow(tracker: "DialogueStateTracker") -> "DialogueStateTracker":
    events = tracker.events
    shadow: Optional[Shadow] = tracker.__dict__.get("_kara_shadow")
    if shadow is None or shadow.events is not events or shadow.count > len(events) or (
            shadow.count and events[shadow.count - 1] is not shadow.last):
        shadow = Shadow(events, 0, None, tracker.init_copy())  # as Rasa's travel_back_in_time starts
        tracker.__dict__["_kara_shadow"] = shadow
    for event in itertools.islice(events, shadow.count, None):
        shadow.tracker.update(event)
    shadow.count, shadow.last = len(events), events[-1] if events else None
    return shadow.tracker


def carry_shadow(tracker: "DialogueStateTracker", renamed: Dict[int, "Event"]) -> Optional[Shadow]:
    """Take ``tracker``'s shadow away from it (see :func:`bot.rasa_speedups.carry`)."""
    from .states import rename_replayed

    shadow: Optional[Shadow] = tracker.__dict__.pop("_kara_shadow", None)
    if shadow is None:
        return None
    rename_replayed(shadow.tracker, renamed)
    shadow.last = renamed.get(id(shadow.last), shadow.last)
    return shadow


def tracker_from_shadow(shadow: Shadow, events: List["Event"]) -> Optional["DialogueStateTracker"]:
    """A tracker of ``events`` as ``DialogueStateTracker.from_events`` builds
    it (a replay of them into a new tracker), taken from a carried shadow
    whose replay holds their start (the same objects); ``None`` if it does not."""
    replayed = shadow.tracker.events
    if len(replayed) != shadow.count or shadow.count > len(events) or not all(map(operator.is_, replayed, events)):
        return None
    for event in itertools.islice(events, shadow.count, None):
        shadow.tracker.update(event)
    shadow.count, shadow.last = len(events), events[-1] if events else None
    tracker = _copy_of(shadow.tracker)
    shadow.events = tracker.events
    tracker.__dict__["_kara_shadow"] = shadow
    return tracker


def _copy_of(source: "DialogueStateTracker") -> "DialogueStateTracker":
    """A tracker with ``source``'s state, sharing nothing that either may change."""
    copied = type(source).__new__(type(source))
    state: Dict[str, Any] = {name: value for name, value in source.__dict__.items()
                             if not name.startswith("_kara_")}  # this package's caches stay with their tracker
    state["events"] = deque(source.events, source.events.maxlen)
    state["slots"] = {name: copy.copy(slot) for name, slot in source.slots.items()}
    if source.active_loop is not None:
        state["active_loop"] = copy.copy(source.active_loop)
    for name in ("latest_message", "latest_bot_utterance"):
        state[name] = _own(state[name], source.events)
    copied.__dict__.update(state)
    return copied


def _own(message: Any, events: Deque["Event"]) -> Any:
    """An event of the conversation is shared, as in Rasa's copy; the empty
    placeholder a reset puts there is each copy's own, made now, as Rasa's
    replay makes it."""
    if message is None:
        return None
    for event in reversed(events):  # the latest message is most often near the end
        if event is message:
            return message
    own = copy.deepcopy(message)
    own.timestamp = time.time()
    return own


def install() -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    rasa_copy = DialogueStateTracker.copy

    def copy_tracker(self: DialogueStateTracker) -> DialogueStateTracker:
        if type(self) is not DialogueStateTracker or self.events.maxlen is not None or type(self.slots) is not dict:
            return rasa_copy(self)  # training trackers, capped deques, slots of any name
        return _copy_of(_shadow(self))

    DialogueStateTracker.copy = copy_tracker  # type: ignore[method-assign]
