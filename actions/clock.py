"""The current time for actions, in one replaceable place.

Actions answer differently by time of day (is the phone line open?) and by
date (when will a refund be processed?). Their core functions take the time
as a parameter; the Rasa actions get it from :func:`now`, which honours
``KARA_FAKE_NOW`` (an ISO timestamp, naive meaning GMT) so a demo or an
end-to-end test can pin the clock without touching code.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timezone

from actions.policy import Policy, to_gmt


def now() -> datetime:
    """Aware UTC now, or ``$KARA_FAKE_NOW`` when set."""
    fake = os.environ.get("KARA_FAKE_NOW")
    if fake:
        return to_gmt(datetime.fromisoformat(fake))
    return datetime.now(timezone.utc)


def local_today(policy: Policy, at: datetime) -> date:
    """The calendar date in Lagos at ``at``: the day a shopper made a request."""
    return to_gmt(at).astimezone(policy.local_timezone).date()
