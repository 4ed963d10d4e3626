"""The questions the assistant missed: material for the next training examples.

``python -m handoff missed [--from DAY] [--to DAY] [--limit N]``.

A miss is a shopper message the assistant did not understand, found in the
stored transcripts in two ways:

* the assistant's next reply is its fallback help text: a bot message equal
  to one of the ``utter_fallback`` texts of ``domain.yml`` (read from the
  file, so a reworded response is still recognised);
* a handoff with reason ``not_understood`` (``action_fallback`` hands off to
  ``general`` on the second misunderstanding in a row): the shopper's last
  message before it.

The transcript does not link a reply to the message it answers, so "the
message before" is the latest shopper message stored before the reply; a
shopper who writes again before the answer arrives may be quoted by the later
message. Button payloads (``/request_human``) are never misses.

Misses are grouped by similar wording, simply and explainably: the text with
personal data masked (emails, phone and card numbers by
:func:`handoff.logs.redact`, order numbers as the shop reads them), lower
case, split into words, common filler words dropped, each word once, sorted.
"Where is my order KH-204518?" and "where's my order kh-118204" differ (where
/ where's), "my order where is KH-731042" joins the first. Each group lists
how many times, example wordings and the conversations.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from handoff import models
from handoff.contract import NOT_UNDERSTOOD, ORDER_NUMBER
from handoff.logs import redact
from handoff.records import aware

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"
FALLBACK_RESPONSE = "utter_fallback"
FALLBACK, HANDOFF = "fallback", "handoff"
EXAMPLES = 3
#: words that carry no meaning of their own in a support question (English and Pidgin)
FILLER = frozenset(
    "a an the i im i'm me my mine you your u we our us it its is are am was be been do does did to of in on "
    "for at and or so please pls plz abeg oh ok okay hi hello hey sir ma dey na".split()
)
_WORD = re.compile(r"\[\w+\]|[\w']+")

messages_t = models.table_of(models.Message)
handoffs_t = models.table_of(models.Handoff)


@lru_cache(maxsize=4)
def fallback_texts(domain_file: Path = DOMAIN_FILE) -> Tuple[str, ...]:
    """Every text variant of ``utter_fallback`` in the domain."""
    with open(domain_file, encoding="utf-8") as handle:
        domain = yaml.safe_load(handle)
    variants = ((domain or {}).get("responses") or {}).get(FALLBACK_RESPONSE) or []
    texts = tuple(v["text"].strip() for v in variants if isinstance(v, dict) and v.get("text"))
    if not texts:
        raise ValueError(f"{domain_file} has no {FALLBACK_RESPONSE} text")
    return texts


def mask(text: str) -> str:
    """``text`` with emails, phone, card and order numbers replaced, as in the logs."""
    return redact(ORDER_NUMBER.sub("[order]", text))


def wording_key(masked: str) -> str:
    """The grouping key of a masked text (see module docs)."""
    words = [w.strip("'") for w in _WORD.findall(masked.lower())]
    meaningful = sorted({w for w in words if w and w not in FILLER})
    return " ".join(meaningful or sorted(set(filter(None, words))))


@dataclass(frozen=True)
class Miss:
    conversation_id: str
    at: dt.datetime
    text: str  # masked
    how: str  # FALLBACK | HANDOFF


@dataclass
class Group:
    key: str
    count: int = 0
    wordings: Counter = field(default_factory=Counter)  # type: ignore[type-arg]
    conversations: List[str] = field(default_factory=list)
    last_at: Optional[dt.datetime] = None

    @property
    def examples(self) -> List[str]:
        return [text for text, _ in self.wordings.most_common(EXAMPLES)]


def find(
    connection: Connection,
    *,
    since: Optional[dt.datetime] = None,
    until: Optional[dt.datetime] = None,
    domain_file: Path = DOMAIN_FILE,
) -> List[Miss]:
    """Every miss (see module docs) stored in ``[since, until)``, oldest first."""
    m, h = messages_t, handoffs_t
    shopper = messages_t.alias("shopper")
    s = shopper.c

    def window(column: Any) -> List[Any]:
        bounds = []
        if since is not None:
            bounds.append(column >= since)
        if until is not None:
            bounds.append(column < until)
        return bounds

    # the shopper message right before each fallback reply
    before_reply = (
        select(func.max(s.seq))
        .where(s.conversation_id == m.c.conversation_id, s.sender == "shopper", s.seq < m.c.seq)
        .scalar_subquery()
    )
    replies = select(before_reply.label("seq"), m.c.seq.label("reply")).where(
        m.c.sender == "bot", m.c.text.in_(fallback_texts(domain_file)), *window(m.c.created_at)
    )
    # the shopper's last message before each not_understood handoff
    before_handoff = (
        select(func.max(s.seq))
        .where(s.conversation_id == h.c.conversation_id, s.sender == "shopper", s.created_at <= h.c.enqueued_at)
        .scalar_subquery()
    )
    handoffs = select(before_handoff.label("seq"), h.c.id.label("reply")).where(
        h.c.reason == NOT_UNDERSTOOD, *window(h.c.enqueued_at)
    )
    found: Dict[int, Miss] = {}
    for how, query in ((FALLBACK, replies), (HANDOFF, handoffs)):
        sub = query.subquery()
        rows = connection.execute(
            select(m.c.seq, m.c.conversation_id, m.c.text, m.c.created_at)
            .select_from(m.join(sub, m.c.seq == sub.c.seq))
        )
        for row in rows:
            text = (row.text or "").strip()
            if text and not text.startswith("/") and row.seq not in found:
                found[row.seq] = Miss(row.conversation_id, aware(row.created_at), mask(text), how)
    return sorted(found.values(), key=lambda miss: (miss.at, miss.conversation_id))


def group(misses: Sequence[Miss]) -> List[Group]:
    """Misses by wording, most frequent first (ties: the latest first)."""
    groups: Dict[str, Group] = {}
    for miss in misses:
        key = wording_key(miss.text)
        g = groups.setdefault(key, Group(key))
        g.count += 1
        g.wordings[miss.text] += 1
        if miss.conversation_id not in g.conversations:
            g.conversations.append(miss.conversation_id)
        g.last_at = miss.at if g.last_at is None else max(g.last_at, miss.at)
    epoch = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return sorted(groups.values(), key=lambda g: (-g.count, -(g.last_at or epoch).timestamp(), g.key))


def render(groups: Sequence[Group], limit: Optional[int] = None, total: Optional[int] = None) -> str:
    """The groups as text: count, words, examples, conversations."""
    shown = list(groups[:limit] if limit else groups)
    misses = sum(g.count for g in groups) if total is None else total
    out = [f"Questions the assistant missed: {misses} messages in {len(groups)} groups"
           + (f" (the {len(shown)} largest shown)" if len(shown) < len(groups) else "")]
    for g in shown:
        out += ["", f"{g.count}x  words: {g.key}"]
        out += [f"    \"{text}\"" for text in g.examples]
        out.append("    conversations: " + " ".join(g.conversations))
    return "\n".join(out) + "\n"
