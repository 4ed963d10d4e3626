"""actions.policy: the slots responses use, read from policy.yml and nowhere else."""
from __future__ import annotations

import re
from datetime import datetime, time
from pathlib import Path

import pytest
import yaml

from actions.policy import (
    POLICY_SLOTS,
    PolicyError,
    REPO_ROOT,
    load_policy,
    template_vars,
)

ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"
POLICY_FILE = REPO_ROOT / "policy.yml"


def contract_slots() -> list:
    """The policy fact slot list as docs/architecture.md states it."""
    doc = " ".join(ARCHITECTURE.read_text(encoding="utf-8").split())
    found = re.search(r"`(company_name,[^`]*)`", doc)
    assert found, "architecture.md no longer lists the policy fact slots"
    return [name.strip() for name in found.group(1).split(",")]


def test_template_vars_has_exactly_the_contract_slots() -> None:
    assert list(template_vars()) == contract_slots()
    assert list(POLICY_SLOTS) == contract_slots()


def test_example_values_from_the_architecture() -> None:
    facts = template_vars()
    assert facts["support_email"] == "support@karahealthmall.com"
    assert facts["phone_hours"] == "9 AM-6 PM GMT (10 AM-7 PM Lagos time), Monday to Friday"
    assert facts["refund_processing_time"] == "7-10 business days"
    assert facts["vendor_evidence_deadline"] == "5 business days"
    assert facts["always_open"] == "24/7"


def test_every_fact_matches_policy_yml() -> None:
    raw = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    facts = template_vars()
    assert facts["phone"] == raw["phone"]
    assert facts["company_address"] == raw["company"]["address"]
    for slot, box in {"security_email": "security", "tech_support_email": "tech_support"}.items():
        assert facts[slot] == f"{raw['mailboxes'][box]}@{raw['email_domain']}"
    refund = raw["windows"]["refund_processing"]
    assert facts["refund_processing_time"] == f"{refund['min']}-{refund['max']} {refund['unit']}"
    assert all(isinstance(v, str) and v for v in facts.values())


def test_typed_accessors() -> None:
    policy = load_policy()
    refund = policy.window("refund_processing")
    assert (refund.minimum, refund.maximum, refund.is_business_days) == (7, 10, True)
    assert policy.window("general_response").is_business_days is False
    assert policy.window("vendor_evidence").first == policy.window("vendor_evidence").maximum
    assert policy.phone_hours.open == time(9, 0) and policy.phone_hours.close == time(18, 0)
    assert policy.phone_hours.days == (0, 1, 2, 3, 4)
    assert policy.phone_hours.is_open(datetime(2026, 11, 25, 17, 59))
    assert not policy.phone_hours.is_open(datetime(2026, 11, 25, 18, 0))


def edited_policy(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_env_points_at_another_policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def edit(raw: dict) -> None:
        raw["phone_hours"] = {"open": "08:30", "close": "12:00", "days": ["Monday", "Wednesday", "Saturday"]}
        raw["windows"]["refund_processing"] = {"min": 1, "max": 1, "unit": "business days"}
        raw["email_domain"] = "example.org"

    monkeypatch.setenv("KARA_POLICY_FILE", str(edited_policy(tmp_path, edit)))
    facts = template_vars()
    assert facts["phone_hours"] == "8:30 AM-12 PM GMT (9:30 AM-1 PM Lagos time), Monday, Wednesday and Saturday"
    assert facts["refund_processing_time"] == "1 business day"
    assert facts["support_email"] == "support@example.org"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda raw: raw.pop("phone"), "phone"),
        (lambda raw: raw["mailboxes"].pop("security"), "mailboxes.security"),
        (lambda raw: raw["windows"]["refund_processing"].update(unit="weeks"), "unit"),
        (lambda raw: raw["windows"]["dispute_mediation"].update(min=20), "min <= max"),
        (lambda raw: raw["phone_hours"].update(open="nine"), "phone_hours.open"),
        (lambda raw: raw["phone_hours"].update(days=["Funday"]), "unknown day"),
    ],
)
def test_broken_policy_is_refused_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit, message: str
) -> None:
    monkeypatch.setenv("KARA_POLICY_FILE", str(edited_policy(tmp_path, edit)))
    with pytest.raises(PolicyError, match=re.escape(message)):
        load_policy()
