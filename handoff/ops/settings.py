"""Operations settings, read from ``ops.yml`` (one place, like ``policy.yml``).

``ops.yml`` at the repository root (``KARA_OPS_FILE`` overrides the path)
holds the team hours and their timezone, the days nobody is on duty, each
queue's first-response target and open hours, when a claimed chat whose
agent has gone quiet is flagged and returned to the queue
(``agent_silence``, optional: defaults :data:`SILENCE_FLAG_S` and
:data:`SILENCE_REQUEUE_S`), and the retention period. A
broken file raises :class:`OpsError` when it is read, with the key at fault,
so a gateway or a cron job stops at start instead of computing with a guess.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from handoff.contract import QUEUES

DEFAULT_OPS_FILE = Path(__file__).resolve().parents[2] / "ops.yml"
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ALWAYS = "always"
#: ``agent_silence`` defaults: flag after 3 minutes, back to the queue after 10
SILENCE_FLAG_S = 180
SILENCE_REQUEUE_S = 600


class OpsError(ValueError):
    """``ops.yml`` is missing a setting or holds one in the wrong shape."""


@dataclass(frozen=True)
class Schedule:
    """When people are on duty: per weekday (0 = Monday) an opening and
    closing wall-clock time in ``zone``, or None (closed); ``always`` = 24/7."""

    zone: ZoneInfo
    days: Tuple[Optional[Tuple[dt.time, dt.time]], ...]
    closed_dates: FrozenSet[dt.date] = frozenset()
    always: bool = False


@dataclass(frozen=True)
class QueueSettings:
    name: str
    first_response_s: int
    schedule: Schedule


@dataclass(frozen=True)
class Ops:
    team: Schedule
    queues: Mapping[str, QueueSettings]
    transcript_days: int
    #: a claimed chat whose agent owes the shopper an answer this long is flagged
    silence_flag_s: int = SILENCE_FLAG_S
    #: ... and returned to the front of its queue after this long; None: never
    silence_requeue_s: Optional[int] = SILENCE_REQUEUE_S

    def queue(self, name: str) -> QueueSettings:
        """A queue's settings; an unknown queue (a newer assistant's) is ``general``."""
        return self.queues.get(name) or self.queues["general"]


def _clock(value: Any, where: str) -> dt.time:
    try:
        hours, minutes = str(value).split(":")
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise OpsError(f"{where}: {value!r} is not a time like 09:30") from None


def _day(value: Any, where: str) -> Optional[Tuple[dt.time, dt.time]]:
    if value in (None, "closed"):
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise OpsError(f"{where}: give [opening, closing] like [\"10:00\", \"19:00\"], or closed")
    opening, closing = _clock(value[0], where), _clock(value[1], where)
    if closing <= opening:
        raise OpsError(f"{where}: closing {value[1]} is not after opening {value[0]}")
    return opening, closing


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise OpsError(f"{where}: {value!r} is not a whole number above 0")
    return value


def parse(raw: Mapping[str, Any]) -> Ops:
    """The settings of one ``ops.yml`` document (see module docs)."""
    try:
        zone = ZoneInfo(str(raw.get("timezone")))
    except (ZoneInfoNotFoundError, ValueError):
        raise OpsError(f"timezone: {raw.get('timezone')!r} is not a known zone like Africa/Lagos") from None
    hours = raw.get("team_hours")
    if not isinstance(hours, Mapping) or set(hours) - set(DAY_NAMES):
        raise OpsError(f"team_hours: give some of {', '.join(DAY_NAMES)}")
    days = tuple(_day(hours.get(name), f"team_hours.{name}") for name in DAY_NAMES)
    if not any(days):
        raise OpsError("team_hours: every day is closed; mark a queue 'hours: always' to staff it around the clock")
    try:
        closed = frozenset(dt.date.fromisoformat(str(d)) for d in raw.get("closed_dates") or [])
    except ValueError as exc:
        raise OpsError(f"closed_dates: {exc}") from None
    team = Schedule(zone, days, closed)
    queues: Dict[str, QueueSettings] = {}
    given = raw.get("queues") or {}
    for name in QUEUES:
        entry = given.get(name)
        if not isinstance(entry, Mapping):
            raise OpsError(f"queues.{name}: missing (every queue needs first_response_s)")
        always = entry.get("hours", "team") == ALWAYS
        schedule = Schedule(zone, days, frozenset(), always=True) if always else team
        target = _positive_int(entry.get("first_response_s"), f"queues.{name}.first_response_s")
        queues[name] = QueueSettings(name, target, schedule)
    unknown = set(given) - set(QUEUES)
    if unknown:
        raise OpsError(f"queues: unknown {', '.join(sorted(unknown))} (queues are {', '.join(QUEUES)})")
    retention = raw.get("retention") or {}
    days_kept = _positive_int(retention.get("transcript_days"), "retention.transcript_days")
    return Ops(team, queues, days_kept, *_silence(raw.get("agent_silence")))


def _silence(raw: Any) -> Tuple[int, Optional[int]]:
    """``agent_silence: {flag_after_s, requeue_after_s}``; requeue ``off`` (or
    false / null) never returns a chat to the queue by itself."""
    if raw is None:
        return SILENCE_FLAG_S, SILENCE_REQUEUE_S
    if not isinstance(raw, Mapping):
        raise OpsError("agent_silence: give flag_after_s and requeue_after_s")
    flag = _positive_int(raw.get("flag_after_s", SILENCE_FLAG_S), "agent_silence.flag_after_s")
    value = raw.get("requeue_after_s", SILENCE_REQUEUE_S)
    if value in (None, False, "off"):
        return flag, None
    requeue = _positive_int(value, "agent_silence.requeue_after_s")
    if requeue < flag:
        raise OpsError(f"agent_silence.requeue_after_s: {requeue} is before flag_after_s {flag}")
    return flag, requeue


@lru_cache(maxsize=8)
def _load(path: str) -> Ops:
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except OSError as exc:
        raise OpsError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(raw, Mapping):
        raise OpsError(f"{path} is not a mapping of settings")
    return parse(raw)


def load_ops(path: Optional[str] = None) -> Ops:
    """The settings in ``path``, else ``$KARA_OPS_FILE``, else ``ops.yml`` (read once per path)."""
    return _load(str(path or os.environ.get("KARA_OPS_FILE") or DEFAULT_OPS_FILE))
