"""action_call_now: open now or not, when it opens next, live chat always."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from actions.call_now import ActionCallNow, call_now_text, next_opening
from actions.policy import REPO_ROOT, load_policy, template_vars


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("moment", ["2026-11-25T09:00", "2026-11-25T12:30", "2026-11-27T17:59"])
def test_open_inside_hours(moment: str) -> None:
    text = call_now_text(load_policy(), at(moment))
    facts = template_vars()
    assert text.startswith("Yes, our phone line is open now until 6 PM GMT (7 PM Lagos time).")
    assert facts["phone"] in text
    assert f"Live chat is available {facts['always_open']}" in text


@pytest.mark.parametrize(
    "moment, opens",
    [
        ("2026-11-25T08:59", "It opens again today at 9 AM GMT (10 AM Lagos time)"),  # Wednesday early
        ("2026-11-25T18:00", "It opens again tomorrow at 9 AM GMT (10 AM Lagos time)"),  # closing minute
        ("2026-11-27T18:30", "It opens again on Monday 30 November at 9 AM GMT"),  # Friday evening
        ("2026-11-28T11:00", "It opens again on Monday 30 November at 9 AM GMT"),  # Saturday
        ("2026-11-29T11:00", "It opens again tomorrow at 9 AM GMT"),  # Sunday
        ("2026-11-29T23:30", "It opens again today at 9 AM GMT"),  # already Monday 00:30 in Lagos
        ("2026-12-31T19:00", "It opens again tomorrow at 9 AM GMT"),  # New Year's Eve -> Friday 1 January
    ],
)
def test_closed_says_when_it_opens(moment: str, opens: str) -> None:
    text = call_now_text(load_policy(), at(moment))
    facts = template_vars()
    assert text.startswith("Our phone line is closed right now.")
    assert opens in text
    assert facts["phone_hours"] in text
    assert f"Live chat is available {facts['always_open']}" in text


def test_next_opening_is_strictly_later() -> None:
    policy = load_policy()
    assert next_opening(policy, at("2026-11-25T09:00")) == at("2026-11-26T09:00")
    assert next_opening(policy, at("2026-11-28T09:00")) == at("2026-11-30T09:00")


def test_hours_come_from_the_policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = yaml.safe_load((REPO_ROOT / "policy.yml").read_text(encoding="utf-8"))
    raw["phone_hours"] = {"open": "08:00", "close": "16:30", "days": ["Saturday"]}
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.setenv("KARA_POLICY_FILE", str(path))
    policy = load_policy()
    assert call_now_text(policy, at("2026-11-28T16:00")).startswith(
        "Yes, our phone line is open now until 4:30 PM GMT (5:30 PM Lagos time)."
    )
    assert "on Saturday 5 December at 8 AM GMT" in call_now_text(policy, at("2026-11-28T16:30"))


def test_action_uses_the_clock(run_action, make_tracker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KARA_FAKE_NOW", "2026-11-28T10:00:00")  # Saturday, naive = GMT
    messages, events = run_action(ActionCallNow(), make_tracker(intent="ask_call_now", text="can I call now?"))
    assert events == []
    assert [m["text"] for m in messages] == [call_now_text(load_policy(), at("2026-11-28T10:00"))]
    monkeypatch.setenv("KARA_FAKE_NOW", "2026-11-27T10:00:00+01:00")  # 9 AM GMT, Friday
    messages, _ = run_action(ActionCallNow(), make_tracker(intent="ask_call_now", text="can I call now?"))
    assert messages[0]["text"].startswith("Yes, our phone line is open now")
