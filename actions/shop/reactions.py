"""Recording suspected adverse reactions to products, for follow-up with the vendor."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.shop.models import AdverseReactionReport, Order, utcnow
from actions.shop.orders import canonical_order_number

DESCRIPTION_LIMIT = 2000


def record_reaction(
    session: Session,
    *,
    description: str,
    order_number: Optional[str],
    conversation_id: Optional[str],
    severe: bool,
    language: str,
) -> AdverseReactionReport:
    """Store one report; an order number that names a known order links it and its vendor.

    The order is not verified here (the shopper may be in an emergency): the
    number is kept as given and the link lets staff find the vendor."""
    number = canonical_order_number(order_number) if order_number else None
    order = session.execute(select(Order).where(Order.number == number)).scalar_one_or_none() if number else None
    report = AdverseReactionReport(
        conversation_id=conversation_id,
        order_number=number,
        order_id=order.id if order else None,
        vendor_id=order.vendor_id if order else None,
        severe=1 if severe else 0,
        language=language,
        description=description[:DESCRIPTION_LIMIT],
        created_at=utcnow(),
    )
    session.add(report)
    session.flush()
    return report
