"""SQL building blocks of the reports: durations and percentiles, the same
answer on PostgreSQL and SQLite.

* :class:`seconds_between` is ``end - start`` in seconds rounded to the
  millisecond (PostgreSQL ``EXTRACT(EPOCH FROM ...)``, SQLite ``julianday``
  differences, whose float error is far below a millisecond). Rounding makes
  both engines start from the same numbers.
* :func:`stats` gives, per group, the count, the mean and the 50th and 95th
  percentiles by linear interpolation between the closest ranks. PostgreSQL
  computes them with ``percentile_cont``. SQLite has no percentile function,
  so the same definition is written out in SQL with window functions: the
  values of a group ranked 0..n-1, ``pos = p * (n - 1)``, ``lo = floor(pos)``,
  ``hi = ceil(pos)``, value ``x[lo] + (x[hi] - x[lo]) * (pos - lo)``: exactly
  what PostgreSQL's ``percentile_cont`` does (``orderedsetaggs.c``). The tests
  check both engines against hand-computed figures.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import Float, Integer, case, cast, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Select
from sqlalchemy.sql.functions import FunctionElement

PERCENTILES = (0.5, 0.95)


class seconds_between(FunctionElement):  # type: ignore[type-arg]  # noqa: N801 (an SQL function)
    """``seconds_between(start, end)``: ``end - start`` in seconds, to the millisecond."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


def _operands(element: Any, compiler: Any, kw: Any) -> Tuple[str, str]:
    start, end = list(element.clauses)
    return compiler.process(start, **kw), compiler.process(end, **kw)


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = _operands(element, compiler, kw)
    return f"ROUND(CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS NUMERIC), 3)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = _operands(element, compiler, kw)
    return f"ROUND((julianday({end}) - julianday({start})) * 86400.0, 3)"


@dataclass(frozen=True)
class Stats:
    """Count, mean and percentiles of one group's values (seconds)."""

    n: int
    mean: Optional[float]
    p50: Optional[float]
    p95: Optional[float]


NO_STATS = Stats(0, None, None, None)


def _number(value: Any) -> Optional[float]:
    return None if value is None else round(float(value), 3)


def stats(connection: Connection, values: Select[Any], keys: Sequence[str] = ()) -> Dict[Tuple[Any, ...], Stats]:
    """Per group of ``keys`` (columns of ``values``), the :class:`Stats` of its
    column ``x``; groups without values are absent. ``()`` keys: one group."""
    sub = values.subquery()
    group = [sub.c[k] for k in keys]
    if connection.dialect.name == "postgresql":
        query = select(
            *group,
            func.count(sub.c.x),
            func.avg(sub.c.x),
            *[func.percentile_cont(p).within_group(sub.c.x) for p in PERCENTILES],
        ).where(sub.c.x.isnot(None)).group_by(*group)
    else:
        query = _interpolated(sub, group)
    found: Dict[Tuple[Any, ...], Stats] = {}
    for row in connection.execute(query):
        *key, n, mean, p50, p95 = row
        if n:
            found[tuple(key)] = Stats(int(n), _number(mean), _number(p50), _number(p95))
    return found


def _interpolated(sub: Any, group: Sequence[Any]) -> Select[Any]:
    """``percentile_cont`` written out with window functions (see module docs)."""
    ranked = (
        select(
            *group,
            sub.c.x,
            (func.row_number().over(partition_by=group or None, order_by=sub.c.x) - 1).label("i"),
            func.count().over(partition_by=group or None).label("n"),
        )
        .where(sub.c.x.isnot(None))
        .subquery()
    )
    keys = [ranked.c[column.key] for column in group]
    picks = []
    for j, p in enumerate(PERCENTILES):
        pos = literal(p, Float) * (ranked.c.n - 1)
        lo = cast(pos, Integer)  # pos >= 0: truncation is floor
        hi = case((pos > lo, lo + 1), else_=lo)
        picks += [
            func.max(case((ranked.c.i == lo, ranked.c.x))).label(f"lo{j}"),
            func.max(case((ranked.c.i == hi, ranked.c.x))).label(f"hi{j}"),
            func.max(pos - lo).label(f"f{j}"),
        ]
    per_group = (
        select(*keys, func.count().label("n"), func.avg(ranked.c.x).label("mean"), *picks)
        .group_by(*keys)
        .subquery()
    )
    result: List[Any] = [per_group.c[k.key] for k in keys]
    result += [per_group.c.n, per_group.c.mean]
    for j in range(len(PERCENTILES)):
        lo_v, hi_v, f = per_group.c[f"lo{j}"], per_group.c[f"hi{j}"], per_group.c[f"f{j}"]
        result.append(lo_v + (hi_v - lo_v) * f)
    return select(*result)
