"""``python -m bench [--quick] [--only NAME ...] [--profile] [--out FILE]``

Runs the benchmarks against the real system started once (:mod:`bench.system`),
prints one markdown table (metric, value, target, verdict) with the date and the
machine, and writes it to ``bench/RESULTS.md`` (a full run of every benchmark)
or ``var/bench/RESULTS-<mode>.md`` (quick or partial runs), unless ``--out``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys
import time
import traceback
from pathlib import Path
from typing import List

from bot import paths

from .report import Row, machine, render
from .system import System, raise_nofile

BENCHMARKS = ["bot_latency", "relay", "handoff_latency", "idle_connections", "platform"]


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="fewer samples; no training or install timing")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME",
                        help=f"run only these ({', '.join(BENCHMARKS)})")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the gateways while measured (var/bench/profile-*.txt, summarised)")
    parser.add_argument("--out", type=Path, help="where to write the table")
    args = parser.parse_args(argv)
    names = args.only or BENCHMARKS
    full = not args.quick and names == BENCHMARKS
    mode = ("quick" if args.quick else "full") + ("" if names == BENCHMARKS else ", only " + " ".join(names))
    out = args.out or (paths.ROOT / "bench" / "RESULTS.md" if full else
                       paths.VAR / "bench" / f"RESULTS-{'quick' if args.quick else 'partial'}.md")
    raise_nofile()
    started_at = dt.datetime.now(dt.timezone.utc)
    started = time.monotonic()
    machine_line = machine()
    print(f"machine: {machine_line}", flush=True)
    rows: List[Row] = []
    errors: List[str] = []
    with System(quick=args.quick, profile=args.profile) as system:
        for name in names:
            print(f"== {name}", flush=True)
            t0 = time.monotonic()
            try:
                module = importlib.import_module(f"bench.{name}")
                rows += module.run(system, args.quick)
            except KeyboardInterrupt:
                errors.append(f"{name}: interrupted")
                break
            except Exception as exc:
                traceback.print_exc()
                errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            print(f"   ({time.monotonic() - t0:.0f} s)", flush=True)
        profiles = list(system.profiles)
    command = (" --quick" if args.quick else "") + (" --only " + " ".join(names) if args.only else "")
    text = render(rows, started_at, machine_line, mode, time.monotonic() - started, errors, command)
    print()
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"written to {out}")
    if profiles:
        from .profile import report

        for path in profiles:
            print(report(path, 20))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
