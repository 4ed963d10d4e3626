"""Run the gateway under :mod:`tracemalloc` and write what grows.

    python -m bench.memtrace OUT.txt EVERY_S -- serve --port ... (the ``python -m handoff`` arguments)

Used by ``python -m bench.soak --trace-memory FILE``. A daemon thread takes a
snapshot every ``EVERY_S`` seconds; the first one after :data:`WARMUP_S` is
the baseline, and each later one appends to ``OUT.txt`` the Python heap size
and the allocation sites that grew most since the baseline (grouped by
traceback, so a dict that keeps growing shows the code that fills it).
Diagnostic only: tracing slows the gateway down by about half, so figures
from a traced run are not speed figures.
"""
from __future__ import annotations

import sys
import threading
import time
import tracemalloc
from typing import List, Optional

WARMUP_S = 60.0
TOP = 12
FRAMES = 8
#: our own and the libraries' frames; tracemalloc's own and importlib's are noise
NOISE = (tracemalloc.__file__, "<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")


def _filtered(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    return snapshot.filter_traces([tracemalloc.Filter(False, pattern) for pattern in NOISE])


def _report(baseline: tracemalloc.Snapshot, now: tracemalloc.Snapshot, elapsed: float) -> str:
    current, _ = tracemalloc.get_traced_memory()
    lines = [f"== t={elapsed:.0f}s traced heap {current / 2**20:.1f} MiB"]
    for stat in now.compare_to(baseline, "traceback")[:TOP]:
        lines.append(f"  {stat.size_diff / 1024:+.1f} KiB in {stat.count_diff:+d} blocks "
                     f"(now {stat.size / 1024:.1f} KiB)")
        for frame in stat.traceback.format(limit=FRAMES, most_recent_first=True):
            lines.append("    " + frame.strip())
    return "\n".join(lines) + "\n"


def _watch(out_path: str, every_s: float) -> None:
    started = time.monotonic()
    baseline: Optional[tracemalloc.Snapshot] = None
    while True:
        time.sleep(every_s)
        elapsed = time.monotonic() - started
        snapshot = _filtered(tracemalloc.take_snapshot())
        if baseline is None:
            if elapsed >= WARMUP_S:
                baseline = snapshot
            continue
        with open(out_path, "a") as out:
            out.write(_report(baseline, snapshot, elapsed))


def main(argv: List[str]) -> int:
    if len(argv) < 3 or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out_path, every_s, gateway_args = argv[0], float(argv[1]), argv[3:]
    tracemalloc.start(FRAMES)
    threading.Thread(target=_watch, args=(out_path, every_s), daemon=True, name="memtrace").start()
    from handoff.cli import main as gateway_main

    return gateway_main(gateway_args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
