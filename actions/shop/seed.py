"""Load demo data (customers, vendors, orders) into the shop database.

Usage::

    python -m actions.shop.seed [--db-url URL] [FILE]

``FILE`` defaults to ``actions/shop/demo_shop.yml``; ``URL`` to
``KARA_SHOP_DB_URL``. The format is in ``SCHEMA.md``; any file in it seeds
the same way. Seeding is idempotent: rows are matched on natural keys
(customer email, vendor name, order number, item product, shipment carrier +
tracking number) and updated in place, so running it again changes nothing
and never duplicates. The file is checked completely before anything is
written, with errors that say where (``orders[3].status: ...``).
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.shop import db
from actions.shop.models import (
    ORDER_NUMBER_PATTERN,
    ORDER_STATUSES,
    VENDOR_KINDS,
    Customer,
    Order,
    OrderItem,
    Shipment,
    Vendor,
)
from actions.shop.orders import normalise_email, normalise_phone

DEMO_FILE = Path(__file__).with_name("demo_shop.yml")
_RELATIVE = re.compile(r"^today\s*(?:([+-])\s*(\d+))?(?:\s+(\d{1,2}:\d{2}))?$", re.IGNORECASE)


class SeedError(ValueError):
    """The seed file is malformed; the message says where."""


@dataclass
class SeedReport:
    """How many rows of each kind were created and updated."""

    created: Dict[str, int] = field(default_factory=dict)
    updated: Dict[str, int] = field(default_factory=dict)

    def count(self, table: str, created: bool) -> None:
        target = self.created if created else self.updated
        target[table] = target.get(table, 0) + 1

    def __str__(self) -> str:
        tables = sorted(set(self.created) | set(self.updated))
        return ", ".join(
            f"{t}: {self.created.get(t, 0)} new, {self.updated.get(t, 0)} existing" for t in tables
        )


def _field(entry: Any, key: str, where: str, required: bool = True) -> Any:
    if not isinstance(entry, Mapping):
        raise SeedError(f"{where}: expected a mapping")
    value = entry.get(key)
    if required and value in (None, ""):
        raise SeedError(f"{where}.{key}: missing")
    return value


def parse_when(raw: Any, where: str, today: date) -> datetime:
    """A timestamp: ISO (``2026-11-20T10:15``), a date, or ``today-3 09:40``."""
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=None)
    if isinstance(raw, date):
        return datetime.combine(raw, time())
    relative = _RELATIVE.match(str(raw).strip())
    if relative:
        sign, days, clock = relative.groups()
        offset = timedelta(days=int(days or 0)) * (-1 if sign == "-" else 1)
        try:
            at = time.fromisoformat(clock.zfill(5)) if clock else time()
        except ValueError as error:
            raise SeedError(f"{where}: bad time in {raw!r}") from error
        return datetime.combine(today + offset, at)
    try:
        return datetime.fromisoformat(str(raw))
    except ValueError as error:
        raise SeedError(f"{where}: not a date or time: {raw!r}") from error


def parse_day(raw: Any, where: str, today: date) -> Optional[date]:
    """A calendar date (absolute or ``today+2``); None stays None."""
    if raw is None:
        return None
    return parse_when(raw, where, today).date()


def naira_to_kobo(raw: Any, where: str) -> int:
    """``1250``, ``1250.50`` or ``"1,250.50"`` naira -> whole kobo, exactly."""
    try:
        amount = Decimal(str(raw).replace(",", ""))
    except InvalidOperation as error:
        raise SeedError(f"{where}: not an amount in naira: {raw!r}") from error
    kobo = amount * 100
    if amount < 0 or kobo != kobo.to_integral_value():
        raise SeedError(f"{where}: price must be >= 0 with at most 2 decimals: {raw!r}")
    return int(kobo)


def load_file(path: Path) -> Mapping[str, Any]:
    """Parse a seed file, requiring the three top-level lists."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SeedError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, Mapping):
        raise SeedError(f"{path}: expected a mapping with customers, vendors, orders")
    for key in ("customers", "vendors", "orders"):
        if not isinstance(raw.get(key) or [], list):
            raise SeedError(f"{path}: {key} must be a list")
    return raw


def _customers(data: Mapping[str, Any]) -> List[Dict[str, str]]:
    rows = []
    for i, entry in enumerate(data.get("customers") or []):
        where = f"customers[{i}]"
        email = normalise_email(_field(entry, "email", where))
        if email is None:
            raise SeedError(f"{where}.email: not an email address")
        phone = str(_field(entry, "phone", where))
        if normalise_phone(phone) is None:
            raise SeedError(f"{where}.phone: not a Nigerian phone number: {phone!r}")
        rows.append({"name": str(_field(entry, "name", where)), "email": email, "phone": phone})
    return rows


def _vendors(data: Mapping[str, Any]) -> List[Dict[str, str]]:
    rows = []
    for i, entry in enumerate(data.get("vendors") or []):
        where = f"vendors[{i}]"
        kind = _field(entry, "kind", where)
        if kind not in VENDOR_KINDS:
            raise SeedError(f"{where}.kind: {kind!r} is not one of {', '.join(VENDOR_KINDS)}")
        rows.append({"name": str(_field(entry, "name", where)), "kind": kind})
    return rows


