"""Order lookup, shopper verification and support-request filing.

Privacy rules this module enforces for its callers:

* :func:`verify` returns the order only when the number *and* the email or
  phone of its customer match. An unknown number and a wrong contact give
  the same ``None`` after the same work (one query, one constant-time
  comparison), so a caller cannot tell whether an order number exists.
* Every query is built with SQLAlchemy expressions (bound parameters): an
  order number or email full of SQL is just a string that matches nothing.
* :func:`order_view` copies what the assistant may show into plain data, so
  nothing lazy-loads from the database after the session is closed.
"""
from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Optional, Tuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from actions.shop.models import (
    CANCELLABLE_STATUSES,
    Order,
    SupportRequest,
    utcnow,
)
from handoff.contract import ORDER_NUMBER

_ORDER_NUMBER = ORDER_NUMBER  # search: in a sentence (the format is the contract's)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS = re.compile(r"[\s\-().]")
_MAX_INPUT = 254  # longest email (RFC 5321); anything longer is not a contact

NIGERIA_CALLING_CODE = "234"
REFERENCE_PREFIX = "REQ-"
#: No 0/O or 1/I: references get read out over the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 6

# Compared against when the order does not exist, so both paths do the same work.
_NO_CUSTOMER_EMAIL = "no-customer@invalid"
_NO_CUSTOMER_PHONE = "no-customer"


@dataclass(frozen=True)
class Contact:
    """An email or phone number in canonical form (lower-case / ``0XXXXXXXXXX``)."""

    kind: str  # "email" | "phone"
    value: str


def normalise_order_number(raw: object) -> Optional[str]:
    """``kh204518``, ``KH 204518``, "my order is KH-204518" -> ``KH-204518``; else None."""
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT:
        return None
    found = _ORDER_NUMBER.search(raw)
    return f"KH-{found.group(1)}" if found else None


def canonical_order_number(raw: object) -> Optional[str]:
    """Like :func:`normalise_order_number` but the input must be the number alone."""
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT:
        return None
    found = _ORDER_NUMBER.fullmatch(raw.strip())
    return f"KH-{found.group(1)}" if found else None


def normalise_email(raw: object) -> Optional[str]:
    """Trimmed, lower-cased email when it has the shape of one, else None."""
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    if len(email) > _MAX_INPUT or not _EMAIL.match(email):
        return None
    return email


def normalise_phone(raw: object) -> Optional[str]:
    """A Nigerian number in local form: ``+234 803 746 2283`` / ``2348037462283`` /
    ``0803-746-2283`` / ``8037462283`` -> ``08037462283``; None when it is not one."""
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT:
        return None
    digits = _PHONE_CHARS.sub("", raw.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isdigit() or not digits.isascii():
        return None
    if digits.startswith(NIGERIA_CALLING_CODE) and len(digits) == len(NIGERIA_CALLING_CODE) + 10:
        digits = "0" + digits[len(NIGERIA_CALLING_CODE):]
    elif len(digits) == 10 and not digits.startswith("0"):
        digits = "0" + digits
    return digits if len(digits) == 11 and digits.startswith("0") else None


def parse_contact(raw: object) -> Optional[Contact]:
    """The email or phone a shopper typed, canonical; None when it is neither."""
    email = normalise_email(raw)
    if email is not None:
        return Contact("email", email)
    phone = normalise_phone(raw)
    return Contact("phone", phone) if phone is not None else None


_EMAIL_IN_TEXT = re.compile(r"[^@\s<>(),;:\"']+@[^@\s<>(),;:\"']+\.[A-Za-z]{2,}")
_PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s\-().]{8,18}\d")


def find_contact(text: object) -> Optional[Contact]:
    """The email or phone inside a sentence ("it's ada@example.com thanks")."""
    whole = parse_contact(text)
    if whole is not None or not isinstance(text, str) or len(text) > 4 * _MAX_INPUT:
        return whole
    for pattern in (_EMAIL_IN_TEXT, _PHONE_IN_TEXT):
        for found in pattern.finditer(text):
            contact = parse_contact(found.group(0))
            if contact is not None:
                return contact
    return None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def verify(session: Session, order_number: object, contact: object) -> Optional[Order]:
    """The order when ``contact`` is its customer's email or phone; None otherwise.

    None does not say why: unknown number, wrong contact and malformed input
    are the same answer.
    """
    number = canonical_order_number(order_number) or ""  # the form extracted it already
    wanted = parse_contact(contact)
    order = session.execute(
        select(Order)
        .options(joinedload(Order.customer))
        .where(Order.number == number)
    ).scalar_one_or_none()
    if order is not None:
        email = order.customer.email.strip().lower()
        phone = normalise_phone(order.customer.phone) or _NO_CUSTOMER_PHONE
    else:
        email, phone = _NO_CUSTOMER_EMAIL, _NO_CUSTOMER_PHONE
    target = phone if wanted is not None and wanted.kind == "phone" else email
    matched = _same(target, wanted.value if wanted is not None else "") and wanted is not None
    return order if order is not None and matched else None


