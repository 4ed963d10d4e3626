"""Retention on the seeded November: old transcripts lose every text, the
November report stays the same (but for the comments), a second run finds
nothing, a dry run changes nothing, open chats are kept, and the tracker
hook runs before the rows change."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import List, Sequence

import pytest
from sqlalchemy import select

from handoff import models
from handoff.ops import db, missed, reports, retention
from handoff.ops.settings import Ops

from .seed import NOW, History, at

#: 10 days before NOW: Nov 21 12:00 UTC. Older (last message before it): c01 c02 c04-c12 c14 c16
#: and c03 (no message, started Nov 3, nothing to blank); newer: c13 c15 (and c15 is open).
DAYS = 10
OLD_MESSAGES = 2 + 2 + 2 + 2 + 4 + 3 + 2 + 2 + 1 + 2 + 2 + 1 + 4  # c01 c02 c12 c14 c04 c05 c06 c07 c08 c09 c10 c11 c16
OLD_HANDOFFS = 3  # with a comment, context or summary: c04's rated stint, c06's security stint, c16's
OLD_TICKETS = 3  # c08 c11 c16
OLD_REPLIES = 2  # the answers to c08's and c16's tickets
OLD_KEYS = 2  # c01's verified email and browser id (c13's browser id is recent: kept)


def _old_open(url: str) -> None:
    """A chat stuck waiting since October: too old, but open, so kept."""
    engine = db.engine(url)
    try:
        with engine.begin() as connection:
            s = History(connection)
            s.conversation("stuck", at(1, 9, month=10))
            s.message("stuck", "shopper", "my email is stuck@example.com", at(1, 9, 1, month=10))
            s.stint("stuck", "general", "requested_human", at(1, 9, 2, month=10), summary="stuck@example.com")
            keys = models.ShopperKey.__table__
            for cid, kind, value in (("c01", "email", "ada@example.com"), ("c01", "browser", "b" * 32),
                                     ("c13", "browser", "b" * 32)):
                connection.execute(keys.insert(), dict(conversation_id=cid, kind=kind, value=value,
                                                       created_at=at(1, 9)))
    finally:
        engine.dispose()


def _november(engine: object, ops: Ops) -> reports.Report:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return reports.build(connection, ops, reports.period(ops, dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
                             now=NOW)


def test_old_transcripts_are_anonymised_and_the_figures_stay(seeded_url: str, ops: Ops) -> None:
    _old_open(seeded_url)
    engine = db.engine(seeded_url)
    erased: List[Sequence[str]] = []

    def eraser(ids: Sequence[str]) -> None:
        with engine.connect() as connection:  # the rows are still there when the trackers go
            texts = connection.execute(select(models.Message.__table__.c.text).where(
                models.Message.__table__.c.conversation_id.in_(ids))).scalars().all()
        assert any(texts)
        erased.append(list(ids))

    try:
        before = _november(engine, ops)
        dry = retention.apply(engine, DAYS, now=NOW, dry_run=True, erase_trackers=eraser)
        assert erased == []  # a dry run erases nothing
        assert _november(engine, ops) == before
        done = retention.apply(engine, DAYS, now=NOW, erase_trackers=eraser)
        after = _november(engine, ops)
        again = retention.apply(engine, DAYS, now=NOW)
        with engine.connect() as connection:
            messages = connection.execute(select(models.Message.__table__)).all()
            handoffs = connection.execute(select(models.Handoff.__table__)).all()
            tickets = connection.execute(select(models.Ticket.__table__)).all()
            replies = connection.execute(select(models.TicketReply.__table__)).all()
            misses = missed.find(connection)
            keys = connection.execute(select(models.ShopperKey.__table__.c.conversation_id)).scalars().all()
    finally:
        engine.dispose()

    expected = ["c12", "c14", "c01", "c02", "c04", "c05", "c06", "c07", "c08", "c09", "c10", "c11", "c16"]
    assert sorted(done.conversation_ids) == sorted(expected)
    assert done.rows == {"messages": OLD_MESSAGES, "handoffs": OLD_HANDOFFS, "tickets": OLD_TICKETS,
                         "ticket_replies": OLD_REPLIES, "shopper_keys": OLD_KEYS,
                         "attachments": 0}  # files: tests/handoff/test_attachments.py
    assert (dry.conversation_ids, dry.rows) == (done.conversation_ids, done.rows)
    assert done.skipped_open == 1
    assert [i for batch in erased for i in batch] == done.conversation_ids
    assert done.cutoff == at(21, 12)
    assert done.sentence(DAYS) == (
        f"anonymised 13 conversations with no message for 10 days (before 2026-11-21 12:00 UTC): "
        f"{OLD_MESSAGES} messages, {OLD_HANDOFFS} handoffs, {OLD_TICKETS} tickets, {OLD_REPLIES} ticket_replies, "
        f"{OLD_KEYS} shopper_keys, 0 attachments; "
        "1 still waiting for or "
        "with an agent, kept; the assistant's copies: erased")
    assert dry.sentence(DAYS).startswith("would anonymise 13 conversations")

    # every figure is the same; the comments were the shoppers' words
    assert after.comments == []
    assert dataclasses.replace(before, comments=[]) == after
    assert (again.conversation_ids, again.rows) == ([], {"messages": 0, "handoffs": 0, "tickets": 0,
                                                         "ticket_replies": 0, "shopper_keys": 0,
                                                         "attachments": 0})

    old = set(expected)
    assert all(m.text == "" and m.extra is None and m.client_id is None for m in messages if m.conversation_id in old)
    assert any(m.text for m in messages if m.conversation_id in ("c13", "c15", "stuck"))
    assert all(h.summary == "" and h.rating_comment is None and h.context == {} for h in handoffs
               if h.conversation_id in old)
    assert {h.rating for h in handoffs if h.conversation_id in old} == {None, 2, 3, 4, 5}  # scores stay
    assert all(t.email == "" and t.text == "" for t in tickets)
    assert len(replies) == OLD_REPLIES and all(r.text == "" for r in replies)
    assert {t.status for t in tickets} == {"open", "answered"}  # the inbox's figures stay
    assert [m.conversation_id for m in misses] == []  # c16's questions are gone with their texts
    assert keys == ["c13"]  # an old conversation's verified contact and browser id are gone


def test_a_failing_tracker_hook_keeps_everything(seeded_url: str, ops: Ops) -> None:
    engine = db.engine(seeded_url)

    def broken(ids: Sequence[str]) -> None:
        raise ConnectionError("tracker store unreachable")

    try:
        before = _november(engine, ops)
        with pytest.raises(ConnectionError):
            retention.apply(engine, DAYS, now=NOW, erase_trackers=broken)
        assert _november(engine, ops) == before
        outcome = retention.apply(engine, DAYS, now=NOW, dry_run=True)
    finally:
        engine.dispose()
    assert outcome.rows["messages"] == OLD_MESSAGES


def test_without_the_hook_the_command_says_so(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KARA_TRACKER_DB_URL", raising=False)
    engine = db.engine(seeded_url)
    try:
        outcome = retention.apply(engine, DAYS, now=NOW, erase_trackers=retention.tracker_eraser())
    finally:
        engine.dispose()
    assert outcome.sentence(DAYS).endswith(
        "the assistant's copies: not erased: no tracker store configured (KARA_TRACKER_DB_URL)")
    with pytest.raises(ValueError, match="at least one day"):
        retention.apply(db.engine(seeded_url), 0)


def test_the_assistants_tracker_rows_go_with_old_transcripts(seeded_url: str, tmp_path) -> None:
    """With Rasa's SQL tracker store configured, its rows of the old
    conversations are deleted (the store only appends), recent ones kept."""
    from sqlalchemy import Column, MetaData, Table, Text, create_engine, func, insert

    from handoff.tracker_store import EVENTS

    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    events = Table("events", MetaData(), *(Column(c.name, c.type, primary_key=c.primary_key) for c in EVENTS.c),
                   Column("data", Text))
    tracker = create_engine(tracker_url)
    events.metadata.create_all(tracker)
    with tracker.begin() as connection:
        for cid in ("c01", "c16", "c13", "c15"):  # two old, two recent (see DAYS)
            connection.execute(insert(events), [{"sender_id": cid, "data": '{"text": "ada@example.com"}'}] * 3)
    engine = db.engine(seeded_url)
    try:
        outcome = retention.apply(engine, DAYS, now=NOW, erase_trackers=retention.tracker_eraser(tracker_url))
    finally:
        engine.dispose()
    assert outcome.sentence(DAYS).endswith("the assistant's copies: erased")
    with tracker.connect() as connection:
        left = dict(connection.execute(select(events.c.sender_id, func.count()).group_by(events.c.sender_id)).all())
    tracker.dispose()
    assert left == {"c13": 3, "c15": 3}
