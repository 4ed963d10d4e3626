"""CPU seconds spent by groups of processes over a span: where a benchmark's time goes.

    meter = CpuMeter({"gateway": lambda: [gw.pid], "PostgreSQL": processes_named("postgres")})
    with meter.span("one"):
        ...  # the measured work
    meter.per_item("one", 10000)  # -> {"gateway": 31e-6, "PostgreSQL": 14e-6}

User + system time from ``/proc`` (psutil). A group's pids are looked up at
each reading, so server processes that start later (PostgreSQL backends) are
counted; a process that ends inside a span loses its share of it.
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Dict, Iterator, List

import psutil

Pids = Callable[[], List[int]]


def processes_named(name: str) -> Pids:
    def pids() -> List[int]:
        return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == name]

    return pids


def this_process() -> Pids:
    return lambda: [os.getpid()]


def _cpu(pids: List[int]) -> Dict[int, float]:
    seconds = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        seconds[pid] = times.user + times.system
    return seconds


class CpuMeter:
    def __init__(self, groups: Dict[str, Pids]) -> None:
        self.groups = groups
        #: span label -> group -> CPU seconds, summed over every span with that label
        self.spent: Dict[str, Dict[str, float]] = {}

    @contextlib.contextmanager
    def span(self, label: str) -> Iterator[None]:
        before = {group: _cpu(pids()) for group, pids in self.groups.items()}
        yield
        totals = self.spent.setdefault(label, {group: 0.0 for group in self.groups})
        for group, pids in self.groups.items():
            after = _cpu(pids())
            totals[group] += sum(seconds - before[group].get(pid, 0.0) for pid, seconds in after.items())

    def per_item(self, label: str, items: int) -> Dict[str, float]:
        """CPU seconds per item of the spans labelled ``label``, by group."""
        return {group: seconds / max(1, items) for group, seconds in self.spent.get(label, {}).items()}
