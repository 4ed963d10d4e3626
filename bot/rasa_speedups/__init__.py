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
  against the metaschema on every call;
* :mod:`.states`: the whole conversation replayed into states five times
  a turn, for the rule and memoization policies (22% at 10 conversations);
* :mod:`.copies`: the tracker copied before every action by replaying
  the whole session (twice a turn, 7% once the states were cut);
* :mod:`.rules`: the rule walk checked every rule against every state of
  the conversation (5-7%);
* :mod:`.debug_logs`: deep copies and formatted states built for debug log
  lines that are then dropped (5-7%);
* :mod:`.graph`: the graph of components worked out again for every parse
  and prediction (4-5%);
* :mod:`.collector`: full garbage collections walking the loaded model
  (about 270 ms each, 2.5% of the CPU).
"""
from __future__ import annotations

from . import collector, copies, debug_logs, events, graph, rules, states

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
    copies.install()
    debug_logs.install()
    graph.install()
    collector.install()
    _installed = True
