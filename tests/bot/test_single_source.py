"""One source of truth for every policy fact: policy.yml.

No response, action or page may write a fact literally; every answer states
exactly the facts of policy.yml; and a one-line change to policy.yml changes
every answer that mentions it."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from actions import policy as policy_module
from bot import paths
from tests.bot.facts import PLACEHOLDER, literal_facts, render, response_texts

DOMAIN = yaml.safe_load(paths.DOMAIN.read_text())


def _python_strings(path: Path) -> List[str]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_no_policy_fact_is_a_slot() -> None:
    """Rasa fills the facts into responses from policy.yml (bot/rasa_nlg.py);
    a slot of the same name would be a second source."""
    assert [name for name in policy_module.POLICY_SLOTS if name in DOMAIN["slots"]] == []


def test_session_values_cover_exactly_the_policy_slots() -> None:
    assert set(policy_module.template_vars()) == set(policy_module.POLICY_SLOTS)


def test_every_placeholder_in_a_response_is_a_policy_fact_or_a_slot() -> None:
    known = set(DOMAIN["slots"]) | set(policy_module.POLICY_SLOTS)
    unknown = {(name, ph) for name, text in response_texts(DOMAIN)
               for ph in PLACEHOLDER.findall(text) if ph not in known}
    assert unknown == set()


def test_no_response_writes_a_fact_literally() -> None:
    literals = {name: literal_facts(text) for name, text in response_texts(DOMAIN)}
    assert {name: found for name, found in literals.items() if found} == {}


@pytest.mark.parametrize("folder", ["actions", "handoff", "bot"])
def test_no_code_writes_a_fact_literally(folder: str) -> None:
    offenders: Dict[str, List[str]] = {}
    for path in sorted((paths.ROOT / folder).rglob("*.py")):
        found = [f for s in _python_strings(path) for f in literal_facts(s)]
        if found:
            offenders[str(path.relative_to(paths.ROOT))] = found
    assert offenders == {}


def test_no_page_writes_a_fact_literally() -> None:
    offenders = {}
    for path in sorted((paths.ROOT / "widget").glob("*")):
        if path.suffix in {".html", ".js", ".css"}:
            found = literal_facts(path.read_text())
            if found:
                offenders[path.name] = found
    assert offenders == {}


def test_a_one_line_policy_change_reaches_every_answer(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Edit single lines of policy.yml; every rendered response follows."""
    original = policy_module.template_vars()
    text = (paths.ROOT / "policy.yml").read_text()
    edits = {
        "email_domain: karahealthmall.com": "email_domain: kara.example.ng",
        "refund_processing:  {min: 7,  max: 10, unit: business days}":
            "refund_processing:  {min: 8,  max: 12, unit: business days}",
        'open: "09:00"': 'open: "08:00"',
    }
    for old, new in edits.items():
        assert text.count(old) == 1, f"policy.yml no longer has the line {old!r}"
        text = text.replace(old, new)
    changed_file = tmp_path / "policy.yml"
    changed_file.write_text(text)
    monkeypatch.setenv("KARA_POLICY_FILE", str(changed_file))
    policy_module.load_policy.cache_clear() if hasattr(policy_module.load_policy, "cache_clear") else None
    try:
        changed = policy_module.template_vars()
    finally:
        monkeypatch.undo()
        if hasattr(policy_module.load_policy, "cache_clear"):
            policy_module.load_policy.cache_clear()

    assert changed["support_email"] == "support@kara.example.ng"
    assert changed["refund_processing_time"] == "8-12 business days"
    assert changed["phone_hours"].startswith("8 AM")
    for name, template in response_texts(DOMAIN):
        before, after = render(template, original), render(template, changed)
        for key in ("support_email", "refund_processing_time", "phone_hours"):
            if "{" + key + "}" in template:
                assert changed[key] in after and original[key] not in after, name
        assert "karahealthmall.com" not in after, name
        if before == after:
            assert not any("{" + k + "}" in template for k in
                           ("support_email", "refund_processing_time", "phone_hours"))


EMERGENCY_NUMBER = re.compile(r"(?<![\w-])(?:112|767)(?![\w-])")


def test_emergency_numbers_are_only_in_policy_yml() -> None:
    """112 and 767 (README, "Policy decisions") reach answers through placeholders only."""
    facts = policy_module.template_vars()
    assert EMERGENCY_NUMBER.fullmatch(facts["emergency_number"])
    assert EMERGENCY_NUMBER.fullmatch(facts["emergency_number_lagos"])
    offenders = [name for name, text in response_texts(DOMAIN) if EMERGENCY_NUMBER.search(text)]
    for folder in ("actions", "handoff", "bot"):
        for path in sorted((paths.ROOT / folder).rglob("*.py")):
            offenders += [str(path) for s in _python_strings(path) if EMERGENCY_NUMBER.search(s)]
    assert offenders == []
    emergency = [name for name, text in response_texts(DOMAIN) if "{emergency_number}" in text]
    assert {"utter_medical_advice", "utter_out_of_scope", "utter_emergency_line"} <= set(emergency)
