"""The pytest sessions of ``./kara test``: which tests run in which Python
environment, and two lanes of sessions side by side.

Most of the tests' time is waiting (on sockets, timers, Rasa's answers, a
browser, processes starting), so two sessions at once on two cores overlap
their waits. They share nothing the tests do not already keep apart: every
database is a fresh one (SQLite in the test's own directory, PostgreSQL
through ``bot.databases``), every Redis key has a per-test prefix, every port
is a free one (``free_port``), every assistant is started by the session that
uses it. ``KARA_TEST_LANES=1`` runs the sessions one after the other (one
gateway session, as before the split).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, TextIO

from bot import paths
from bot.processes import GATEWAY_PYTHON, terminate

#: the tests of the gateway's environment; every other test runs in the assistant's
GATEWAY_TESTS = ("tests/handoff", "tests/faults", "tests/ops", "tests/assistant", "tests/widget")
#: the gateway's tests in two sessions of about equal length; tests/widget last in its session: its
# session-wide Playwright (sync API) keeps an event loop running in the main thread, which async
# tests after it would meet
GATEWAY_SPLIT = (("tests/handoff", "tests/ops"), ("tests/faults", "tests/assistant", "tests/widget"))
HEARTBEAT_S = 60


@dataclass
class Run:
    """One pytest session: its title, Python and arguments."""

    title: str
    python: str
    args: List[str]
    log: Optional[Path] = None
    proc: Optional["subprocess.Popen[bytes]"] = None
    started: float = 0.0

    @property
    def command(self) -> List[str]:
        return [self.python, "-m", "pytest", *self.args]


def rasa_python() -> str:
    return str(paths.VENV_BIN / "python")


def default_lanes(lanes: int) -> List[List[Run]]:
    """Every test: the gateway's in two sessions, the assistant's in one,
    spread over ``lanes`` lanes (each lane runs its sessions in order)."""
    rest = Run("assistant tests", rasa_python(), ["tests", *(f"--ignore={path}" for path in GATEWAY_TESTS)])
    if lanes < 2:  # one gateway session: one assistant started for all of its tests
        return [[Run("gateway tests", str(GATEWAY_PYTHON), list(GATEWAY_TESTS)), rest]]
    first, second = (Run("gateway tests " + " ".join(dirs), str(GATEWAY_PYTHON), list(dirs))
                     for dirs in GATEWAY_SPLIT)
    return [[second], [first, rest]]


def run_for(pytest_args: List[str]) -> Run:
    """The one session for explicit pytest arguments: the gateway's
    environment if they name gateway tests, else the assistant's."""
    if any(arg.startswith(GATEWAY_TESTS) for arg in pytest_args):
        return Run("gateway tests", str(GATEWAY_PYTHON), pytest_args)
    return Run("assistant tests", rasa_python(), pytest_args)


def lane_count() -> int:
    wanted = os.environ.get("KARA_TEST_LANES")
    return max(1, int(wanted)) if wanted else min(2, os.cpu_count() or 1)


def _start(run: Run, log_dir: Path) -> None:
    run.log = log_dir / ("pytest-" + re.sub(r"[^a-z0-9]+", "-", run.title.lower()).strip("-") + ".log")
    print(f"==> pytest {' '.join(run.args)} ({run.python}), output when it ends", flush=True)
    with run.log.open("wb") as out:
        run.proc = subprocess.Popen(run.command, cwd=paths.ROOT, stdout=out, stderr=subprocess.STDOUT)
    run.started = time.monotonic()


def _report(run: Run, code: int, stream: TextIO) -> None:
    assert run.log is not None
    minutes = (time.monotonic() - run.started) / 60
    stream.write(f"==> {run.title}: exit {code} after {minutes:.1f} min ({run.log})\n")
    stream.write(run.log.read_text(errors="replace"))
    stream.flush()


def _stop(run: Run) -> None:
    """SIGINT first: pytest then tears its fixtures down (gateways, Rasa)."""
    if run.proc is not None and run.proc.poll() is None:
        terminate(run.proc, 60, sig=signal.SIGINT)


def run_lanes(lanes: List[List[Run]], stream: TextIO = sys.stdout) -> int:
    """Run each lane's sessions one after the other, the lanes side by side;
    print each session's output when it ends. Every session runs; the first
    failure's exit code is returned."""
    log_dir = paths.VAR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    left = [list(lane) for lane in lanes if lane]
    failed = 0
    last_beat = time.monotonic()
    try:
        while left:
            for lane in left:
                if lane[0].proc is None:
                    _start(lane[0], log_dir)
            time.sleep(0.5)
            for lane in left:
                code = lane[0].proc.poll() if lane[0].proc is not None else None
                if code is not None:
                    _report(lane[0], code, stream)
                    failed = failed or code
                    lane.pop(0)
            left = [lane for lane in left if lane]
            if left and time.monotonic() - last_beat > HEARTBEAT_S:
                last_beat = time.monotonic()
                print("  ... running: " + "; ".join(
                    f"{lane[0].title} ({(last_beat - lane[0].started) / 60:.0f} min)" for lane in left), flush=True)
    finally:
        for lane in left:
            _stop(lane[0])
    return failed
