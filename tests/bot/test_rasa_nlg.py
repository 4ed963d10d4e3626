"""bot/rasa_nlg.py: Rasa's responses with the policy facts of policy.yml filled in.

The facts are no slots (a slot is an event every turn replays): the response
generator Rasa loads from the endpoints file fills them. Every variation of
every response comes out with its facts, and a one-line edit of policy.yml
reaches the answers Rasa renders."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from actions import policy as policy_module
from bot import paths
from bot.processes import write_endpoints
from bot.rasa_nlg import PolicyFactsNLG
from tests.bot.facts import PLACEHOLDER, render

DOMAIN = Domain.load(str(paths.DOMAIN))


def variations() -> Iterator[Tuple[str, Dict[str, object], str]]:
    """(response, the slots its condition asks for, its text) of every variation."""
    for name, options in DOMAIN.responses.items():
        for option in options:
            if option.get("text"):
                slots = {c["name"]: c["value"] for c in option.get("condition") or []}
                yield name, slots, option["text"]


def rendered(nlg: PolicyFactsNLG, name: str, slots: Dict[str, object], text: str) -> str:
    """What Rasa answers for this variation (tries again while another
    variation that also matches the slots is drawn)."""
    tracker = DialogueStateTracker.from_events(
        "nlg-test", [SlotSet(k, v) for k, v in slots.items()], DOMAIN.slots)
    out = ""
    for _ in range(30):
        answer = asyncio.run(nlg.generate(name, tracker, "rest"))
        assert answer is not None, name
        out = answer["text"]
        if out == render(text, {**nlg.facts, **{k: str(v) for k, v in slots.items()}}):
            break
    return out


def test_every_variation_states_its_facts() -> None:
    nlg = PolicyFactsNLG(domain=DOMAIN)
    checked = 0
    for name, slots, text in variations():
        facts = [p for p in PLACEHOLDER.findall(text) if p in policy_module.POLICY_SLOTS]
        if not facts:
            continue
        out = rendered(nlg, name, slots, text)
        assert not set(PLACEHOLDER.findall(out)) & set(policy_module.POLICY_SLOTS), (name, out)
        for fact in facts:
            assert nlg.facts[fact] in out, (name, fact)
        checked += 1
    assert checked >= 30  # the FAQ answers, not a handful


def test_a_one_line_policy_change_reaches_rasas_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = PolicyFactsNLG(domain=DOMAIN).facts
    text = (paths.ROOT / "policy.yml").read_text()
    edited = tmp_path / "policy.yml"
    edited.write_text(text.replace("refund_processing:  {min: 7,  max: 10, unit: business days}",
                                   "refund_processing:  {min: 8,  max: 12, unit: business days}")
                      .replace("email_domain: karahealthmall.com", "email_domain: kara.example.ng"))
    monkeypatch.setenv("KARA_POLICY_FILE", str(edited))
    policy_module.load_policy.cache_clear()
    try:
        nlg = PolicyFactsNLG(domain=DOMAIN)
    finally:
        monkeypatch.undo()
        policy_module.load_policy.cache_clear()
    assert nlg.facts["refund_processing_time"] == "8-12 business days"
    reached = 0
    for name, slots, text in variations():
        for key in ("refund_processing_time", "support_email"):
            if "{" + key + "}" in text:
                out = rendered(nlg, name, slots, text)
                assert nlg.facts[key] in out and original[key] not in out, (name, key)
                reached += 1
    assert reached >= 5


def test_rasa_loads_it_from_the_endpoints_file(tmp_path: Path) -> None:
    from rasa.core.nlg.generator import NaturalLanguageGenerator
    from rasa.utils.endpoints import read_endpoint_config

    endpoints = write_endpoints(tmp_path / "endpoints.yml", 5055)
    nlg = NaturalLanguageGenerator.create(read_endpoint_config(str(endpoints), "nlg"), DOMAIN)
    assert isinstance(nlg, PolicyFactsNLG)
