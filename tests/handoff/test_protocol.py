"""Every bad-frame case, on both endpoints: an error frame, and the socket stays up."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.protocol import (
    AGENT_FRAMES,
    MAX_FRAME_BYTES,
    SHOPPER_FRAMES,
    ProtocolError,
    ShopperMessage,
    parse_frame,
)

from .helpers import Client, add_agent, agent, shopper

BAD_FRAMES = [
    # (what is sent, expected code, expected field)
    ("not json at all", "bad_json", None),
    ("[1, 2, 3]", "bad_json", None),
    ('"a string"', "bad_json", None),
    ("{", "bad_json", None),
    (b"\x00\x01binary", "binary_not_supported", None),
    (json.dumps({"type": "message", "text": "x" * 5000}), "too_large", None),
    (json.dumps({"type": "message", "text": "é" * 2100}), "too_large", None),
    (json.dumps({"type": "message", "text": "x" * 2001}), "too_large", "text"),
    # UTF-8 as sent: 1,048 characters, 4,108 bytes
    (json.dumps({"type": "message", "text": "\U0001f600" * 1020}, ensure_ascii=False), "too_large", None),
    (json.dumps({"text": "no type"}), "unknown_type", None),
    (json.dumps({"type": "dance"}), "unknown_type", None),
    (json.dumps({"type": 7}), "unknown_type", None),
    (json.dumps({"type": "message"}), "missing_field", "text"),
    (json.dumps({"type": "message", "text": 5}), "bad_value", "text"),
    (json.dumps({"type": "message", "text": "   "}), "bad_value", "text"),
    (json.dumps({"type": "message", "text": "nul \u0000 inside"}), "bad_value", "text"),
    (json.dumps({"type": "ticket", "email": "ada@example.com", "text": "\u0000"}), "bad_value", "text"),
    (json.dumps({"type": "typing", "on": "yes"}), "bad_value", "on"),
    (json.dumps({"type": "rating", "score": 9}), "bad_value", "score"),
    (json.dumps({"type": "rating", "score": True}), "bad_value", "score"),
    (json.dumps({"type": "ticket", "email": "ada@example.com"}), "missing_field", "text"),
    (json.dumps({"type": "message", "text": "hi", "ref": 5}), "bad_value", "ref"),
]


def test_frame_size_is_counted_in_bytes() -> None:
    """The limit is on UTF-8 bytes: a frame of four-byte characters right at it
    is taken, one byte more is refused (short frames skip the encoding)."""
    head, tail = '{"type":"message","text":"', '"}'
    emoji = "\U0001f600" * 1000  # 1,000 characters, 4,000 bytes
    pad = MAX_FRAME_BYTES - len((head + emoji + tail).encode("utf-8"))
    at_limit = head + emoji + " " * pad + tail
    assert len(at_limit.encode("utf-8")) == MAX_FRAME_BYTES
    assert parse_frame(at_limit, SHOPPER_FRAMES).text.startswith("\U0001f600")
    with pytest.raises(ProtocolError) as caught:
        parse_frame(head + emoji + " " * (pad + 1) + tail, SHOPPER_FRAMES)
    assert caught.value.code == "too_large"


def test_parse_accepts_a_good_frame() -> None:
    frame = parse_frame(json.dumps({"type": "message", "text": "hello", "ref": "r", "extra": 1}), SHOPPER_FRAMES)
    assert frame == ShopperMessage(text="hello", ref="r")


@pytest.mark.parametrize("raw,code,field", BAD_FRAMES)
def test_parse_refuses(raw, code, field) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_frame(raw, SHOPPER_FRAMES)
    assert caught.value.code == code
    assert caught.value.field == field
    assert caught.value.frame()["type"] == "error"


def test_ref_is_echoed_in_errors() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_frame(json.dumps({"type": "claim", "ref": "abc"}), AGENT_FRAMES)
    assert caught.value.frame() == {
        "type": "error", "code": "missing_field", "message": "'conversation_id' is required.",
        "field": "conversation_id", "ref": "abc",
    }


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                              max_leaves=20).map(json.dumps),
                 st.dictionaries(st.sampled_from(["type", "text", "v", "token", "on", "score", "email", "ref",
                                                  "conversation_id", "queue", "client_id", "comment"]),
                                 st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                                           st.sampled_from(["message", "hello", "claim", "typing", "rating",
                                                            "ticket", "transfer", "general"])),
                                 max_size=6).map(json.dumps)))
def test_parse_never_raises_anything_else(raw) -> None:
    for table in (SHOPPER_FRAMES, AGENT_FRAMES):
        try:
            parse_frame(raw, table)
        except ProtocolError as error:
            assert error.frame()["code"]


async def _still_up(client: Client, endpoint: str) -> None:
    """A valid frame still gets its normal answer."""
    if endpoint == "shopper":
        await client.send(type="typing", on=False, ref="alive")
        await client.send(type="rating", score=3, ref="alive")
        assert (await client.expect("error", ref="alive"))["code"] == "bad_state"
    else:
        await client.send(type="claim", conversation_id="nope", ref="alive")
        assert (await client.expect("error", ref="alive"))["code"] == "not_found"


async def test_bad_frames_on_the_shopper_socket(make_gateway) -> None:
    gw = await make_gateway()
    client = await shopper(gw)
    for raw, code, field in BAD_FRAMES:
        await client.send_raw(raw)
        error = await client.expect("error")
        assert error["code"] == code, raw
        assert error.get("field") == field
        assert error["message"]
    await _still_up(client, "shopper")
    # nothing refused was stored: the conversation has no message
    history = await gw.gateway.storage.history(client.received[0]["conversation_id"])
    assert history == []


async def test_bad_frames_on_the_agent_socket(make_gateway) -> None:
    gw = await make_gateway()
    await add_agent(gw.gateway.config.db_url, "ag", "Ag")
    client = await agent(gw, "ag")
    cases = [
        ("nope", "bad_json", None),
        (b"\xff", "binary_not_supported", None),
        (json.dumps({"type": "message", "conversation_id": "c", "text": "y" * 4100}), "too_large", None),
        (json.dumps({"type": "rating", "score": 5}), "unknown_type", None),
        (json.dumps({"type": "message", "text": "hi"}), "missing_field", "conversation_id"),
        (json.dumps({"type": "transfer", "conversation_id": "c", "queue": "vip"}), "bad_value", "queue"),
        (json.dumps({"type": "hello", "v": 1, "token": "x"}), "bad_state", None),
    ]
    for raw, code, field in cases:
        await client.send_raw(raw)
        error = await client.expect("error")
        assert (error["code"], error.get("field")) == (code, field), raw
    await _still_up(client, "agent")


async def test_frames_before_hello_and_versions(make_gateway) -> None:
    gw = await make_gateway()
    client = await Client.connect(gw.ws_url + "/ws/shopper")
    await client.send(type="message", text="hi", ref="early")
    assert (await client.expect("error", ref="early"))["code"] == "not_ready"
    await client.send(type="hello", v=2)
    assert (await client.expect("error"))["code"] == "unsupported_version"
    await client.send(type="hello", v=1)
    await client.expect("welcome")
    await client.send(type="hello", v=1)
    assert (await client.expect("error"))["code"] == "bad_state"
    [welcome] = [f for f in client.received if f["type"] == "welcome"]
    assert await gw.gateway.storage.history(welcome["conversation_id"]) == []


async def test_huge_frame_at_the_limit(make_gateway) -> None:
    gw = await make_gateway()
    client = await shopper(gw)
    # exactly MAX_FRAME_BYTES is fine
    body = {"type": "typing", "on": True, "pad": ""}
    body["pad"] = "p" * (MAX_FRAME_BYTES - len(json.dumps(body)))
    assert len(json.dumps(body)) == MAX_FRAME_BYTES
    await client.send_raw(json.dumps(body))
    await client.send(type="rating", score=1, ref="next")
    assert (await client.expect("error", ref="next"))["code"] == "bad_state"
    assert not [f for f in client.received if f.get("code") == "too_large"]


async def test_rate_limit_refuses_only_the_flooder(make_gateway) -> None:
    gw = await make_gateway(rate_per_s=2, rate_burst=5)
    flooder = await shopper(gw)
    calm = await shopper(gw)
    for i in range(8):
        await flooder.send(type="typing", on=True, ref=f"f{i}")
    limited = await flooder.expect("error", code="rate_limited")
    assert limited["retry_after_ms"] > 0
    await calm.send(type="rating", score=4, ref="calm")
    assert (await calm.expect("error", ref="calm"))["code"] == "bad_state"
