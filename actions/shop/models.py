"""Schema of the shop database (SQLAlchemy 1.4 declarative, 2.0 style queries).

Portable between SQLite and PostgreSQL: enumerations are strings guarded by
CHECK constraints (no native enum types to migrate), money is whole kobo
(integer, no float rounding), timestamps are naive UTC, delivery and
processing windows are calendar dates. Table by table documentation is in
``SCHEMA.md``.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import List, Optional

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

VENDOR_KINDS = ("product_vendor", "healthcare_provider")
ORDER_STATUSES = ("placed", "processing", "shipped", "out_for_delivery", "delivered", "cancelled")
#: Statuses in which the parcel has not left the vendor: cancellation is still possible.
CANCELLABLE_STATUSES = ("placed", "processing")
REQUEST_KINDS = ("refund", "return", "cancel")
REQUEST_STATUSES = ("open", "resolved", "rejected")

ORDER_NUMBER_PATTERN = r"^KH-[0-9]{6}$"


def _in(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def utcnow() -> datetime:
    """Naive UTC "now", the form every timestamp column stores."""
    return datetime.utcnow().replace(microsecond=0)


class Customer(Base):
    """A shopper. Verification matches an order's customer email or phone."""

    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False)
    email = Column(String(254), nullable=False, unique=True)  # stored lower-case
    phone = Column(String(32), nullable=False)  # as given; compared normalised

    orders: List["Order"] = relationship("Order", back_populates="customer")


class Vendor(Base):
    """A seller: a product vendor (pharmacy, store) or a healthcare provider."""

    __tablename__ = "vendors"
    __table_args__ = (CheckConstraint(_in("kind", VENDOR_KINDS), name="ck_vendors_kind"),)

    id = Column(Integer, primary_key=True)
    name = Column(String(160), nullable=False, unique=True)
    kind = Column(String(32), nullable=False)

    orders: List["Order"] = relationship("Order", back_populates="vendor")


class Order(Base):
    """One order from one vendor, numbered ``KH-######``."""

    __tablename__ = "orders"
    __table_args__ = (CheckConstraint(_in("status", ORDER_STATUSES), name="ck_orders_status"),)

    id = Column(Integer, primary_key=True)
    number = Column(String(9), nullable=False, unique=True)
    customer_id = Column(ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False, index=True)
    vendor_id = Column(ForeignKey("vendors.id", ondelete="RESTRICT"), nullable=False, index=True)
    status = Column(String(20), nullable=False, server_default=text("'placed'"))
    placed_at = Column(DateTime, nullable=False)
    expected_delivery: Optional[date] = Column(Date, nullable=True)

    customer: Customer = relationship("Customer", back_populates="orders")
    vendor: Vendor = relationship("Vendor", back_populates="orders")
    items: List["OrderItem"] = relationship(
        "OrderItem", back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id"
    )
    shipments: List["Shipment"] = relationship(
        "Shipment", back_populates="order", cascade="all, delete-orphan", order_by="Shipment.shipped_at"
    )
    requests: List["SupportRequest"] = relationship("SupportRequest", back_populates="order")

    @property
    def latest_shipment(self) -> Optional["Shipment"]:
        return self.shipments[-1] if self.shipments else None

    @property
    def total_kobo(self) -> int:
        return sum(item.quantity * item.unit_price_kobo for item in self.items)


class OrderItem(Base):
    """A line of an order. Prices are kobo (1 naira = 100 kobo)."""

    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_order_items_quantity"),
        CheckConstraint("unit_price_kobo >= 0", name="ck_order_items_price"),
        UniqueConstraint("order_id", "product", name="uq_order_items_product"),
    )

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    product = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price_kobo = Column(BigInteger, nullable=False)

    order: Order = relationship("Order", back_populates="items")


class Shipment(Base):
    """A parcel handed to a carrier; an order has none until it ships."""

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("carrier", "tracking_number", name="uq_shipments_tracking"),)

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    carrier = Column(String(80), nullable=False)
    tracking_number = Column(String(64), nullable=False)
    shipped_at = Column(DateTime, nullable=False)

    order: Order = relationship("Order", back_populates="shipments")


class SupportRequest(Base):
    """A refund, return or cancellation the assistant filed for a verified shopper.

    At most one *open* request of a kind per order (partial unique index on
    both databases): asking twice returns the first reference instead of
    filing a duplicate.
    """

    __tablename__ = "support_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", REQUEST_KINDS), name="ck_support_requests_kind"),
        CheckConstraint(_in("status", REQUEST_STATUSES), name="ck_support_requests_status"),
        CheckConstraint("window_start <= window_end", name="ck_support_requests_window"),
        Index(
            "uq_support_requests_open",
            "order_id",
            "kind",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id = Column(Integer, primary_key=True)
    reference = Column(String(10), nullable=False, unique=True)  # REQ-XXXXXX
    kind = Column(String(10), nullable=False)
    order_id = Column(ForeignKey("orders.id", ondelete="RESTRICT"), nullable=False, index=True)
    conversation_id = Column(String(255), nullable=True)  # Rasa sender id that filed it
    created_at = Column(DateTime, nullable=False)
    status = Column(String(10), nullable=False, server_default=text("'open'"))
    window_start = Column(Date, nullable=False)
    window_end = Column(Date, nullable=False)
    note = Column(Text, nullable=True)

    order: Order = relationship("Order", back_populates="requests")


REACTION_STATUSES = ("open", "followed_up", "closed")


class AdverseReactionReport(Base):
    """A suspected reaction to a product, recorded by the assistant for follow-up
    with the vendor. The order is linked when the shopper named a known one."""

    __tablename__ = "adverse_reaction_reports"
    __table_args__ = (CheckConstraint(_in("status", REACTION_STATUSES), name="ck_adverse_reaction_status"),)

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=True, index=True)  # Rasa sender id
    order_number = Column(String(9), nullable=True)  # as the shopper gave it (KH-######)
    order_id = Column(ForeignKey("orders.id", ondelete="SET NULL"), nullable=True, index=True)
    vendor_id = Column(ForeignKey("vendors.id", ondelete="SET NULL"), nullable=True, index=True)
    severe = Column(Integer, nullable=False, server_default=text("0"))  # 1 = handled as an emergency
    language = Column(String(8), nullable=False, server_default=text("'en'"))
    description = Column(Text, nullable=False)  # the shopper's own words
    created_at = Column(DateTime, nullable=False)
    status = Column(String(12), nullable=False, server_default=text("'open'"))
