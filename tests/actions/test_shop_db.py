"""The shop database on SQLite and PostgreSQL: seeding, verification, requests."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, func, select

from actions.shop import db
from actions.shop.models import Base, Customer, Order, OrderItem, Shipment, SupportRequest, Vendor
from actions.shop.orders import (
    file_request,
    normalise_order_number,
    normalise_phone,
    verify,
)
from actions.shop.seed import DEMO_FILE, SeedError, main, seed_file

INJECTIONS = [
    "KH-204518' OR '1'='1",
    "' OR 1=1 --",
    "KH-204518; DROP TABLE orders; --",
    "adaeze.okafor@example.com' OR 'a'='a",
    "x@y.z'); DELETE FROM customers; --",
    "\x00\x01\x02",
    "%",
    "_",
    "K" * 5000,
]


def counts(url: str) -> dict:
    with db.session_scope(url) as session:
        return {
            model.__tablename__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Customer, Vendor, Order, OrderItem, Shipment, SupportRequest)
        }


def demo() -> dict:
    return yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))


def test_demo_file_seeds_every_row(shop: str) -> None:
    data = demo()
    assert len(data["orders"]) >= 10
    assert {o["status"] for o in data["orders"]} >= {"placed", "processing", "shipped", "out_for_delivery", "delivered", "cancelled"}
    assert counts(shop) == {
        "customers": len(data["customers"]),
        "vendors": len(data["vendors"]),
        "orders": len(data["orders"]),
        "order_items": sum(len(o["items"]) for o in data["orders"]),
        "shipments": sum(len(o.get("shipments") or []) for o in data["orders"]),
        "support_requests": 0,
    }


def test_seeding_twice_changes_nothing(shop: str, seed_day: date) -> None:
    before = counts(shop)
    report = seed_file(DEMO_FILE, shop, today=seed_day)
    assert counts(shop) == before
    assert sum(report.created.values()) == 0


def test_seed_stores_relative_dates_prices_and_lowercase_emails(shop: str) -> None:
    with db.session_scope(shop) as session:
        order = session.execute(select(Order).where(Order.number == "KH-204518")).scalar_one()
        assert order.placed_at.date() == date(2026, 11, 22)  # "today-3 09:40"
        assert order.expected_delivery == date(2026, 11, 27)  # today+2
        prices = {i.product: i.unit_price_kobo for i in order.items}
        assert prices["Omron M2 blood pressure monitor"] == 3_850_000  # 38500.00 naira
        emails = session.execute(select(Customer.email)).scalars().all()
        assert "folasade.adeyemi@example.com" in emails
        assert all(e == e.lower() for e in emails)


def test_any_file_in_the_format_seeds_and_updates_in_place(db_url: str, tmp_path: Path) -> None:
    data = {
        "customers": [{"name": "Bola Ahmed", "email": "bola@example.com", "phone": "08011112222"}],
        "vendors": [{"name": "Abuja Pharma", "kind": "product_vendor"}],
        "orders": [
            {
                "number": "kh-000001",
                "customer": "BOLA@example.com",
                "vendor": "Abuja Pharma",
                "status": "placed",
                "placed_at": "2026-01-05T10:00:00",
                "expected_delivery": "2026-01-09",
                "items": [{"product": "Zinc tablets", "quantity": 1, "price": "1,500.50"}],
            }
        ],
    }
    path = tmp_path / "mine.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    seed_file(path, db_url)
    data["orders"][0]["status"] = "shipped"
    data["orders"][0]["items"] = [{"product": "Zinc tablets", "quantity": 3, "price": 1500.5}]
    data["orders"][0]["shipments"] = [{"carrier": "GIG Logistics", "tracking_number": "G1", "shipped_at": "2026-01-06"}]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    seed_file(path, db_url)
    with db.session_scope(db_url) as session:
        order = session.execute(select(Order).where(Order.number == "KH-000001")).scalar_one()
        assert order.status == "shipped"
        assert [(i.quantity, i.unit_price_kobo) for i in order.items] == [(3, 150050)]
        assert [s.tracking_number for s in order.shipments] == ["G1"]
    assert counts(db_url)["orders"] == 1 and counts(db_url)["order_items"] == 1


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda d: d["orders"][2].update(status="lost"), "orders[2].status"),
        (lambda d: d["orders"][0].update(number="204518"), "orders[0].number"),
        (lambda d: d["orders"][1].update(customer="nobody@example.com"), "orders[1].customer"),
        (lambda d: d["orders"][1]["items"][0].update(price=-5), "orders[1].items[0].price"),
        (lambda d: d["orders"][1]["items"][0].update(quantity=0), "orders[1].items[0].quantity"),
        (lambda d: d["customers"][0].update(phone="12"), "customers[0].phone"),
        (lambda d: d["vendors"][0].update(kind="shop"), "vendors[0].kind"),
    ],
)
def test_malformed_file_is_refused_before_writing(db_url: str, tmp_path: Path, edit, where: str) -> None:
    data = demo()
    edit(data)
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SeedError, match=re.escape(where)):
        seed_file(path, db_url)
    assert counts(db_url)["customers"] == 0


def test_command_line(db_url: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["--db-url", db_url]) == 0
    assert "orders: 12 new" in capsys.readouterr().out
    assert main(["--db-url", db_url, "/nonexistent/file.yml"]) == 1
    assert "seed failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("KH-204518", "KH-204518"),
        ("kh204518", "KH-204518"),
        ("my order is Kh 204518, thanks", "KH-204518"),
        ("KH-2045189", None),
        ("204518", None),
        ("", None),
        (None, None),
    ],
)
def test_order_number_normalisation(raw, expected) -> None:
    assert normalise_order_number(raw) == expected


@pytest.mark.parametrize("raw", ["+234 803 555 0142", "2348035550142", "0803-555-0142", "(0803) 555 0142", "8035550142"])
def test_phone_forms_normalise_alike(raw: str) -> None:
    assert normalise_phone(raw) == "08035550142"


@pytest.mark.parametrize(
    "number, contact",
    [
        ("KH-204518", "adaeze.okafor@example.com"),
        ("kh204518", "  Adaeze.Okafor@EXAMPLE.com "),
        ("KH-204518", "+2348035550142"),
        ("KH-204518", "0803 555 0142"),
        ("KH-204520", "FOLASADE.ADEYEMI@example.com"),
        ("KH-204521", "07035550123"),  # stored as 2347035550123
    ],
)
def test_verify_accepts_the_customers_email_or_phone(shop: str, number: str, contact: str) -> None:
    with db.session_scope(shop) as session:
        order = verify(session, number, contact)
        assert order is not None and order.number == normalise_order_number(number)


@pytest.mark.parametrize(
    "number, contact",
    [
        ("KH-204518", "emeka.eze@example.com"),  # another customer's email
        ("KH-204518", "08025550177"),  # another customer's phone
        ("KH-999999", "adaeze.okafor@example.com"),  # no such order
        ("KH-204518", ""),
        ("KH-204518", None),
        ("", "adaeze.okafor@example.com"),
    ]
    + [(injection, "adaeze.okafor@example.com") for injection in INJECTIONS]
    + [("KH-204518", injection) for injection in INJECTIONS],
)
def test_verify_refuses_everything_else_without_damage(shop: str, number, contact) -> None:
    before = counts(shop)
    with db.session_scope(shop) as session:
        assert verify(session, number, contact) is None
    assert counts(shop) == before


def test_requests_are_idempotent_per_order_and_kind(shop: str) -> None:
    window = (date(2026, 12, 4), date(2026, 12, 9))
    with db.session_scope(shop) as session:
        order = verify(session, "KH-204522", "ngozi.n@example.com")
        first = file_request(session, order, "refund", window, "conv-a")
        again = file_request(session, order, "refund", window, "conv-b")
        other = file_request(session, order, "return", window, "conv-a")
    assert first.created and not again.created and other.created
    assert again.reference == first.reference != other.reference
    assert re.fullmatch(r"REQ-[A-Z2-9]{6}", first.reference)
    with db.session_scope(shop) as session:
        rows = session.execute(select(SupportRequest).order_by(SupportRequest.id)).scalars().all()
        assert [(r.kind, r.status, r.window_start, r.window_end, r.conversation_id) for r in rows] == [
            ("refund", "open", window[0], window[1], "conv-a"),
            ("return", "open", window[0], window[1], "conv-a"),
        ]
        rows[0].status = "resolved"
    with db.session_scope(shop) as session:  # once resolved, a new refund may be filed
        order = verify(session, "KH-204522", "ngozi.n@example.com")
        assert file_request(session, order, "refund", window).created


@pytest.fixture
def pg_shop(pg_database_url: str, monkeypatch: pytest.MonkeyPatch, seed_day: date) -> str:
    """Only PostgreSQL: SQLite serialises writers, so the race below needs a real server."""
    engine = create_engine(pg_database_url, future=True)
    Base.metadata.drop_all(engine)
    engine.dispose()
    db.dispose_engines()
    seed_file(DEMO_FILE, pg_database_url, today=seed_day)
    yield pg_database_url
    db.dispose_engines()


def test_simultaneous_requests_file_one_row_on_postgresql(pg_shop: str) -> None:
    """Two conversations asking at the same moment: the partial unique index decides."""
    import threading

    shop = pg_shop

    barrier = threading.Barrier(2, timeout=10)
    results: list = []
    errors: list = []

    def ask(conversation: str) -> None:
        try:
            with db.session_scope(shop) as session:
                order = verify(session, "KH-204525", "tunde.ogunleye@example.com")
                barrier.wait()  # both have looked for an open request before either files
                results.append(file_request(session, order, "return", (date(2026, 12, 1), date(2026, 12, 4)), conversation))
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(name,)) for name in ("conv-a", "conv-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert len({r.reference for r in results}) == 1
    assert sorted(r.created for r in results) == [False, True]
    assert counts(shop)["support_requests"] == 1


def test_relative_sqlite_path_is_anchored_at_the_repo_root() -> None:
    url = db.resolve_url("sqlite:///var/shop.db")
    assert Path(url.database) == db.REPO_ROOT / "var" / "shop.db"
    assert (db.REPO_ROOT / "var").is_dir()
    assert db.resolve_url("sqlite:////tmp/x.db").database == "/tmp/x.db"


def test_eight_conversations_filing_at_once_all_get_an_answer(shop: str) -> None:
    """The action server answers several chats at once (threads); on the
    embedded SQLite shop none of them may fail with "database is locked"
    (each would be told the order system is unreachable)."""
    import threading
    import time

    errors: list = []
    references: list = []

    def ask(kind: str) -> None:
        try:
            with db.session_scope(shop) as session:
                order = verify(session, "KH-204525", "tunde.ogunleye@example.com")
                time.sleep(0.05)  # the action's own work between the lookup and the write
                view = file_request(session, order, kind, (date(2026, 12, 1), date(2026, 12, 4)))
                references.append((kind, view.reference))
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(kind,)) for kind in ["return", "refund"] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(references) == 8
    assert len({ref for kind, ref in references if kind == "return"}) == 1
    assert len({ref for kind, ref in references if kind == "refund"}) == 1
