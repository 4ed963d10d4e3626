"""``action_handle_order``: verify the shopper, then track, refund, return or cancel.

Runs when ``order_form`` has an order number and an email or phone. The
order is shown only after :func:`actions.shop.orders.verify` matched both;
an unknown number and a wrong contact get the same words, so the chat never
reveals whether an order number exists. After
:data:`MAX_VERIFICATION_FAILURES` failures in a conversation, checking is
locked (the database is not queried again) and a person is offered.

Refund, return and cancellation requests are stored with a ``REQ-`` reference
and the processing window is said as calendar dates, counted in business days
from the day of the request (Lagos date) with the window from ``policy.yml``.
Asking again for the same order and kind returns the open request's
reference instead of filing a duplicate.

:func:`handle_order` is the whole decision as a plain function (session
factory, slot values and clock in, :class:`Reply` out) so it is tested
without Rasa; the action class only adapts it to the SDK.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions import clock
from actions.business_days import format_day, format_range, window_dates
from actions.policy import Policy, load_policy
from actions.shop import db, guesses
from actions.shop.orders import OrderView, RequestView, file_request, order_view, verify

logger = logging.getLogger(__name__)

#: Failed verifications after which order checking is locked for the conversation.
MAX_VERIFICATION_FAILURES = 3

TALK_TO_PERSON = {"title": "Talk to a person", "payload": "/request_human"}
REQUEST_RETURN = {"title": "Request a return", "payload": "/request_return"}
REQUEST_CANCELLATION = {"title": "Cancel the order", "payload": "/request_cancellation"}

NO_MATCH = "Sorry, no order matches that order number and email/phone."
NO_MATCH_TEXT = f"{NO_MATCH} Please check both and try again."
LOCKED_TEXT = (
    "For your security, I can't check orders any more in this conversation. "
    "A person from our support team can help you with your order."
)
GAVE_UP_TEXT = (
    "I still don't have the order number and the email or phone used on the order, so I've stopped "
    "asking for now. Your order number starts with KH- and is in your order confirmation; ask me again "
    "whenever you have it, or talk to a person."
)
TRACK_AGAIN = {"title": "Track an order", "payload": "/track_order"}
UNAVAILABLE_TEXT = (
    "I can't reach our order system right now. Please try again in a few minutes, "
    "or talk to a person from our support team."
)

STATUS_TEXT: Mapping[str, str] = {
    "placed": "placed and waiting for the vendor to confirm it",
    "processing": "being prepared by the vendor",
    "shipped": "shipped",
    "out_for_delivery": "out for delivery",
    "delivered": "delivered",
    "cancelled": "cancelled",
}
REQUEST_LABEL: Mapping[str, str] = {"refund": "refund", "return": "return", "cancel": "cancellation"}
#: Which ``policy.yml`` window a request of each kind is processed within.
REQUEST_WINDOW: Mapping[str, str] = {
    "refund": "refund_processing",
    "return": "refund_processing",
    "cancel": "order_resolution",
}
REQUESTS = ("track", "refund", "return", "cancel")


@dataclass(frozen=True)
class Reply:
    """What the shopper sees and which slots change."""

    text: str
    buttons: Tuple[Dict[str, str], ...] = ()
    slots: Mapping[str, Any] = field(default_factory=dict)


def failure_count(value: Any) -> int:
    """The ``verification_failures`` slot as a whole number (garbage counts as 0)."""
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError):
        return 0


def naira(kobo: int) -> str:
    """``₦38,500.00``."""
    return f"\u20a6{kobo / 100:,.2f}"


def _status(view: OrderView) -> str:
    return STATUS_TEXT.get(view.status, view.status.replace("_", " "))


def describe_order(view: OrderView) -> str:
    """Status, items, carrier and tracking number, expected delivery."""
    lines = [f"Order {view.number} from {view.vendor} is {_status(view)}."]
    items = "; ".join(f"{i.quantity} x {i.product} ({naira(i.unit_price_kobo)} each)" for i in view.items)
    if items:
        lines.append(f"Items: {items}. Total: {naira(view.total_kobo)}.")
    if view.carrier and view.status != "cancelled":
        lines.append(f"Carrier: {view.carrier}, tracking number {view.tracking_number}.")
    if view.expected_delivery and view.status not in ("delivered", "cancelled"):
        lines.append(f"Expected delivery: {format_day(view.expected_delivery)}.")
    return "\n".join(lines)


def describe_request(request: RequestView, policy: Policy) -> str:
    """The reference and the processing window, as calendar dates."""
    label = REQUEST_LABEL[request.kind]
    window = policy.window(REQUEST_WINDOW[request.kind]).text()
    when = format_range(request.window_start, request.window_end)
    if not request.created:
        return (
            f"You already have an open {label} request for order {request.order_number}: "
            f"reference {request.reference}, filed on {format_day(request.created_at.date())}. "
            f"I haven't filed a second one. It will be processed {when}."
        )
    return (
        f"I've filed a {label} request for order {request.order_number}. "
        f"Your reference is {request.reference}. "
        f"{label.capitalize()} requests are processed within {window}, so expect it {when}."
    )


def _refusal(view: OrderView, request: str) -> Optional[Reply]:
    """Why ``request`` can't be filed for this order, or None when it can."""
    number, status = view.number, _status(view)
    if request == "cancel":
        if view.status == "cancelled":
            return Reply(f"Order {number} is already cancelled.")
        if not view.cancellable:
            return Reply(
                f"Order {number} has already shipped (it is {status}), so it can't be cancelled any more. "
                "You can request a return instead.",
                buttons=(REQUEST_RETURN,),
            )
    if request == "return":
        if view.status == "cancelled":
            return Reply(f"Order {number} was cancelled, so there is nothing to return.")
        if view.cancellable:
            return Reply(
                f"Order {number} hasn't shipped yet (it is {status}), so there is nothing to return. "
                "You can cancel it instead.",
                buttons=(REQUEST_CANCELLATION,),
            )
    return None


