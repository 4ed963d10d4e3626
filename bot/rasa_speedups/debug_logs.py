"""Debug log lines that cost a turn even when debug logging is off.

Rasa 3.6's processor and its rule and memoization policies pass deep copies
of what they log (every state of the conversation, the turn's events) to
``structlogger.debug(...)`` and format the states into f-strings for
``logger.debug``: the arguments are built before the logger drops the line.
At 10 and 50 concurrent conversations ``copy.deepcopy`` alone was 4.5-6.4% of
a Rasa process's busy samples. Here those modules' ``copy`` is a stand-in
whose ``deepcopy`` copies only when the module logs at debug level, and the
policies' ``format_tracker_states`` formats only then; with ``--debug`` Rasa
logs exactly as before. ``tests/bot/test_rasa_speedups.py`` checks that every
``copy.`` in those modules is an argument of a debug log call.
"""
from __future__ import annotations

import copy
import logging
from typing import Any, Dict, List, Text

#: the modules whose only use of ``copy`` is in debug log calls
MODULES = ("rasa.core.processor", "rasa.core.policies.rule_policy", "rasa.core.policies.memoization")


class DebugCopy:
    """``copy`` for one module: deep copies only when that module logs debug lines."""

    def __init__(self, module: str) -> None:
        self.logger = logging.getLogger(module)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        return copy.deepcopy(value, memo) if self.logger.isEnabledFor(logging.DEBUG) else value


def install() -> None:
    import importlib

    from rasa.core.policies.policy import Policy

    for name in MODULES:
        importlib.import_module(name).copy = DebugCopy(name)  # type: ignore[attr-defined]

    rasa_format = Policy.format_tracker_states
    policies_log = logging.getLogger("rasa.core.policies")

    def format_tracker_states(states: List[Dict]) -> Text:  # type: ignore[type-arg]
        return rasa_format(states) if policies_log.isEnabledFor(logging.DEBUG) else ""

    Policy.format_tracker_states = staticmethod(format_tracker_states)  # type: ignore[method-assign]
