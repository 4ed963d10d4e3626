"""The questions the assistant missed, found in real transcripts (the seeded
November plus a few more), grouped by wording, personal data masked."""
from __future__ import annotations

import datetime as dt

from handoff.ops import db, missed

from .seed import FALLBACK, History, at, plus


def test_the_fallback_text_comes_from_the_domain() -> None:
    assert FALLBACK.startswith("Sorry, I didn't quite get that.")
    assert all(text == text.strip() for text in missed.fallback_texts())


def test_masking_reuses_the_log_redaction() -> None:
    assert missed.mask("KH-204518, kh 118204, ada@example.com, +234 803 123 4567, 4111 1111 1111 1111") == (
        "[order], [order], [email], [phone], [card]")


def test_wording_keys_are_explainable() -> None:
    assert missed.wording_key("Where is my order [order]?") == "[order] order where"
    assert missed.wording_key("my ORDER, where is [order]") == "[order] order where"
    assert missed.wording_key("where's my order [order]") == "[order] order where's"
    assert missed.wording_key("hi hello") == "hello hi"  # nothing but filler: the words themselves


def _more(url: str) -> None:
    """Three shoppers ask where their order is (two wordings), one gets the
    fallback for a button payload, one is answered normally."""
    engine = db.engine(url)
    try:
        with engine.begin() as connection:
            s = History(connection)
            for i, (text, order) in enumerate([("Where is my order {}?", "KH-204518"),
                                               ("my order where is {}", "KH-731042"),
                                               ("Where is my order {} ??", "KH-550913")]):
                t0 = at(20, 10 + i)
                s.conversation(f"w{i}", t0)
                s.message(f"w{i}", "shopper", text.format(order), plus(t0, 1))
                s.message(f"w{i}", "bot", FALLBACK, plus(t0, 2))
            t0 = at(21, 10)
            s.conversation("p1", t0)
            s.message("p1", "shopper", "/track_order", plus(t0, 1))
            s.message("p1", "bot", FALLBACK, plus(t0, 2))
            s.conversation("ok", t0)
            s.message("ok", "shopper", "gibberish that was understood", plus(t0, 1))
            s.message("ok", "bot", "Your order is on its way.", plus(t0, 2))
    finally:
        engine.dispose()


def test_misses_in_transcripts(seeded_url: str) -> None:
    _more(seeded_url)
    engine = db.engine(seeded_url)
    try:
        with engine.connect() as connection:
            found = missed.find(connection)
            november_12 = missed.find(connection, since=at(12, 0), until=at(13, 0))
    finally:
        engine.dispose()
    # c16: the first message got the help text, the second the not_understood handoff
    assert [(m.conversation_id, m.text, m.how) for m in november_12] == [
        ("c16", "Wetin be the price of [order] abeg?", missed.FALLBACK),
        ("c16", "abeg how I fit pay with card [card]", missed.HANDOFF),
    ]
    assert [m.conversation_id for m in found] == ["c16", "c16", "w0", "w1", "w2"]  # not p1, not ok
    groups = missed.group(found)
    assert [(g.key, g.count, g.conversations) for g in groups] == [
        ("[order] order where", 3, ["w0", "w1", "w2"]),
        ("[card] card fit how pay with", 1, ["c16"]),  # the later of two single misses first
        ("[order] price wetin", 1, ["c16"]),  # "be", "the", "of", "abeg" are filler
    ]
    assert groups[0].examples == ["Where is my order [order]?", "my order where is [order]",
                                  "Where is my order [order] ??"]
    text = missed.render(groups, limit=2)
    assert text.startswith("Questions the assistant missed: 5 messages in 3 groups (the 2 largest shown)")
    assert '3x  words: [order] order where\n    "Where is my order [order]?"' in text
    assert "conversations: w0 w1 w2" in text
    assert "KH-" not in text and "4111" not in text


def test_no_misses(empty_url: str) -> None:
    engine = db.engine(empty_url)
    try:
        with engine.connect() as connection:
            assert missed.find(connection, since=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) == []
    finally:
        engine.dispose()
    assert missed.render([]) == "Questions the assistant missed: 0 messages in 0 groups\n"


def test_the_live_assistants_misses_are_recognised(rasa_stack, tmp_path) -> None:
    """Two messages the trained assistant does not understand, its real
    replies stored as the gateway stores them: both are found."""
    from tests.bot.rest import RestShopper, handoffs

    from .conftest import migrate

    shopper = RestShopper(rasa_stack.rasa_url, role="shopper")
    url = f"sqlite:///{tmp_path / 'live.db'}"
    migrate(url)
    engine = db.engine(url)
    t0 = at(20, 10)
    try:
        with engine.begin() as connection:
            s = History(connection)
            s.conversation("live", t0)
            for i, text in enumerate(["sdfkj qwpoe zmxnv", "lkjhg asdpoi qwe"]):
                s.message("live", "shopper", text, plus(t0, 10 * i))
                replies = shopper.say(text)
                for reply in replies:
                    if reply.get("text"):
                        s.message("live", "bot", reply["text"], plus(t0, 10 * i + 1))
                for handoff in handoffs(replies):
                    s.stint("live", handoff["queue"], handoff["reason"], plus(t0, 10 * i + 2))
        with engine.connect() as connection:
            found = missed.find(connection)
    finally:
        engine.dispose()
    assert [(m.text, m.how) for m in found] == [
        ("sdfkj qwpoe zmxnv", missed.FALLBACK),
        ("lkjhg asdpoi qwe", missed.HANDOFF),
    ]
