"""``python -m bench.compare --old DIR [--quick] [--only NAME ...]``: two
gateways in one interleaved run.

The gateway of this tree (its own environment, ``.venv-gateway``) against an
older one: ``DIR`` is a checkout of it (``git archive COMMIT | tar -x -C DIR``)
run by ``--old-python`` (default: the assistant's ``.venv``, where the gateway
ran before it had an environment of its own). Each benchmark runs old, new,
new, old (A-B-B-A: a drift of this shared machine falls on both alike) on the
same assistant, PostgreSQL and Redis; the table has one column per run.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bot import paths
from bot.processes import GATEWAY_PYTHON

from .report import Row
from .system import PYTHON, System, raise_nofile

BENCHMARKS = ["relay", "bot_latency", "handoff_latency", "idle_connections"]
ORDER = ("old", "new", "new", "old")


def _table(names: List[str], runs: Dict[str, List[List[Row]]]) -> str:
    runs_head = " | ".join(f"{side} ({i + 1})" for i, side in enumerate(ORDER))
    lines = [f"| benchmark | metric | {runs_head} | target |",
             "| --- | --- | " + " | ".join("---" for _ in ORDER) + " | --- |"]
    for name in names:
        columns = runs.get(name, [])
        metrics: List[str] = []
        for rows in columns:
            metrics += [row.metric for row in rows if row.metric not in metrics]
        for metric in metrics:
            cells: List[str] = []
            target = ""
            for rows in columns:
                row: Optional[Row] = next((r for r in rows if r.metric == metric), None)
                cells.append(row.value if row else "")
                target = target or (row.target if row else "")
            lines.append(f"| {name} | {metric} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[1])
    parser.add_argument("--old", type=Path, required=True, help="a checkout of the older gateway")
    parser.add_argument("--old-python", default=PYTHON)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME")
    parser.add_argument("--out", type=Path, default=paths.VAR / "bench" / "COMPARE.md")
    args = parser.parse_args(argv)
    sides: Dict[str, Tuple[str, Path]] = {"old": (args.old_python, args.old.resolve()),
                                          "new": (str(GATEWAY_PYTHON), paths.ROOT)}
    names = args.only or BENCHMARKS
    raise_nofile()
    runs: Dict[str, List[List[Row]]] = {}
    with System(quick=args.quick) as system:
        for name in names:
            module = importlib.import_module(f"bench.{name}")
            for side in ORDER:
                system.gateway_python, system.gateway_root = sides[side]
                print(f"== {name}: {side} gateway", flush=True)
                started = time.monotonic()
                runs.setdefault(name, []).append(module.run(system, args.quick))
                print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
                for gateway in system.gateways:  # the next run starts its own
                    gateway.stop()
                system.gateways.clear()
    text = _table(names, runs)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
