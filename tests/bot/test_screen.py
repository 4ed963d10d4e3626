"""SafetyScreen (the NLU component) on messages with a given classifier result:
which intent the assistant acts on. The patterns themselves are tested in
tests/actions/test_safety.py; this is what the component does with them."""
from __future__ import annotations

from typing import Any, Dict, List

from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions.nlu.screen import SafetyScreen


def screened(text: str, ranking: List[Dict[str, Any]], fallback: bool = False) -> str:
    """The intent after the screen, for a classifier ranking (a fallback on top when asked)."""
    ranked = [{"name": "nlu_fallback", "confidence": 0.3}, *ranking] if fallback else ranking
    message = Message(data={TEXT: text, INTENT: ranked[0], INTENT_RANKING_KEY: ranked})
    screen = SafetyScreen(None, None, {"all": ["agent", "refunds", "take", "how", "long"], "off_topic": []})  # type: ignore[arg-type]
    screen.process([message])
    return str(message.get(INTENT)["name"])


TORN = [{"name": "ask_refund_time", "confidence": 0.49}, {"name": "request_human", "confidence": 0.46}]


def test_a_negated_person_request_the_classifier_was_torn_on_gets_the_question() -> None:
    text = "I don't want any agent, just say how long refunds take"
    assert screened(text, TORN, fallback=True) == "ask_refund_time"


def test_without_the_negation_the_doubt_stays_a_fallback() -> None:
    assert screened("agent or how long refunds take", TORN, fallback=True) == "nlu_fallback"


def test_a_fallback_not_torn_with_a_person_stays_a_fallback() -> None:
    ranking = [{"name": "ask_refund_time", "confidence": 0.25}, {"name": "ask_dispute_time", "confidence": 0.2},
               {"name": "request_human", "confidence": 0.1}]
    assert screened("no agent, how long refunds take", ranking, fallback=True) == "nlu_fallback"


def test_an_emergency_wins_over_any_classifier_result() -> None:
    assert screened("my son is having a seizure, no agent", TORN) == "medical_emergency"


def test_details_are_never_off_topic() -> None:
    ranking = [{"name": "out_of_scope", "confidence": 0.6}, {"name": "ask_email", "confidence": 0.2}]
    message = Message(data={TEXT: "bisola.o@example.org", INTENT: ranking[0], INTENT_RANKING_KEY: ranking,
                            "entities": [{"entity": "email", "value": "bisola.o@example.org", "start": 0, "end": 20}]})
    SafetyScreen(None, None, {"all": ["email"], "off_topic": ["org"]}).process([message])  # type: ignore[arg-type]
    assert message.get(INTENT)["name"] == "inform"
