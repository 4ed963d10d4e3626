"""``python -m handoff report | missed | retention``: the operations commands.

* ``report --from DAY --to DAY [--csv FILE]``: support figures over those
  days (team timezone, both included; :mod:`handoff.ops.reports`), as text;
  ``--csv`` also writes them as one tidy CSV table.
* ``missed [--from DAY] [--to DAY] [--limit N]``: what the assistant did not
  understand, grouped by wording, largest groups first (default 20).
* ``retention [--days N] [--dry-run]``: anonymise transcripts with no message
  for N days (default ``ops.yml``), for cron; ``--dry-run`` only counts.

Each takes ``--db-url`` (default ``KARA_GATEWAY_DB_URL``, as the gateway) and
``--ops FILE`` (default ``KARA_OPS_FILE`` or ``ops.yml``). Exit status: 0
done, 1 the database cannot be read (not migrated, unreachable), 2 bad input
(a date, a period that ends before it starts, a broken ``ops.yml``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Callable, Dict, List, Optional

from sqlalchemy.exc import DBAPIError

COMMANDS = ("report", "missed", "retention")


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _days(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days above 0")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m handoff", description="Kara Support Chat operations")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="support figures over a period")
    report.add_argument("--from", dest="first", type=_day, required=True, metavar="DAY")
    report.add_argument("--to", dest="last", type=_day, required=True, metavar="DAY")
    report.add_argument("--csv", metavar="FILE", help="also write the figures as CSV here")
    missed = commands.add_parser("missed", help="what the assistant did not understand")
    missed.add_argument("--from", dest="first", type=_day, metavar="DAY")
    missed.add_argument("--to", dest="last", type=_day, metavar="DAY")
    missed.add_argument("--limit", type=_days, default=20, metavar="N", help="groups shown (default 20)")
    retention = commands.add_parser("retention", help="anonymise old transcripts (cron)")
    retention.add_argument("--days", type=_days, metavar="N", help="default: retention.transcript_days of ops.yml")
    retention.add_argument("--dry-run", action="store_true", help="count only, change nothing")
    for sub in (report, missed, retention):
        sub.add_argument("--db-url")
        sub.add_argument("--ops", metavar="FILE", help="operations settings (default ops.yml)")
    return parser


def _report(args: argparse.Namespace, url: str) -> int:
    from . import db, report_render, reports
    from .settings import load_ops

    ops = load_ops(args.ops)
    try:
        period = reports.period(ops, args.first, args.last)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    engine = db.engine(url)
    try:
        with engine.connect() as connection:
            report = reports.build(connection, ops, period)
    finally:
        engine.dispose()
    sys.stdout.write(report_render.render(report))
    if args.csv:
        with open(args.csv, "w", encoding="utf-8", newline="") as out:
            out.write(report_render.to_csv(report))
        print(f"CSV written to {args.csv}")
    return 0


def _missed(args: argparse.Namespace, url: str) -> int:
    from . import db, missed
    from .reports import period
    from .settings import load_ops

    ops = load_ops(args.ops)
    if args.first and args.last and args.last < args.first:
        print(f"the period ends ({args.last}) before it starts ({args.first})", file=sys.stderr)
        return 2
    since = period(ops, args.first, args.first).start if args.first else None
    until = period(ops, args.last, args.last).end if args.last else None
    engine = db.engine(url)
    try:
        with engine.connect() as connection:
            found = missed.find(connection, since=since, until=until)
    finally:
        engine.dispose()
    sys.stdout.write(missed.render(missed.group(found), args.limit))
    return 0


def _retention(args: argparse.Namespace, url: str) -> int:
    from . import db, retention
    from .settings import load_ops

    days = args.days or load_ops(args.ops).transcript_days
    engine = db.engine(url)
    try:
        outcome = retention.apply(engine, days, dry_run=args.dry_run, erase_trackers=retention.tracker_eraser())
    finally:
        engine.dispose()
    print(outcome.sentence(days))
    return 0


HANDLERS: Dict[str, Callable[[argparse.Namespace, str], int]] = {
    "report": _report, "missed": _missed, "retention": _retention,
}


def main(argv: Optional[List[str]] = None) -> Optional[int]:
    """Run an operations command; None when ``argv`` is not one (another
    command of ``python -m handoff``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        return None
    args = _parser().parse_args(argv)
    from .settings import OpsError

    if args.db_url:
        url = args.db_url
    else:
        from handoff.config import GatewayConfig

        url = GatewayConfig.from_env().db_url
    try:
        return HANDLERS[args.command](args, url)
    except OpsError as exc:
        print(f"ops settings: {exc}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        where = url.split("@")[-1]
        print(f"cannot read the transcript database at {where} ({type(exc.orig).__name__}); "
              "is it migrated (python -m handoff migrate) and reachable?", file=sys.stderr)
        return 1
