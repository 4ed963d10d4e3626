"""action_emergency: guidance with the policy's emergency numbers, a person on the
emergency queue, and reactions to products recorded for the vendor (real DBs)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from actions.emergency_action import ActionEmergency
from actions.policy import template_vars
from actions.shop.models import AdverseReactionReport, Order
from handoff.contract import QUEUE_PRIORITY, parse_handoff


def split(messages):
    texts = [m["text"] for m in messages if m.get("text")]
    payloads = [m["custom"]["handoff"] for m in messages if m.get("custom")]
    return texts, payloads


def reports(url: str):
    engine = create_engine(url, future=True)
    try:
        with Session(engine) as session:
            return list(session.execute(select(AdverseReactionReport)).scalars())
    finally:
        engine.dispose()


def test_emergency_gets_the_numbers_and_the_emergency_queue(run_action, make_tracker, shop) -> None:
    tracker = make_tracker(intent="medical_emergency", text="my husband collapsed and is not breathing",
                           slots={"role": "shopper", "line": "chat", "order_number": "KH-204518"})
    texts, [payload] = split(run_action(ActionEmergency(), tracker)[0])
    facts = template_vars()
    assert facts["emergency_number"] in texts[0] and facts["emergency_number_lagos"] in texts[0]
    assert "nearest hospital" in texts[0]
    assert (payload["queue"], payload["reason"]) == ("emergency", "medical_emergency")
    assert payload["priority"] == QUEUE_PRIORITY["emergency"]
    assert payload["context"]["language"] == "en" and payload["context"]["adverse_reaction"] is False
    assert "in English" in payload["summary"]
    assert parse_handoff({"handoff": payload}).reason == "medical_emergency"
    assert reports(shop) == []  # not a reaction to a product: nothing recorded


@pytest.mark.parametrize("text, language, words", [
    ("Bàbá mi kò lè mí, ẹ ràn mí lọ́wọ́", "yo", "ilé ìwòsàn"),
    ("mahaifina baya iya numfashi", "ha", "asibiti"),
    ("nne m enweghị ike iku ume", "ig", "ụlọ ọgwụ"),
])
def test_emergency_in_yoruba_hausa_igbo_answers_in_it_and_in_english(run_action, make_tracker, shop, text,
                                                                     language, words) -> None:
    tracker = make_tracker(intent="medical_emergency", text=text, slots={"role": "shopper"})
    texts, [payload] = split(run_action(ActionEmergency(), tracker)[0])
    assert words in texts[0] and "nearest hospital" in texts[0]
    assert template_vars()["emergency_number"] in texts[0]
    assert payload["context"]["language"] == language
    assert payload["queue"] == "emergency"


def test_self_harm_gets_its_own_kind_words(run_action, make_tracker, shop) -> None:
    tracker = make_tracker(intent="medical_emergency", text="I don't want to live anymore")
    texts, [payload] = split(run_action(ActionEmergency(), tracker)[0])
    assert "You don't have to face this alone" in texts[0]
    assert template_vars()["emergency_number"] in texts[0]
    assert payload["reason"] == "medical_emergency"


def test_severe_reaction_to_an_order_is_an_emergency_and_recorded(run_action, make_tracker, shop) -> None:
    text = "my face is swelling after the tablets from order KH-204518"
    tracker = make_tracker(intent="medical_emergency", text=text, sender_id="conv-reaction")
    texts, [payload] = split(run_action(ActionEmergency(), tracker)[0])
    assert texts[0].startswith("Stop taking or using the product now.")
    assert "recorded the reaction for follow-up with the vendor" in texts[0]
    assert payload["queue"] == "emergency"
    assert payload["context"]["adverse_reaction"] is True and payload["context"]["order_number"] == "KH-204518"
    [report] = reports(shop)
    engine = create_engine(shop, future=True)
    with Session(engine) as session:
        order = session.execute(select(Order).where(Order.number == "KH-204518")).scalar_one()
        assert (report.order_id, report.vendor_id) == (order.id, order.vendor_id)
    engine.dispose()
    assert (report.severe, report.conversation_id, report.description) == (1, "conv-reaction", text)


def test_mild_reaction_is_recorded_and_followed_up_without_the_emergency_queue(run_action, make_tracker,
                                                                               shop) -> None:
    text = "I got a small rash after using the cream I bought"
    tracker = make_tracker(intent="report_adverse_reaction", text=text, slots={"order_number": "KH-204519"})
    texts, [payload] = split(run_action(ActionEmergency(), tracker)[0])
    assert "stop using the product" in texts[0] and "pharmacist" in texts[0]
    assert template_vars()["emergency_number"] in texts[0]  # if it gets worse
    assert (payload["queue"], payload["reason"]) == ("general", "adverse_reaction")
    assert payload["context"]["adverse_reaction"] is True and payload["context"]["order_number"] == "KH-204519"
    [report] = reports(shop)
    assert report.severe == 0 and report.order_number == "KH-204519" and report.order_id is not None


def test_unknown_order_number_is_kept_without_a_link(run_action, make_tracker, shop) -> None:
    tracker = make_tracker(intent="report_adverse_reaction", text="hives since I took the syrup, order KH-999999")
    run_action(ActionEmergency(), tracker)
    [report] = reports(shop)
    assert report.order_number == "KH-999999" and report.order_id is None and report.vendor_id is None


def test_a_database_that_is_down_does_not_cost_the_answer(run_action, make_tracker, monkeypatch) -> None:
    from actions.shop import db

    db.dispose_engines()
    monkeypatch.setenv("KARA_SHOP_DB_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none")
    tracker = make_tracker(intent="medical_emergency", text="my face is swelling after the cream I ordered")
    texts, [payload] = split(run_action(ActionEmergency(), tracker)[0])
    db.dispose_engines()
    assert template_vars()["emergency_number"] in texts[0]
    assert payload["queue"] == "emergency" and payload["context"]["adverse_reaction"] is True
