"""The relay's hand-built message JSON is the protocol's ``message`` frame, byte for byte."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.frames import dumps, message_frame, message_json
from handoff.storage import MessageRecord, chat_message

texts = st.text(max_size=300)  # any Unicode: quotes, backslashes, control characters, surrogates' neighbours
optional_texts = st.none() | st.text(max_size=40)
extras = st.none() | st.fixed_dictionaries({"buttons": st.lists(st.fixed_dictionaries({"title": texts}), max_size=2)})


@settings(max_examples=400, deadline=None)
@given(
    text=texts,
    sender=st.sampled_from(["shopper", "agent", "bot", "system"]),
    agent_name=optional_texts,
    client_id=optional_texts,
    extra=extras,
    micros=st.integers(min_value=0, max_value=10**15),
)
def test_message_json_is_the_message_frame(text, sender, agent_name, client_id, extra, micros):
    created = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros)
    record = MessageRecord(conversation_id="c1", sender=sender, text=text, created_at=created,
                           agent_name=agent_name, client_id=client_id, extra=extra)
    built = message_json(record)
    assert built == dumps(message_frame(record))
    assert json.loads(built)["text"] == text  # and a client reads back what was sent


@settings(max_examples=200, deadline=None)
@given(text=texts, sender=st.sampled_from(["shopper", "agent"]), client_id=optional_texts,
       agent_id=st.none() | st.integers(min_value=1, max_value=10**6), agent_name=optional_texts)
def test_chat_message_is_the_record(text, sender, client_id, agent_id, agent_name):
    """The relay's fast constructor makes the same frozen record as ``MessageRecord(...)``."""
    created = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    fast = chat_message("c1", sender, text, created, client_id=client_id, agent_id=agent_id, agent_name=agent_name)
    plain = MessageRecord(conversation_id="c1", sender=sender, text=text, id=fast.id, created_at=created,
                          client_id=client_id, agent_id=agent_id, agent_name=agent_name)
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    assert len(fast.id) == 32 and fast.id != chat_message("c1", sender, text, created).id
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.text = "changed"  # type: ignore[misc]
