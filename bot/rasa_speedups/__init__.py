"""Some of Rasa 3.6's per-turn costs, cut in the project's Rasa processes.

:func:`install` runs in every Rasa server that :func:`bot.processes.rasa_server`
starts, before Rasa loads. Each part keeps Rasa's behaviour and is compared
with Rasa's own code in ``tests/bot/test_rasa_speedups.py``. py-spy of one
process at 10 and 50 concurrent conversations (README, "Assistant at scale")
found, and the modules here cut:

* :mod:`.events`: every event rebuilt from its JSON found its class by
  walking every subclass of ``Event`` (16% of the busy samples), and two JSON
  schemas (action-server answers, events appended over the HTTP API: 34% of
  a process's busy samples in the 500-shopper soak) were themselves checked
  against the metaschema on every call; and an event's ``oneOf`` of 23
  alternatives tried every one twice (13% of a conversation's first turn);
* :mod:`.states`: the whole conversation replayed into states five times
  a turn, for the rule and memoization policies (22% at 10 conversations);
* :mod:`.lookup_states`: and those states copied whole for each of the five
  lookups, though only the end of them is looked at or changed (23% once the
  replays were cut, at 10 conversations of up to 70 turns);
* :mod:`.copies`: the tracker copied before every action by replaying
  the whole session (twice a turn, 7% once the states were cut);
* :mod:`.rules`: the rule walk checked every rule against every state of
  the conversation (5-7%);
* :mod:`.debug_logs`: deep copies and formatted states built for debug log
  lines that are then dropped (5-7%);
* :mod:`.graph`: the graph of components worked out again for every parse
  and prediction (4-5%), and ordered again by dask's scheduler (6-8%);
* :mod:`.empty_domain`: an empty domain built for every parsed message, to
  see whether the model's domain is empty (2% at 50 conversations);
* :mod:`.collector`: full garbage collections walking the loaded model
  (about 270 ms each, 2.5% of the CPU).

And one fix the gateway's use of Rasa needs: :mod:`.rest_stream` ends a
streamed answer whose turn raised (Rasa left it open).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional

from . import collector, copies, debug_logs, empty_domain, events, graph, lookup_states, rest_stream, rules, states

if TYPE_CHECKING:
    from rasa.shared.core.events import Event
    from rasa.shared.core.slots import Slot
    from rasa.shared.core.trackers import DialogueStateTracker

_installed = False


def install() -> None:
    """Patch Rasa (idempotent)."""
    global _installed
    if _installed:
        return
    events.remember_event_classes()
    events.validate_action_results_with_one_validator()
    events.validate_appended_events_with_one_validator()
    rules.install()
    states.install()
    lookup_states.install()
    copies.install()
    debug_logs.install()
    graph.install()
    empty_domain.install()
    collector.install()
    rest_stream.install()
    _installed = True


@dataclass
class Carried:
    """What was worked out for one turn's tracker, handed on to the next's."""

    replays: Optional[states.Replays]
    applied: Optional[states.Applied]
    shadow: Optional[copies.Shadow]


def carry(tracker: "DialogueStateTracker", renamed: Dict[int, "Event"]) -> Carried:
    """Take away from ``tracker`` what was worked out from its events, for the
    conversation's next tracker, which holds the same event objects except
    ``renamed`` (by ``id`` of ``tracker``'s own: the copies a tracker store
    keeps of the events it just stored). What is handed on is never shared:
    the next tracker extends it."""
    return Carried(states.carry_replays(tracker, renamed), states.carry_applied(tracker, renamed),
                   copies.carry_shadow(tracker, renamed))


def tracker_of(sender_id: str, events: List["Event"], slots: List["Slot"],
               carried: Optional[Carried]) -> "DialogueStateTracker":
    """``DialogueStateTracker.from_events(sender_id, events, slots)``, given
    what :func:`carry` took from the conversation's last tracker (``events``
    being the objects it renamed to, and those after). With the replay behind
    that tracker's copies, the tracker is a copy of it extended to the end of
    ``events`` (no replay of the whole session)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = None
    if carried is not None and carried.shadow is not None and carried.shadow.tracker.sender_id == sender_id:
        tracker = copies.tracker_from_shadow(carried.shadow, events)
    if tracker is None:
        tracker = DialogueStateTracker.from_events(sender_id, events, slots)
    if carried is not None:
        if carried.replays is not None:
            states.resume_replays(tracker, carried.replays)
        if carried.applied is not None:
            states.resume_applied(tracker, carried.applied)
    return tracker
