"""The support report (:mod:`handoff.ops.reports`) as text and as CSV.

:func:`render` is what ``python -m handoff report`` prints (times as
``p50 / p95``); :func:`to_csv` the tidy table of ``--csv FILE`` and
``GET /api/reports.csv`` (:data:`CSV_HEADER`, one figure per row, times in
seconds). Only formatting: every figure is computed by :func:`handoff.ops.reports.build`.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from handoff.contract import QUEUES

from .report_figures import Csat, Figures, Report
from .reports import ALL
from .sqlstats import NO_STATS, Stats


def _seconds(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.0f} s"
    return f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.1f} h"


def _share(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _iso(value: Optional[dt.datetime]) -> str:
    return "-" if value is None else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> List[str]:
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]


def _csat(c: Csat) -> str:
    if not c.n:
        return "-"
    spread = " ".join(f"{score}:{c.distribution.get(score, 0)}" for score in range(1, 6))
    return f"{c.mean:.2f} (n={c.n}; {spread})"


def _stats(value: Stats) -> str:
    return "-" if not value.n else f"{_seconds(value.p50)} / {_seconds(value.p95)}"


def render(report: Report) -> str:
    """The report as text for a terminal (times as ``p50 / p95``)."""
    p = report.period
    lines = ", ".join(f"{line} {n}" for line, n in sorted(report.by_line.items()))
    lines = f" ({lines})" if lines else ""
    out = [
        f"Support report {p.first_day} to {p.last_day} (team time; UTC {_iso(p.start)} to {_iso(p.end)})",
        "",
        f"conversations: {report.conversations}" + lines,
        f"resolved by the assistant alone: {report.resolved_alone} ({_share(report.resolved_alone_share)})",
        f"handed to a person: {report.handed_off} ({_share(report.handoff_rate)})",
        "",
        "Handoffs by queue and reason",
    ]
    rows: List[Sequence[Any]] = [
        (queue, reason, n, _share(n / report.conversations if report.conversations else None))
        for (queue, reason), n in sorted(report.handoffs.items())
    ]
    out += _table(("queue", "reason", "handoffs", "per conversation"), rows) if rows else ["(none)"]
    out += ["", "Queues (times p50 / p95)"]
    header = ("queue", "handoffs", "1st response", "wait", "handle", "transfers", "hand-backs",
              "SLA target", "within SLA", "CSAT")
    rows = []
    for queue in (*QUEUES, ALL):
        fig = report.queues.get(queue, Figures())
        target = _seconds(report.targets[queue]) if queue else ""
        within = f"{_share(fig.sla_share)} ({fig.sla_met}/{fig.sla_met + fig.sla_breached})"
        rows.append((queue or "all", fig.requests, _stats(fig.first_response), _stats(fig.wait), _stats(fig.handle),
                     fig.transfers, fig.handbacks, target, within, _csat(fig.csat)))
    out += _table(header, rows)
    out += ["", "Agents (times p50 / p95)"]
    rows = [
        (name or "all", fig.claimed, _stats(fig.handle), fig.transfers, fig.handbacks, _csat(fig.csat))
        for name, fig in sorted(report.agents.items(), key=lambda item: (item[0] == ALL, item[0]))
    ]
    out += _table(("agent", "chats", "handle", "transfers", "hand-backs", "CSAT"), rows)
    out += ["", f"SLA breaches ({len(report.breaches)})"]
    rows = [
        (b.conversation_id, b.queue, _iso(b.asked_at), _iso(b.deadline), _iso(b.answered_at) if b.answered_at
         else "not answered")
        for b in report.breaches
    ]
    out += _table(("conversation", "queue", "asked", "due", "answered"), rows) if rows else ["(none)"]
    out += ["", f"CSAT comments ({len(report.comments)})"]
    out += [f"{c.score}/5 {c.queue} {c.agent} {c.conversation_id}: {c.text}" for c in report.comments] or ["(none)"]
    out += ["", f"Offline tickets: {report.tickets[ALL]} opened"
            + "".join(f", {q} {n}" for q, n in sorted(report.tickets.items()) if q != ALL)]
    if report.tickets_answered is None:
        out.append("  answered / time to answer: not stored (migrate the database: python -m handoff migrate)")
    else:
        out.append(f"  answered: {report.tickets_answered[ALL]}, time to answer "
                   f"{_stats(report.ticket_answer.get(ALL, NO_STATS))}"
                   + "".join(f"; {q} {n}, {_stats(report.ticket_answer.get(q, NO_STATS))}"
                             for q, n in sorted(report.tickets_answered.items()) if q != ALL))
    return "\n".join(out) + "\n"


CSV_HEADER = ("figure", "queue", "agent", "detail", "value")


def csv_rows(report: Report) -> Iterator[Tuple[Any, ...]]:
    """The report as tidy rows (:data:`CSV_HEADER`): one figure per row;
    ``queue`` / ``agent`` empty = over all of them; times in seconds."""
    yield ("conversations", "", "", "", report.conversations)
    for line, n in sorted(report.by_line.items()):
        yield ("conversations", "", "", f"line={line}", n)
    yield ("resolved_by_assistant_alone", "", "", "", report.resolved_alone)
    yield ("resolved_by_assistant_alone_share", "", "", "", report.resolved_alone_share)
    yield ("handed_off", "", "", "", report.handed_off)
    yield ("handoff_rate", "", "", "", report.handoff_rate)
    for (queue, reason), n in sorted(report.handoffs.items()):
        yield ("handoffs", queue, "", f"reason={reason}", n)

    def figures(fig: Figures, queue: str, agent: str) -> Iterator[Tuple[Any, ...]]:
        for name, value in (("first_response_s", fig.first_response), ("wait_s", fig.wait), ("handle_s", fig.handle)):
            if value.n:
                for part in ("n", "mean", "p50", "p95"):
                    yield (f"{name}_{part}" if part != "n" else f"{name}_count", queue, agent, "",
                           getattr(value, part))
        yield ("transfers", queue, agent, "", fig.transfers)
        yield ("hand_backs", queue, agent, "", fig.handbacks)
        if fig.csat.n:
            yield ("csat_mean", queue, agent, "", fig.csat.mean)
            for score in range(1, 6):
                yield ("csat_ratings", queue, agent, f"score={score}", fig.csat.distribution.get(score, 0))

    for queue in (*QUEUES, ALL):
        fig = report.queues.get(queue, Figures())
        yield ("handoffs", queue, "", "", fig.requests)
        yield ("chats_claimed", queue, "", "", fig.claimed)
        yield from figures(fig, queue, "")
        if queue:
            yield ("sla_target_s", queue, "", "", report.targets[queue])
        yield ("sla_within_target", queue, "", "", fig.sla_met)
        yield ("sla_breached", queue, "", "", fig.sla_breached)
        yield ("sla_within_share", queue, "", "", fig.sla_share)
    for name, fig in sorted(report.agents.items()):
        if name:
            yield ("chats_claimed", "", name, "", fig.claimed)
            yield from figures(fig, "", name)
    for b in report.breaches:
        yield ("sla_breach", b.queue, "", f"conversation={b.conversation_id}",
               _iso(b.answered_at) if b.answered_at else "not answered")
    for c in report.comments:
        yield ("csat_comment", c.queue, c.agent, f"conversation={c.conversation_id} score={c.score}", c.text)
    for queue, n in sorted(report.tickets.items()):
        yield ("tickets_opened", queue, "", "", n)
    for queue, n in sorted((report.tickets_answered or {}).items()):
        yield ("tickets_answered", queue, "", "", n)
    for queue, value in sorted(report.ticket_answer.items()):
        for part in ("n", "mean", "p50", "p95"):
            yield ("ticket_answer_s_" + ("count" if part == "n" else part), queue, "", "", getattr(value, part))


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in csv_rows(report):
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()
