"""Order-number guessing is locked per order number and per client across
conversations (``actions/shop/guesses.py``), on both databases: a new chat
no longer gets fresh guesses. The decision is :func:`handle_order`, run on the
real shop database as the action server runs it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import select

from actions.orders_action import LOCKED_TEXT, NO_MATCH_TEXT, Reply, handle_order
from actions.policy import load_policy
from actions.shop import db
from actions.shop.guesses import MAX_FAILURES, WINDOW, VerificationFailure

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
OWNER = "adaeze.okafor@example.com"  # KH-204518's customer


def ask(url: str, number: str, contact: str, client: Optional[str], conversation: str,
        at: datetime = NOW) -> Reply:
    """One verification in a conversation of its own (the slot count starts at 0)."""
    return handle_order(db.session_factory(url), order_number=number, contact=contact, request="track",
                        failures=0, conversation_id=conversation, at=at, policy=load_policy(), client=client)


def test_a_new_chat_gets_no_fresh_guesses_at_an_order_number(shop) -> None:
    # three clients, each in a new chat, guess the contact of one order
    for attempt in range(MAX_FAILURES):
        reply = ask(shop, "KH-204518", f"guess{attempt}@example.com", f"client-{attempt}", f"chat-{attempt}")
        assert reply.text.startswith(NO_MATCH_TEXT.split(" Please")[0])
    assert LOCKED_TEXT in reply.text  # the third failure on the number locks it
    # even the owner's right email, from a fresh client in a fresh chat, is not checked now
    locked = ask(shop, "KH-204518", OWNER, "client-owner", "chat-owner")
    assert locked.text == LOCKED_TEXT
    assert locked.buttons == ({"title": "Talk to a person", "payload": "/request_human"},)
    assert locked.slots["order_verified"] is False and locked.slots["order_number"] is None
    # another order number is not affected
    other = ask(shop, "KH-204520", "+234 813 555 0190", "client-owner", "chat-owner-2")
    assert other.slots.get("order_verified") is True


def test_one_client_is_locked_across_order_numbers_and_chats(shop) -> None:
    for attempt, number in enumerate(("KH-204519", "KH-204521", "KH-999999")):
        ask(shop, number, "nobody@example.com", "client-x", f"chat-{attempt}")
    # a new chat from the same client, with the right details of a real order
    assert ask(shop, "KH-204518", OWNER, "client-x", "chat-new").text == LOCKED_TEXT
    # the same details from another client go through
    assert ask(shop, "KH-204518", OWNER, "client-y", "chat-other").slots["order_verified"] is True


def test_the_lock_out_says_nothing_about_whether_an_order_exists(shop) -> None:
    answers = set()
    for number in ("KH-204518", "KH-999999"):  # a real order, a number nobody has
        for attempt in range(MAX_FAILURES):
            ask(shop, number, "nobody@example.com", f"c-{number}-{attempt}", f"chat-{number}-{attempt}")
        answers.add(ask(shop, number, OWNER, f"c-{number}-last", f"chat-{number}-last").text)
    assert answers == {LOCKED_TEXT}


def test_the_window_passes_and_only_hashes_are_stored(shop) -> None:
    for attempt in range(MAX_FAILURES):
        ask(shop, "KH-204518", "nobody@example.com", "3f2a9c", f"chat-{attempt}")
    assert ask(shop, "KH-204518", OWNER, "fresh", "chat-x").text == LOCKED_TEXT
    later = NOW + WINDOW + timedelta(minutes=1)
    assert ask(shop, "KH-204518", OWNER, "3f2a9c", "chat-y", at=later).slots["order_verified"] is True
    with db.session_scope(shop) as session:
        rows = session.execute(select(VerificationFailure.subject_kind, VerificationFailure.subject)).all()
    assert set(rows) == {("order", "KH-204518"), ("client", "3f2a9c")}


def test_without_a_client_key_the_order_number_still_counts(shop) -> None:
    for attempt in range(MAX_FAILURES):
        ask(shop, "KH-204518", "nobody@example.com", None, f"chat-{attempt}")
    assert ask(shop, "KH-204518", OWNER, None, "chat-z").text == LOCKED_TEXT
