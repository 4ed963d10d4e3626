"""``./kara run`` stopped the way systemd, a container runtime or ``kill`` stops
it: SIGTERM (and SIGKILL) leave no gateway, Rasa or action server behind.
The real command (``python -m bot run``, what ``./kara run`` execs) on free
ports, with its databases and logs in the test's directory."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import psutil
import pytest

from bot import paths
from bot.processes import free_port, http_ok


def _kara_run(tmp_path: Path) -> "tuple[subprocess.Popen, Path, str]":
    if os.environ.get("KARA_TEST_SKIP_RASA"):
        from bot.model_cache import model_path

        if not model_path().exists():
            pytest.skip("KARA_TEST_SKIP_RASA is set and no trained model is cached")
    gateway_port = free_port()
    out = tmp_path / "kara-run.out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--shop-db", f"sqlite:///{tmp_path / 'shop.db'}",
         "--gateway-db", f"sqlite:///{tmp_path / 'gateway.db'}", "--rasa-port", str(free_port()),
         "--actions-port", str(free_port()), "--gateway-port", str(gateway_port),
         "--log-dir", str(tmp_path / "logs")],
        cwd=paths.ROOT, stdout=out.open("wb"), stderr=subprocess.STDOUT,
    )
    return proc, out, f"http://127.0.0.1:{gateway_port}"


def _wait_for(proc: subprocess.Popen, out: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in out.read_text(errors="replace"):
        assert proc.poll() is None, out.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"no {text!r} in {timeout:.0f} s:\n{out.read_text()[-3000:]}"
        time.sleep(0.3)


def _children(proc: subprocess.Popen, at_least: int, timeout: float = 30) -> List[psutil.Process]:
    deadline = time.monotonic() + timeout
    while True:
        found = psutil.Process(proc.pid).children(recursive=True)
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _all_gone(processes: List[psutil.Process], timeout: float) -> List[str]:
    """The command lines of those still running after ``timeout`` (killed then)."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    left = []
    for process in alive:
        try:
            left.append(" ".join(process.cmdline()))
            process.kill()
        except psutil.NoSuchProcess:
            pass
    return left


def test_sigterm_stops_the_whole_system(tmp_path) -> None:
    proc, out, base = _kara_run(tmp_path)
    try:
        _wait_for(proc, out, "Kara Support Chat is running.", 600)
        assert http_ok(base + "/healthz")
        family = _children(proc, 3)
        names = " ".join(" ".join(p.cmdline()) for p in family)
        assert "rasa_sdk" in names and "rasa" in names and "handoff serve" in names, names
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert _all_gone(family, 30) == []
        assert not http_ok(base + "/healthz")
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stopped_while_starting_leaves_nothing(tmp_path, sig: int) -> None:
    """Stopped while Rasa is still loading its model (SIGKILL: the children's
    parent-death signal stops them)."""
    proc, out, _ = _kara_run(tmp_path)
    try:
        _wait_for(proc, out, "action server and Rasa server", 300)
        family = _children(proc, 2)
        assert len(family) >= 2, [p.cmdline() for p in family]
        proc.send_signal(sig)
        proc.wait(60)
        assert _all_gone(family, 30) == []
    finally:
        if proc.poll() is None:
            proc.kill()


#: A parent that forks a child and is killed before the child has set its
#: parent-death signal (the child's ``preexec_fn`` is held back a second).
_LATE_CHILD = """
import os, subprocess, time
from bot.processes import die_with_parent
parent = os.getpid()
def late() -> None:
    time.sleep(1.0)
    die_with_parent(parent)
subprocess.Popen(["sleep", "120"], preexec_fn=late)
"""


def test_a_child_whose_parent_died_before_it_was_set_up_stops() -> None:
    """The race CI met: ``./kara run`` killed right after forking Rasa, before
    the child's ``prctl`` ran, so no parent-death signal ever came."""
    middle = subprocess.Popen([sys.executable, "-c", _LATE_CHILD], cwd=paths.ROOT,
                              env={**os.environ, "PYTHONPATH": str(paths.ROOT)})
    try:
        family = _children(middle, 1, timeout=10)
        assert len(family) == 1
        middle.kill()
        middle.wait(10)
        assert _all_gone(family, 15) == []
    finally:
        if middle.poll() is None:
            middle.kill()