def _failed(failures: int) -> Reply:
    failures += 1
    cleared = {"verification_failures": float(failures), "order_number": None, "order_contact": None,
               "order_verified": False}
    if failures >= MAX_VERIFICATION_FAILURES:
        return Reply(f"{NO_MATCH} {LOCKED_TEXT}", buttons=(TALK_TO_PERSON,), slots=cleared)
    return Reply(NO_MATCH_TEXT, slots=cleared)


def handle_order(
    make_session: Callable[[], Session],
    *,
    order_number: Any,
    contact: Any,
    request: Any,
    failures: int,
    conversation_id: Optional[str],
    at: datetime,
    policy: Policy,
    client: Optional[str] = None,
) -> Reply:
    """Verify, then answer ``request`` (track when unset). Touches no DB when locked.
    Failures also count per order number and per ``client`` across conversations
    (:mod:`actions.shop.guesses`)."""
    if failures >= MAX_VERIFICATION_FAILURES:
        return Reply(LOCKED_TEXT, buttons=(TALK_TO_PERSON,))
    if not order_number or not contact:  # the form gave up on answers it could not use
        return Reply(GAVE_UP_TEXT, (TRACK_AGAIN, TALK_TO_PERSON), {"order_number": None, "order_contact": None})
    kind = request if request in REQUESTS else "track"
    with make_session() as session, session.begin():
        if guesses.locked(session, order_number, client, at):
            return Reply(LOCKED_TEXT, (TALK_TO_PERSON,), _failed(MAX_VERIFICATION_FAILURES).slots)
        order = verify(session, order_number, contact)
        if order is None:
            return _failed(max(failures, guesses.record_failure(session, order_number, client, at) - 1))
        view = order_view(session, order)
        verified = {"order_verified": True, "order_number": view.number}
        if kind == "track":
            return Reply(describe_order(view), slots=verified)
        refusal = _refusal(view, kind)
        if refusal is not None:
            return Reply(refusal.text, refusal.buttons, verified)
        window = window_dates(clock.local_today(policy, at), policy.window(REQUEST_WINDOW[kind]))
        filed = file_request(session, order, kind, window, conversation_id)
        return Reply(describe_request(filed, policy), slots=verified)


class ActionHandleOrder(Action):
    """Rasa adapter for :func:`handle_order` (DB work runs off the event loop)."""

    def name(self) -> str:
        return "action_handle_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        def work() -> Reply:
            return handle_order(
                lambda: db.session_factory()(),  # lazy: no engine at all while locked
                order_number=tracker.get_slot("order_number"),
                contact=tracker.get_slot("order_contact"),
                request=tracker.get_slot("order_request"),
                failures=failure_count(tracker.get_slot("verification_failures")),
                conversation_id=tracker.sender_id,
                at=clock.now(),
                policy=load_policy(),
                client=((tracker.latest_message or {}).get("metadata") or {}).get("client"),
            )

        try:
            reply = await asyncio.to_thread(work)
        except SQLAlchemyError:
            logger.exception("order lookup failed for conversation %s", tracker.sender_id)
            reply = Reply(UNAVAILABLE_TEXT, buttons=(TALK_TO_PERSON,))
        dispatcher.utter_message(text=reply.text, buttons=list(reply.buttons))
        return [SlotSet(name, value) for name, value in reply.slots.items()]
