"""The operations routes of the gateway's HTTP port: reports for supervisors, metrics.

* ``GET /api/reports?from=YYYY-MM-DD&to=YYYY-MM-DD`` -> the report of those
  days (team timezone, both included; :mod:`handoff.ops.reports`) as JSON;
  ``GET /api/reports.csv?from=&to=`` -> the same figures as one CSV table.
  ``Authorization: Bearer <agent token>`` of a supervisor (the token of
  ``POST /api/login``; the role is read from ``agents.role`` at each request,
  :mod:`handoff.ops.roles`): 401 without a valid token, 403 for an agent,
  400 for a bad range (the body says which).
* ``GET /api/missed?from=&to=[&limit=20]`` (supervisors too) -> what the
  assistant did not understand in those days, grouped by wording, largest
  groups first, personal data masked (:mod:`handoff.ops.missed`);
* ``GET /console/reports`` -> ``widget/reports.html``, the supervisors' page
  (it signs in and asks the API; an agent's token gets the 403).
* ``GET /metrics`` -> Prometheus text (:mod:`handoff.metrics`) with
  ``Authorization: Bearer $KARA_GATEWAY_METRICS_TOKEN`` (compared in constant
  time); 404 when the gateway has no metrics token (not exposed at all), 401
  for a wrong or missing one.

The reports read the transcript database with the synchronous engine of
:mod:`handoff.ops.db` in a worker thread (``asyncio.to_thread``): the event
loop never waits on SQL. :meth:`OpsRoutes.respond` answers with
``(status, [(header, value)...], body)``, no web library's types, and None
for every path that is not its own.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import http
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

from ..auth import AGENT as AGENT_TOKEN
from ..http_answers import NO_STORE, Answer, bearer
from ..http_answers import error as _error
from ..http_answers import json_answer as _json
from ..http_answers import page as page_answer
from . import db, missed, report_render, reports
from .roles import SUPERVISOR, role_of
from .settings import Ops, load_ops
from .sqlstats import Stats

if TYPE_CHECKING:
    from ..service import Gateway


REPORTS, REPORTS_CSV, MISSED = "/api/reports", "/api/reports.csv", "/api/missed"
PAGE, METRICS = "/console/reports", "/metrics"
MISSED_GROUPS = 20  # the largest groups shown by default, as the ``missed`` command
PAGE_FILE = "reports.html"
#: the longest range one request may ask for (a year and a day: a leap year)
MAX_DAYS = 366


def _day(query: Dict[str, List[str]], name: str) -> dt.date:
    values = query.get(name)
    if not values or len(values) != 1:
        raise ValueError(f"give {name}=YYYY-MM-DD once")
    try:
        return dt.date.fromisoformat(values[0])
    except ValueError:
        raise ValueError(f"{name}={values[0]!r} is not a day (YYYY-MM-DD)") from None


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return None if value is None else value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _stats(value: Stats) -> Dict[str, Any]:
    return {"n": value.n, "mean": value.mean, "p50": value.p50, "p95": value.p95}


def _figures(fig: reports.Figures) -> Dict[str, Any]:
    return {
        "requests": fig.requests,
        "claimed": fig.claimed,
        "first_response_s": _stats(fig.first_response),
        "wait_s": _stats(fig.wait),
        "handle_s": _stats(fig.handle),
        "transfers": fig.transfers,
        "hand_backs": fig.handbacks,
        "csat": {"n": fig.csat.n, "mean": fig.csat.mean,
                 "distribution": {str(score): fig.csat.distribution.get(score, 0) for score in range(1, 6)}},
        "sla": {"met": fig.sla_met, "breached": fig.sla_breached, "share": fig.sla_share},
    }


ALL_KEY = "all"  # the JSON key of the figures over every queue / agent (reports.ALL is "")


def report_json(report: reports.Report, timezone: str) -> Dict[str, Any]:
    """The report as JSON (every time in seconds, every instant ISO 8601 UTC)."""
    def keyed(figures: Dict[str, reports.Figures]) -> Dict[str, Any]:
        return {(name or ALL_KEY): _figures(fig) for name, fig in figures.items()}

    return {
        "period": {"from": report.period.first_day.isoformat(), "to": report.period.last_day.isoformat(),
                   "timezone": timezone, "start": _iso(report.period.start), "end": _iso(report.period.end)},
        "generated_at": _iso(report.generated_at),
        "conversations": report.conversations,
        "by_line": report.by_line,
        "resolved_alone": report.resolved_alone,
        "resolved_alone_share": report.resolved_alone_share,
        "handed_off": report.handed_off,
        "handoff_rate": report.handoff_rate,
        "handoffs": [{"queue": queue, "reason": reason, "requests": n}
                     for (queue, reason), n in sorted(report.handoffs.items())],
        "queues": keyed(report.queues),
        "agents": keyed(report.agents),
        "targets_s": report.targets,
        "breaches": [{"conversation_id": b.conversation_id, "queue": b.queue, "asked_at": _iso(b.asked_at),
                      "deadline": _iso(b.deadline), "answered_at": _iso(b.answered_at)} for b in report.breaches],
        "comments": [{"conversation_id": c.conversation_id, "queue": c.queue, "agent": c.agent, "score": c.score,
                      "text": c.text} for c in report.comments],
        "tickets": {(queue or ALL_KEY): n for queue, n in report.tickets.items()},
        "tickets_answered": None if report.tickets_answered is None
        else {(queue or ALL_KEY): n for queue, n in report.tickets_answered.items()},
        "ticket_answer_s": {(queue or ALL_KEY): _stats(v) for queue, v in report.ticket_answer.items()},
    }


class OpsRoutes:
    """The routes of the module docs, for one gateway."""

    def __init__(self, gateway: "Gateway", ops: Optional[Ops] = None) -> None:
        config = gateway.config
        self.gateway = gateway
        self.ops = ops or load_ops()
        self.page = Path(config.widget_dir) / PAGE_FILE
        self.metrics_token: Optional[str] = getattr(config, "metrics_token", None) or None
        self.engine = db.engine(config.db_url)  # reports and roles, from worker threads

    def close(self) -> None:
        self.engine.dispose()

    async def respond(self, method: str, raw_path: str, headers: Any, body: Optional[bytes] = None) -> Optional[Answer]:
        path, _, query = raw_path.partition("?")
        if path not in (REPORTS, REPORTS_CSV, MISSED, PAGE, METRICS):
            return None
        if path == METRICS and not self.metrics_token:
            return http.HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain; charset=utf-8")], b"Not found.\n"
        if method != "GET":
            return _error(http.HTTPStatus.METHOD_NOT_ALLOWED, "use GET", ("Allow", "GET"))
        if path == METRICS:
            return await self._metrics(headers)
        if path == PAGE:
            return self._page()
        refused = await self._refused(headers)
        if refused is not None:
            return refused
        if path == MISSED:
            return await self._missed(parse_qs(query, keep_blank_values=True))
        return await self._report(parse_qs(query, keep_blank_values=True), csv=path == REPORTS_CSV)

    async def _refused(self, headers: Any) -> Optional[Answer]:
        """None for a supervisor; the 401 / 403 answer otherwise."""
        token = bearer(headers)
        claims = self.gateway.signer.verify(token, AGENT_TOKEN) if token else None
        role = None
        if claims is not None and claims.subject.isdigit():
            role = await asyncio.to_thread(role_of, self.engine, int(claims.subject))
        if role is None:
            return _error(http.HTTPStatus.UNAUTHORIZED, "sign in: send Authorization: Bearer <token of /api/login>",
                          ("WWW-Authenticate", 'Bearer realm="kara"'))
        if role != SUPERVISOR:
            return _error(http.HTTPStatus.FORBIDDEN, "reports are for supervisors")
        return None

    def _period(self, query: Dict[str, List[str]]) -> reports.Period:
        """The days asked for; ValueError says what is wrong with them."""
        first, last = _day(query, "from"), _day(query, "to")
        period = reports.period(self.ops, first, last)
        if (last - first).days + 1 > MAX_DAYS:
            raise ValueError(f"ask for at most {MAX_DAYS} days at a time")
        return period

    async def _report(self, query: Dict[str, List[str]], *, csv: bool) -> Answer:
        try:
            period = self._period(query)
        except ValueError as exc:
            return _error(http.HTTPStatus.BAD_REQUEST, str(exc))
        first, last = period.first_day, period.last_day
        report = await asyncio.to_thread(self._build, period)
        if not csv:
            return _json(http.HTTPStatus.OK, report_json(report, self.ops.team.zone.key))
        name = f"kara-report-{first.isoformat()}-{last.isoformat()}.csv"
        headers = [("Content-Type", "text/csv; charset=utf-8"), NO_STORE,
                   ("Content-Disposition", f'attachment; filename="{name}"')]
        return http.HTTPStatus.OK, headers, report_render.to_csv(report).encode("utf-8")

    async def _missed(self, query: Dict[str, List[str]]) -> Answer:
        """What the assistant did not understand in the period, grouped by wording (:mod:`handoff.ops.missed`)."""
        try:
            period = self._period(query)
            limit = int(query.get("limit", [str(MISSED_GROUPS)])[0])
            if not 1 <= limit <= 1000:
                raise ValueError
        except ValueError as exc:
            return _error(http.HTTPStatus.BAD_REQUEST, str(exc) or "limit: a whole number from 1 to 1000")
        groups, total = await asyncio.to_thread(self._find_missed, period)
        return _json(http.HTTPStatus.OK, {
            "period": {"from": period.first_day.isoformat(), "to": period.last_day.isoformat()},
            "messages": total,
            "groups_found": len(groups),
            "groups": [{"words": g.key, "count": g.count, "examples": g.examples, "conversations": g.conversations,
                        "last_at": _iso(g.last_at)} for g in groups[:limit]],
        })

    def _find_missed(self, period: reports.Period) -> Tuple[List[missed.Group], int]:
        with self.engine.connect() as connection:
            found = missed.find(connection, since=period.start, until=period.end)
        return missed.group(found), len(found)

    def _build(self, period: reports.Period) -> reports.Report:
        with self.engine.connect() as connection:
            return reports.build(connection, self.ops, period)

    def _page(self) -> Answer:
        return page_answer(self.page)

    async def _metrics(self, headers: Any) -> Answer:
        token = bearer(headers) or ""
        assert self.metrics_token is not None
        if not hmac.compare_digest(token.encode("utf-8"), self.metrics_token.encode("utf-8")):
            return _error(http.HTTPStatus.UNAUTHORIZED, "send Authorization: Bearer <metrics token>",
                          ("WWW-Authenticate", 'Bearer realm="kara-metrics"'))
        from ..metrics import CONTENT_TYPE

        body = await self.gateway.metrics.scrape(self.gateway, self.ops)
        return http.HTTPStatus.OK, [("Content-Type", CONTENT_TYPE), NO_STORE], body
