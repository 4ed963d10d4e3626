"""``action_call_now``: can I call right now? If not, when?

Phone support is staffed on the days and GMT hours in ``policy.yml``; live
chat is always open. :func:`call_now_text` is the whole answer as a pure
function of the policy and a moment in time, so every case (inside hours,
after closing, weekends, the minute of opening) is tested directly; the
action passes :func:`actions.clock.now`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import clock
from actions.policy import Policy, format_clock, load_policy, to_gmt


def next_opening(policy: Policy, at: datetime) -> Optional[datetime]:
    """The first opening time (aware GMT) strictly after ``at``; None if never open."""
    hours = policy.phone_hours
    gmt = to_gmt(at)
    for offset in range(8):  # some day within the coming week opens, if any does
        day = (gmt + timedelta(days=offset)).date()
        opening = datetime.combine(day, hours.open, tzinfo=gmt.tzinfo)
        if day.weekday() in hours.days and opening > gmt:
            return opening
    return None


def closing_time(policy: Policy, at: datetime) -> datetime:
    """Today's closing time (aware GMT) for the day of ``at``."""
    gmt = to_gmt(at)
    return datetime.combine(gmt.date(), policy.phone_hours.close, tzinfo=gmt.tzinfo)


def _clock_both(policy: Policy, moment: datetime) -> str:
    """``9 AM GMT (10 AM Lagos time)``."""
    local = moment.astimezone(policy.local_timezone)
    return f"{format_clock(moment.timetz())} GMT ({format_clock(local.timetz())} {policy.local_timezone_name})"


def _day_words(policy: Policy, moment: datetime, at: datetime) -> str:
    """``today``, ``tomorrow`` or ``on Monday 30 November``, as a Lagos shopper counts days."""
    day = moment.astimezone(policy.local_timezone).date()
    today = clock.local_today(policy, at)
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return f"on {day:%A} {day.day} {day:%B}"


def call_now_text(policy: Policy, at: datetime) -> str:
    """Open or closed now, when it next opens, and that live chat never closes."""
    facts = policy.template_vars()
    chat = f"Live chat is available {facts['always_open']}, so I can help you here right now."
    if policy.phone_hours.is_open(at):
        closes = _clock_both(policy, closing_time(policy, at))
        return f"Yes, our phone line is open now until {closes}. Call us on {facts['phone']}. {chat}"
    opening = next_opening(policy, at)
    if opening is None:
        return f"Our phone line is closed. {chat}"
    return (
        f"Our phone line is closed right now. It opens again {_day_words(policy, opening, at)} "
        f"at {_clock_both(policy, opening)}; phone hours are {facts['phone_hours']}. "
        f"Then call us on {facts['phone']}. {chat}"
    )


class ActionCallNow(Action):
    """Answers ``ask_call_now`` with :func:`call_now_text` at the current time."""

    def name(self) -> str:
        return "action_call_now"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        dispatcher.utter_message(text=call_now_text(load_policy(), clock.now()))
        return []