def _orders(data: Mapping[str, Any], emails: set, vendors: set, today: date) -> List[Dict[str, Any]]:
    rows = []
    for i, entry in enumerate(data.get("orders") or []):
        where = f"orders[{i}]"
        number = str(_field(entry, "number", where)).strip().upper()
        if not re.match(ORDER_NUMBER_PATTERN, number):
            raise SeedError(f"{where}.number: {number!r} is not KH- followed by six digits")
        customer = normalise_email(_field(entry, "customer", where))
        if customer not in emails:
            raise SeedError(f"{where}.customer: no customer with email {entry.get('customer')!r}")
        vendor = str(_field(entry, "vendor", where))
        if vendor not in vendors:
            raise SeedError(f"{where}.vendor: no vendor named {vendor!r}")
        status = _field(entry, "status", where)
        if status not in ORDER_STATUSES:
            raise SeedError(f"{where}.status: {status!r} is not one of {', '.join(ORDER_STATUSES)}")
        items = []
        for j, item in enumerate(_field(entry, "items", where) or []):
            at = f"{where}.items[{j}]"
            quantity = _field(item, "quantity", at)
            if not isinstance(quantity, int) or quantity <= 0:
                raise SeedError(f"{at}.quantity: must be a whole number above zero")
            items.append(
                {
                    "product": str(_field(item, "product", at)),
                    "quantity": quantity,
                    "unit_price_kobo": naira_to_kobo(_field(item, "price", at), f"{at}.price"),
                }
            )
        shipments = []
        for j, shipment in enumerate(entry.get("shipments") or []):
            at = f"{where}.shipments[{j}]"
            shipments.append(
                {
                    "carrier": str(_field(shipment, "carrier", at)),
                    "tracking_number": str(_field(shipment, "tracking_number", at)),
                    "shipped_at": parse_when(_field(shipment, "shipped_at", at), f"{at}.shipped_at", today),
                }
            )
        rows.append(
            {
                "number": number,
                "customer": customer,
                "vendor": vendor,
                "status": status,
                "placed_at": parse_when(_field(entry, "placed_at", where), f"{where}.placed_at", today),
                "expected_delivery": parse_day(entry.get("expected_delivery"), f"{where}.expected_delivery", today),
                "items": items,
                "shipments": shipments,
            }
        )
    return rows


def _upsert(session: Session, model: type, key: Mapping[str, Any], values: Mapping[str, Any], report: SeedReport) -> Any:
    row = session.execute(select(model).filter_by(**key)).scalar_one_or_none()
    created = row is None
    if created:
        row = model(**key, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    report.count(model.__tablename__, created)
    return row


def seed(session: Session, data: Mapping[str, Any], today: Optional[date] = None) -> SeedReport:
    """Write ``data`` (parsed seed file) into ``session``; validate everything first."""
    today = today or date.today()
    customers = _customers(data)
    vendors = _vendors(data)
    orders = _orders(data, {c["email"] for c in customers}, {v["name"] for v in vendors}, today)

    report = SeedReport()
    by_email = {
        c["email"]: _upsert(session, Customer, {"email": c["email"]}, {"name": c["name"], "phone": c["phone"]}, report)
        for c in customers
    }
    by_vendor = {
        v["name"]: _upsert(session, Vendor, {"name": v["name"]}, {"kind": v["kind"]}, report) for v in vendors
    }
    session.flush()
    for o in orders:
        order = _upsert(
            session,
            Order,
            {"number": o["number"]},
            {
                "customer_id": by_email[o["customer"]].id,
                "vendor_id": by_vendor[o["vendor"]].id,
                "status": o["status"],
                "placed_at": o["placed_at"],
                "expected_delivery": o["expected_delivery"],
            },
            report,
        )
        session.flush()
        _sync_children(session, order, OrderItem, ("product",), o["items"], report)
        _sync_children(session, order, Shipment, ("carrier", "tracking_number"), o["shipments"], report)
    session.flush()
    return report


def _sync_children(
    session: Session,
    order: Order,
    model: type,
    key_fields: Sequence[str],
    wanted: List[Dict[str, Any]],
    report: SeedReport,
) -> None:
    """Make ``order``'s rows of ``model`` exactly ``wanted``, matched on ``key_fields``."""
    current = {
        tuple(getattr(row, k) for k in key_fields): row
        for row in session.execute(select(model).where(model.order_id == order.id)).scalars()
    }
    seen = set()
    for values in wanted:
        key = tuple(values[k] for k in key_fields)
        seen.add(key)
        row = current.get(key)
        if row is None:
            session.add(model(order_id=order.id, **values))
            report.count(model.__tablename__, True)
        else:
            for name, value in values.items():
                setattr(row, name, value)
            report.count(model.__tablename__, False)
    for key, row in current.items():
        if key not in seen:
            session.delete(row)


def seed_file(path: Path = DEMO_FILE, url: Optional[str] = None, today: Optional[date] = None) -> SeedReport:
    """Seed the database at ``url`` (default: configured) from the file at ``path``."""
    data = load_file(path)
    with db.session_scope(url) as session:
        return seed(session, data, today)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.shop.seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEMO_FILE, help="seed file (default: demo_shop.yml)")
    parser.add_argument("--db-url", default=None, help="database URL (default: $KARA_SHOP_DB_URL or sqlite:///var/shop.db)")
    args = parser.parse_args(argv)
    try:
        report = seed_file(args.file, args.db_url)
    except (SeedError, OSError) as error:
        print(f"seed failed: {error}", file=sys.stderr)
        return 1
    print(f"seeded {db.resolve_url(args.db_url or db.configured_url()).render_as_string(hide_password=True)}: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
