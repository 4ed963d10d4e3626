"""Summarise py-spy's raw (collapsed) profiles: which functions hold the samples.

    .venv/bin/python -m bench.profile var/bench/profile-relay-relay-1.txt [--top 25]

Each line of py-spy's ``--format raw`` output is ``frame;frame;...;leaf COUNT``
with frames ``function (file:line)``. Printed: the share of samples in which a
function is on the stack (inclusive) and at the top (self). py-spy leaves out
idle samples by default, so shares are of the time the process was busy.
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import List, Tuple



def _name(frame: str) -> str:
    # "send (websockets/legacy/protocol.py:635)" -> "send (websockets/legacy/protocol.py)"
    frame = frame.strip()
    if frame.endswith(")") and "(" in frame:
        head, _, where = frame.rpartition(" (")
        where = where[:-1].rsplit(":", 1)[0]
        for cut in ("site-packages/", "lib/python3.10/", "/work/main/"):
            if cut in where:
                where = where.split(cut, 1)[1]
        return f"{head} ({where})"
    return frame


def load(path: Path) -> Tuple[Counter, Counter, int]:
    inclusive: Counter = Counter()
    leaf: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";") if f]
        for name in set(frames):
            inclusive[name] += n
        if frames:
            leaf[frames[-1]] += n
    return inclusive, leaf, total


def report(path: Path, top: int = 25) -> str:
    inclusive, leaf, total = load(path)
    if not total:
        return f"{path}: no samples"
    lines: List[str] = [f"{path.name}: {total} busy samples", "  inclusive:"]
    for name, n in inclusive.most_common(top):
        lines.append(f"    {n / total:6.1%}  {name}")
    lines.append("  self:")
    for name, n in leaf.most_common(top):
        lines.append(f"    {n / total:6.1%}  {name}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.files:
        print(report(path, args.top))


if __name__ == "__main__":
    main()
