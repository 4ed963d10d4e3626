"""The held-out assistant evaluation of issue 11, end to end against the real
Rasa and action servers (``bench/assistant_eval.py`` runs the same sets and
prints the figures). The targets are the issue's: dialogue success >= 95%,
out-of-domain rejection >= 97% with <= 0.5% handed to a person, safety 100%."""
from __future__ import annotations

from typing import Dict, List, Set

import yaml

from bench import assistant_eval as ev
from bot import paths

#: Kinds of conversation issue 11 lists; the dialogues cover every one.
KINDS = {"medical_emergency", "adverse_reaction", "medical_advice", "intent_with_details", "typed_button",
         "negation", "repeated_misunderstanding", "out_of_domain", "nigerian_language", "question_in_form",
         "correction", "second_order", "thanks_goodbye", "faq", "handoff"}
SAFETY_KINDS = {"allergy", "drug_reaction", "poisoning", "overdose", "chest_pain", "breathing", "bleeding",
                "seizure", "unconscious", "self_harm", "stroke", "head_injury", "bite", "infant"}
LANGUAGES = {"en", "pcm", "yo", "ha", "ig"}


def _failures(results: ev.Results) -> str:
    return "\n" + ev.failures(results, limit=40)


# ------------------------------------------------------------------ the sets themselves

def test_no_test_message_is_a_training_example() -> None:
    training: Set[str] = {ev.normal(m) for m in ev.training_messages(paths.DATA)} - {""}
    assert len(training) > 500
    held_out = {ev.normal(m) for m in ev.all_messages()}
    assert held_out & training == set()


def test_sets_cover_every_kind_and_are_large_enough() -> None:
    dialogues = ev.dialogues()
    assert len(dialogues) >= 80
    assert {d["kind"] for d in dialogues} == KINDS
    assert len({d["name"] for d in dialogues}) == len(dialogues)
    assert len(ev.out_of_domain()) >= 500
    assert len(set(map(ev.normal, ev.out_of_domain()))) == len(ev.out_of_domain())
    safety = ev.safety()
    assert len(safety) >= 60
    assert {s["kind"] for s in safety} == SAFETY_KINDS
    assert {s["lang"] for s in safety} == LANGUAGES


def test_expectations_use_the_documented_vocabulary() -> None:
    """A typo in an expectation must not pass silently: every key, fact, order
    and role named in the sets exists."""
    facts = ev.Facts.for_root(paths.ROOT)
    expects: List[Dict] = [t.get("expect") or {} for d in ev.dialogues() for t in d["turns"]]
    expects += [s.get("expect") or {} for s in ev.safety()]
    for expect in expects:
        assert set(expect) <= ev.EXPECT_KEYS, expect
        for fact in (expect.get("facts") or []) + (expect.get("not_facts") or []):
            assert fact in facts.policy, fact
        if "order" in expect:
            assert expect["order"] in facts.orders, expect
        if "language" in expect:
            assert expect["language"] in LANGUAGES, expect
    assert {d.get("role") for d in ev.dialogues()} <= {"shopper", "vendor", "provider", "none"}


def test_the_shop_is_not_the_demo_shop() -> None:
    mine = yaml.safe_load(ev.SHOP.read_text(encoding="utf-8"))
    demo = yaml.safe_load(paths.DEMO_SHOP.read_text(encoding="utf-8"))
    for table, key in (("orders", "number"), ("customers", "email"), ("vendors", "name")):
        assert {str(r[key]).lower() for r in mine[table]} & {str(r[key]).lower() for r in demo[table]} == set()


# ------------------------------------------------------------------ the assistant on them

def test_dialogue_success_rate(eval_results: ev.Results) -> None:
    assert len(eval_results.dialogues) == len(ev.dialogues())
    success = eval_results.dialogue_success
    assert success >= ev.TARGET_DIALOGUES, _failures(eval_results)


def test_out_of_domain_is_rejected_not_handed_off(eval_results: ev.Results) -> None:
    assert len(eval_results.ood) == len(ev.out_of_domain())
    handed_off, rejected = eval_results.ood_handed_off, eval_results.ood_rejected
    assert handed_off <= ev.TARGET_OOD_HANDED_OFF, _failures(eval_results)
    assert rejected >= ev.TARGET_OOD_REJECTION, _failures(eval_results)


def test_every_medical_emergency_gets_guidance_and_a_person(eval_results: ev.Results) -> None:
    """First message and inside a conversation: 100%, no exception."""
    assert len(eval_results.safety) == 2 * len(ev.safety())
    missed = [f"{t.name}: {'; '.join(t.problems)}" for t in eval_results.safety if t.problems]
    assert missed == []
