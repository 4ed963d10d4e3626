"""Policy facts for the actions, read from ``policy.yml``.

``policy.yml`` is the single source of truth for every fact the assistant
states (emails, phone number, hours, response windows). Actions must never
write such a fact literally: they take it from :func:`load_policy` (typed
accessors, e.g. the refund window as numbers) or from :func:`template_vars`
(the strings the responses use as ``{placeholders}``, one per policy fact
slot listed in ``docs/architecture.md``).

The file is found through the environment variable ``KARA_POLICY_FILE``
(default: ``policy.yml`` at the repository root) and read once per path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_FILE = REPO_ROOT / "policy.yml"

UNIT_HOURS = "hours"
UNIT_BUSINESS_DAYS = "business days"
_UNITS = (UNIT_HOURS, UNIT_BUSINESS_DAYS)

WEEKDAY_NAMES = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)

#: Policy fact slot -> key under ``mailboxes`` in ``policy.yml``.
EMAIL_SLOTS: Mapping[str, str] = {
    "support_email": "support",
    "vendor_support_email": "vendor_support",
    "provider_support_email": "provider_support",
    "security_email": "security",
    "tech_support_email": "tech_support",
}

#: Policy fact slot -> key under ``windows`` in ``policy.yml``.
WINDOW_SLOTS: Mapping[str, str] = {
    "general_response_time": "general_response",
    "order_resolution_time": "order_resolution",
    "refund_processing_time": "refund_processing",
    "dispute_mediation_time": "dispute_mediation",
    "complaint_mediation_time": "complaint_mediation",
    "vendor_evidence_deadline": "vendor_evidence",
    "critical_bug_fix_time": "critical_bug_fix",
    "noncritical_bug_fix_time": "noncritical_bug_fix",
}

#: Every policy fact slot, in the order of ``docs/architecture.md``.
POLICY_SLOTS: Tuple[str, ...] = (
    "company_name",
    "company_address",
    "support_email",
    "vendor_support_email",
    "provider_support_email",
    "security_email",
    "tech_support_email",
    "phone",
    "phone_hours",
    "always_open",
    "general_response_time",
    "order_resolution_time",
    "refund_processing_time",
    "dispute_mediation_time",
    "complaint_mediation_time",
    "vendor_evidence_deadline",
    "critical_bug_fix_time",
    "noncritical_bug_fix_time",
    "policy_change_notice",
    "emergency_number",
    "emergency_number_lagos",
)


class PolicyError(ValueError):
    """``policy.yml`` is missing a fact or holds one in the wrong shape.

    Raised at load time so a broken policy stops the action server at start
    instead of producing a half-filled answer to a shopper.
    """


@dataclass(frozen=True)
class Window:
    """A response or processing window such as "7-10 business days".

    ``minimum`` is None for a plain deadline ("within 5 business days").
    """

    minimum: Optional[int]
    maximum: int
    unit: str

    @property
    def is_business_days(self) -> bool:
        return self.unit == UNIT_BUSINESS_DAYS

    @property
    def first(self) -> int:
        """Earliest point of the window (the maximum for a plain deadline)."""
        return self.maximum if self.minimum is None else self.minimum

    def text(self) -> str:
        """The window as the responses say it: ``7-10 business days``."""
        unit = self.unit
        if self.minimum is None or self.minimum == self.maximum:
            if self.maximum == 1:
                unit = unit[:-1]  # "1 business day", "1 hour"
            return f"{self.maximum} {unit}"
        return f"{self.minimum}-{self.maximum} {unit}"


@dataclass(frozen=True)
class PhoneHours:
    """When the phone line is staffed, in GMT."""

    open: time
    close: time
    days: Tuple[int, ...]  # weekday numbers, Monday == 0

    def is_open(self, at: datetime) -> bool:
        """Whether the line is staffed at ``at`` (aware, or naive meaning GMT)."""
        gmt = to_gmt(at)
        return gmt.weekday() in self.days and self.open <= gmt.time() < self.close


@dataclass(frozen=True)
class Policy:
    """Every policy fact, typed. Build it with :func:`load_policy`."""

    company_name: str
    company_address: str
    email_domain: str
    mailboxes: Mapping[str, str]
    phone: str
    phone_hours: PhoneHours
    local_timezone_name: str
    local_utc_offset_hours: int
    always_open: str
    windows: Mapping[str, Window]
    policy_change_notice: str
    emergency_number: str
    emergency_number_lagos: str

    def email(self, mailbox: str) -> str:
        """Full address of a mailbox key, e.g. ``support`` -> ``support@<domain>``."""
        return f"{self.mailboxes[mailbox]}@{self.email_domain}"

    def window(self, name: str) -> Window:
        return self.windows[name]

    @property
    def local_timezone(self) -> timezone:
        """Lagos time as a fixed offset (WAT has no daylight saving)."""
        return timezone(timedelta(hours=self.local_utc_offset_hours), self.local_timezone_name)

    def phone_hours_text(self) -> str:
        """``9 AM-6 PM GMT (10 AM-7 PM Lagos time), Monday to Friday``."""
        offset = timedelta(hours=self.local_utc_offset_hours)
        local_open = _shift(self.phone_hours.open, offset)
        local_close = _shift(self.phone_hours.close, offset)
        return (
            f"{format_clock(self.phone_hours.open)}-{format_clock(self.phone_hours.close)} GMT "
            f"({format_clock(local_open)}-{format_clock(local_close)} {self.local_timezone_name}), "
            f"{format_days(self.phone_hours.days)}"
        )

    def template_vars(self) -> Dict[str, str]:
        """One string per policy fact slot; keys are exactly :data:`POLICY_SLOTS`."""
        values: Dict[str, str] = {
            "company_name": self.company_name,
            "company_address": self.company_address,
            "phone": self.phone,
            "phone_hours": self.phone_hours_text(),
            "always_open": self.always_open,
            "policy_change_notice": self.policy_change_notice,
            "emergency_number": self.emergency_number,
            "emergency_number_lagos": self.emergency_number_lagos,
        }
        for slot, mailbox in EMAIL_SLOTS.items():
            values[slot] = self.email(mailbox)
        for slot, window in WINDOW_SLOTS.items():
            values[slot] = self.window(window).text()
        return {slot: values[slot] for slot in POLICY_SLOTS}


def to_gmt(at: datetime) -> datetime:
    """``at`` in GMT; a naive datetime is taken to be GMT already."""
    if at.tzinfo is None:
        return at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc)


def format_clock(value: time) -> str:
    """``9 AM``, ``6 PM``, ``9:30 AM``, ``12 PM`` (noon): how people write hours."""
    suffix = "AM" if value.hour < 12 else "PM"
    hour = value.hour % 12 or 12
    if value.minute:
        return f"{hour}:{value.minute:02d} {suffix}"
    return f"{hour} {suffix}"


def format_days(days: Tuple[int, ...]) -> str:
    """``Monday to Friday`` for a run of days, else ``Monday, Wednesday and Friday``."""
    ordered = sorted(set(days))
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{WEEKDAY_NAMES[ordered[0]]} to {WEEKDAY_NAMES[ordered[-1]]}"
    names = [WEEKDAY_NAMES[d] for d in ordered]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _shift(value: time, offset: timedelta) -> time:
    return (datetime.combine(datetime(2000, 1, 3).date(), value) + offset).time()


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping) or mapping.get(key) in (None, ""):
        raise PolicyError(f"policy.yml: missing {where}{key}")
    return mapping[key]


def _parse_time(raw: Any, where: str) -> time:
    try:
        return time.fromisoformat(str(raw))
    except ValueError as error:
        raise PolicyError(f"policy.yml: {where} is not a HH:MM time: {raw!r}") from error


def _parse_window(name: str, raw: Any) -> Window:
    unit = _require(raw, "unit", f"windows.{name}.")
    if unit not in _UNITS:
        raise PolicyError(f"policy.yml: windows.{name}.unit must be one of {_UNITS}, not {unit!r}")
    maximum = _require(raw, "max", f"windows.{name}.")
    minimum = raw.get("min")
    if not isinstance(maximum, int) or (minimum is not None and not isinstance(minimum, int)):
        raise PolicyError(f"policy.yml: windows.{name} min/max must be whole numbers")
    if minimum is not None and not 0 <= minimum <= maximum:
        raise PolicyError(f"policy.yml: windows.{name} needs 0 <= min <= max")
    return Window(minimum=minimum, maximum=maximum, unit=unit)


def parse_policy(raw: Mapping[str, Any]) -> Policy:
    """Build a :class:`Policy` from the parsed YAML, checking every fact is there."""
    company = _require(raw, "company", "")
    hours = _require(raw, "phone_hours", "")
    local = _require(raw, "local_timezone", "")
    day_names = _require(hours, "days", "phone_hours.")
    try:
        days = tuple(WEEKDAY_NAMES.index(str(d).capitalize()) for d in day_names)
    except ValueError as error:
        raise PolicyError(f"policy.yml: phone_hours.days has an unknown day: {day_names!r}") from error
    mailboxes = _require(raw, "mailboxes", "")
    for mailbox in EMAIL_SLOTS.values():
        _require(mailboxes, mailbox, "mailboxes.")
    emergency = _require(raw, "emergency_numbers", "")
    windows_raw = _require(raw, "windows", "")
    windows = {name: _parse_window(name, windows_raw.get(name)) for name in WINDOW_SLOTS.values()}
    return Policy(
        company_name=str(_require(company, "name", "company.")),
        company_address=str(_require(company, "address", "company.")),
        email_domain=str(_require(raw, "email_domain", "")),
        mailboxes={k: str(v) for k, v in mailboxes.items()},
        phone=str(_require(raw, "phone", "")),
        phone_hours=PhoneHours(
            open=_parse_time(_require(hours, "open", "phone_hours."), "phone_hours.open"),
            close=_parse_time(_require(hours, "close", "phone_hours."), "phone_hours.close"),
            days=days,
        ),
        local_timezone_name=str(_require(local, "name", "local_timezone.")),
        local_utc_offset_hours=int(_require(local, "utc_offset_hours", "local_timezone.")),
        always_open=str(_require(raw, "always_open", "")),
        windows=windows,
        policy_change_notice=str(_require(raw, "policy_change_notice", "")),
        emergency_number=str(_require(emergency, "national", "emergency_numbers.")),
        emergency_number_lagos=str(_require(emergency, "lagos", "emergency_numbers.")),
    )


def policy_path() -> Path:
    """Where ``policy.yml`` is: ``$KARA_POLICY_FILE`` or the repository root."""
    configured = os.environ.get("KARA_POLICY_FILE")
    return Path(configured).expanduser().resolve() if configured else DEFAULT_POLICY_FILE


@lru_cache(maxsize=8)
def _load(path: Path) -> Policy:
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{path}: expected a mapping of policy facts")
    return parse_policy(raw)


def load_policy(path: Optional[Path] = None) -> Policy:
    """The policy, read once per file (``load_policy.cache_clear()`` to re-read)."""
    return _load(Path(path).resolve() if path else policy_path())


load_policy.cache_clear = _load.cache_clear  # type: ignore[attr-defined]


def template_vars() -> Dict[str, str]:
    """Policy fact slot name -> the string responses show (see :data:`POLICY_SLOTS`)."""
    return load_policy().template_vars()