@dataclass(frozen=True)
class ItemView:
    product: str
    quantity: int
    unit_price_kobo: int


@dataclass(frozen=True)
class OrderView:
    """What a verified shopper may see about their order, detached from the DB."""

    number: str
    status: str
    vendor: str
    placed_at: datetime
    expected_delivery: Optional[date]
    items: Tuple[ItemView, ...]
    carrier: Optional[str]
    tracking_number: Optional[str]
    shipped_at: Optional[datetime]

    @property
    def cancellable(self) -> bool:
        return self.status in CANCELLABLE_STATUSES

    @property
    def total_kobo(self) -> int:
        return sum(item.quantity * item.unit_price_kobo for item in self.items)


def order_view(session: Session, order: Order) -> OrderView:
    """Load items, vendor and shipments of ``order`` and copy them out."""
    full = session.execute(
        select(Order)
        .options(
            joinedload(Order.vendor),
            selectinload(Order.items),
            selectinload(Order.shipments),
        )
        .where(Order.id == order.id)
    ).scalar_one()
    shipment = full.latest_shipment
    return OrderView(
        number=full.number,
        status=full.status,
        vendor=full.vendor.name,
        placed_at=full.placed_at,
        expected_delivery=full.expected_delivery,
        items=tuple(ItemView(i.product, i.quantity, i.unit_price_kobo) for i in full.items),
        carrier=shipment.carrier if shipment else None,
        tracking_number=shipment.tracking_number if shipment else None,
        shipped_at=shipment.shipped_at if shipment else None,
    )


@dataclass(frozen=True)
class RequestView:
    """A filed support request, detached from the DB."""

    reference: str
    kind: str
    order_number: str
    created_at: datetime
    window_start: date
    window_end: date
    created: bool  # False: an open request of this kind already existed


def new_reference() -> str:
    """``REQ-`` + six random characters from an unambiguous alphabet."""
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def _open_request(session: Session, order: Order, kind: str) -> Optional[SupportRequest]:
    return session.execute(
        select(SupportRequest).where(
            SupportRequest.order_id == order.id,
            SupportRequest.kind == kind,
            SupportRequest.status == "open",
        )
    ).scalar_one_or_none()


def _view(request: SupportRequest, order: Order, created: bool) -> RequestView:
    return RequestView(
        reference=request.reference,
        kind=request.kind,
        order_number=order.number,
        created_at=request.created_at,
        window_start=request.window_start,
        window_end=request.window_end,
        created=created,
    )


def file_request(
    session: Session,
    order: Order,
    kind: str,
    window: Tuple[date, date],
    conversation_id: Optional[str] = None,
    attempts: int = 5,
) -> RequestView:
    """File a ``kind`` request for ``order``, or return the open one already filed.

    Idempotent per (order, kind) while the request is open, whichever
    conversation asks: a shopper who asks twice, or reloads the chat, gets
    the first reference, not a second refund. A partial unique index backs
    this up against two simultaneous requests; a reference collision is
    retried with a fresh reference.
    """
    existing = _open_request(session, order, kind)
    if existing is not None:
        return _view(existing, order, created=False)
    for _ in range(attempts):
        request = SupportRequest(
            reference=new_reference(),
            kind=kind,
            order_id=order.id,
            conversation_id=conversation_id,
            created_at=utcnow(),
            status="open",
            window_start=window[0],
            window_end=window[1],
        )
        try:
            with session.begin_nested():
                session.add(request)
        except IntegrityError:
            existing = _open_request(session, order, kind)
            if existing is not None:  # another conversation filed it first
                return _view(existing, order, created=False)
            continue  # reference collision: draw again
        return _view(request, order, created=True)
    raise RuntimeError("could not draw a free request reference")
