"""action_handle_order end to end: real tracker, real dispatcher, real database."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import delete, select

from actions.business_days import format_day, format_range, window_dates
from actions.orders_action import (
    LOCKED_TEXT,
    NO_MATCH_TEXT,
    ActionHandleOrder,
    handle_order,
)
from actions.policy import load_policy, template_vars
from actions.shop import db
from actions.shop.guesses import VerificationFailure
from actions.shop.models import Order, SupportRequest

FRIDAY_MORNING = "2026-11-27T10:00:00+00:00"
ACTION = ActionHandleOrder()
UNREACHABLE_DB = "postgresql+psycopg2://postgres@127.0.0.1:1/nothing_listens_here"


@pytest.fixture(autouse=True)
def friday(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests in these tests are made on Friday 27 November 2026."""
    monkeypatch.setenv("KARA_FAKE_NOW", FRIDAY_MORNING)


def slots(number, contact, request="track", failures=0.0):
    return {
        "order_number": number,
        "order_contact": contact,
        "order_request": request,
        "verification_failures": failures,
        "order_verified": None,
    }


def ask(run_action, make_tracker, *args, sender_id="conversation-1", **kwargs):
    messages, events = run_action(ACTION, make_tracker(slots=slots(*args, **kwargs), sender_id=sender_id))
    assert len(messages) == 1
    return messages[0], {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def stored_requests(url: str) -> list:
    with db.session_scope(url) as session:
        rows = session.execute(select(SupportRequest, Order.number).join(Order)).all()
        return [(number, r.kind, r.reference, r.window_start, r.window_end, r.conversation_id) for r, number in rows]


def test_track_shipped_order_shows_status_items_carrier_and_delivery(shop, run_action, make_tracker) -> None:
    message, slot_values = ask(run_action, make_tracker, "KH-204518", "adaeze.okafor@example.com")
    with db.session_scope(shop) as session:
        order = session.execute(select(Order).where(Order.number == "KH-204518")).scalar_one()
        shipment = order.shipments[0]
        expected_delivery = order.expected_delivery
        products = [i.product for i in order.items]
    text = message["text"]
    assert "Order KH-204518 from HealthPlus Pharmacy Yaba is shipped." in text
    for product in products:
        assert product in text
    assert "\u20a638,500.00" in text
    assert f"Carrier: {shipment.carrier}, tracking number {shipment.tracking_number}." in text
    assert f"Expected delivery: {format_day(expected_delivery)}." in text
    assert slot_values == {"order_verified": True, "order_number": "KH-204518"}


def test_track_by_phone_and_unshipped_order_has_no_carrier(shop, run_action, make_tracker) -> None:
    message, slot_values = ask(run_action, make_tracker, "KH-204520", "+234 813 555 0190")
    assert "being prepared by the vendor" in message["text"]
    assert "Carrier" not in message["text"] and "tracking number" not in message["text"]
    assert slot_values["order_verified"] is True


def test_unknown_order_wrong_contact_and_injection_read_the_same(shop, run_action, make_tracker) -> None:
    attempts = [
        ("KH-999999", "adaeze.okafor@example.com"),  # unknown order
        ("KH-204518", "emeka.eze@example.com"),  # real order, someone else's email
        ("KH-204518", "08025550177"),  # real order, someone else's phone
        ("KH-204518' OR '1'='1", "adaeze.okafor@example.com' OR 'a'='a"),
        ("KH-204518", "x'); DROP TABLE orders; --"),
    ]
    answers = set()
    for number, contact in attempts:
        message, slot_values = ask(run_action, make_tracker, number, contact)
        with db.session_scope(shop) as session:  # each as a first guess (lock-out: tests/assistant)
            session.execute(delete(VerificationFailure))
        answers.add(message["text"])
        assert message["buttons"] == []
        assert slot_values == {
            "verification_failures": 1.0,
            "order_number": None,
            "order_contact": None,
            "order_verified": False,
        }
    assert answers == {NO_MATCH_TEXT}
    for secret in ("HealthPlus", "Paracetamol", "GIG", "shipped", "Adaeze"):
        assert secret not in NO_MATCH_TEXT
    with db.session_scope(shop) as session:  # the injections changed nothing
        assert len(session.execute(select(Order)).scalars().all()) == 12


def test_third_failure_locks_and_offers_a_person(shop, run_action, make_tracker) -> None:
    failures = 0.0
    for attempt in range(1, 4):
        message, slot_values = ask(run_action, make_tracker, "KH-204518", "wrong@example.com", failures=failures)
        failures = slot_values["verification_failures"]
        assert failures == attempt
    assert LOCKED_TEXT in message["text"]
    assert message["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]


def test_when_locked_even_the_right_details_are_not_checked(shop, run_action, make_tracker, monkeypatch) -> None:
    message, slot_values = ask(run_action, make_tracker, "KH-204518", "adaeze.okafor@example.com", failures=3.0)
    assert message["text"] == LOCKED_TEXT
    assert message["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
    assert slot_values == {}
    # Proof the database is not touched: point at a server that does not exist.
    monkeypatch.setenv("KARA_SHOP_DB_URL", UNREACHABLE_DB)
    db.dispose_engines()
    message, _ = ask(run_action, make_tracker, "KH-204518", "adaeze.okafor@example.com", failures=3.0)
    assert message["text"] == LOCKED_TEXT


def test_locked_core_never_opens_a_session() -> None:
    def no_session():
        raise AssertionError("the database was opened while locked")

    reply = handle_order(
        no_session, order_number="KH-204518", contact="a@b.co", request="track", failures=3,
        conversation_id="c", at=datetime(2026, 11, 27, tzinfo=timezone.utc), policy=load_policy(),
    )
    assert reply.text == LOCKED_TEXT


def test_a_form_that_gave_up_offers_a_way_on_without_touching_the_database() -> None:
    def no_session():
        raise AssertionError("the database was opened without details")

    reply = handle_order(
        no_session, order_number="KH-204518", contact=None, request="refund", failures=0,
        conversation_id="c", at=datetime(2026, 11, 27, tzinfo=timezone.utc), policy=load_policy(),
    )
    assert "stopped asking" in reply.text
    assert [b["title"] for b in reply.buttons] == ["Track an order", "Talk to a person"]


def test_refund_is_stored_with_reference_and_business_day_dates(shop, run_action, make_tracker) -> None:
    message, slot_values = ask(run_action, make_tracker, "KH-204522", "NGOZI.N@example.com", request="refund")
    [(number, kind, reference, start, end, conversation)] = stored_requests(shop)
    assert (number, kind, conversation) == ("KH-204522", "refund", "conversation-1")
    assert re.fullmatch(r"REQ-[A-Z2-9]{6}", reference)
    # Friday 27 November + 7..10 business days, weekends skipped.
    assert (start, end) == (date(2026, 12, 8), date(2026, 12, 11))
    text = message["text"]
    assert f"Your reference is {reference}." in text
    assert "between Tuesday 8 December and Friday 11 December 2026" in text
    assert template_vars()["refund_processing_time"] in text
    assert slot_values["order_verified"] is True


def test_second_refund_returns_the_same_reference(shop, run_action, make_tracker) -> None:
    first, _ = ask(run_action, make_tracker, "KH-204522", "ngozi.n@example.com", request="refund")
    second, _ = ask(run_action, make_tracker, "KH-204522", "+2348095550164", request="refund")
    [(_, _, reference, *_rest)] = stored_requests(shop)
    assert reference in first["text"] and reference in second["text"]
    assert "already have an open refund request" in second["text"]
    assert "between Tuesday 8 December and Friday 11 December 2026" in second["text"]


def test_cancel_after_shipping_is_refused_and_a_return_offered(shop, run_action, make_tracker) -> None:
    for number, contact in (("KH-204518", "adaeze.okafor@example.com"), ("KH-204521", "ibrahim.musa@example.com"),
                            ("KH-204522", "ngozi.n@example.com")):
        message, _ = ask(run_action, make_tracker, number, contact, request="cancel")
        assert "can't be cancelled" in message["text"]
        assert message["buttons"] == [{"title": "Request a return", "payload": "/request_return"}]
    assert stored_requests(shop) == []


def test_cancel_before_shipping_is_filed_with_the_order_window(shop, run_action, make_tracker) -> None:
    message, _ = ask(run_action, make_tracker, "KH-204519", "emeka.eze@example.com", request="cancel")
    [(number, kind, reference, start, end, _)] = stored_requests(shop)
    assert (number, kind) == ("KH-204519", "cancel")
    expected = window_dates(date(2026, 11, 27), load_policy().window("order_resolution"))
    assert (start, end) == expected
    assert reference in message["text"] and format_range(*expected) in message["text"]
    assert "cancellation request" in message["text"]


def test_return_of_unshipped_order_suggests_cancelling(shop, run_action, make_tracker) -> None:
    message, _ = ask(run_action, make_tracker, "KH-204520", "folasade.adeyemi@example.com", request="return")
    assert "hasn't shipped yet" in message["text"]
    assert message["buttons"] == [{"title": "Cancel the order", "payload": "/request_cancellation"}]
    assert stored_requests(shop) == []


def test_database_down_is_a_clear_answer_not_a_failure(run_action, make_tracker, monkeypatch) -> None:
    monkeypatch.setenv("KARA_SHOP_DB_URL", UNREACHABLE_DB)
    db.dispose_engines()
    message, slot_values = ask(run_action, make_tracker, "KH-204518", "adaeze.okafor@example.com")
    assert "can't reach our order system" in message["text"]
    assert message["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
    assert slot_values == {}  # not counted as a failed verification
    db.dispose_engines()
