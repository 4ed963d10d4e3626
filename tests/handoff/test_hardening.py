"""Attacks that used to cost nothing: idle sockets, slow requests, guessing
passwords, opening chat after chat, foreign pages. Real gateway processes
(the CLI, as ``./kara run`` starts it), real sockets."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict, Tuple

import aiohttp
import pytest
import websockets

from .helpers import CLOSED_RASA, Client, add_agent, shopper


def _common(tmp_path: Any, *extra: str) -> Tuple[str, ...]:
    return ("--db-url", f"sqlite:///{tmp_path / 'gw.db'}", "--rasa-url", CLOSED_RASA, "--ping-interval", "0",
            *extra)


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (fails if it does not)."""
    return await asyncio.wait_for(reader.read(), seconds)


async def test_a_socket_that_never_says_hello_is_closed(gateway_process, tmp_path) -> None:
    gw = gateway_process(*_common(tmp_path, "--hello-timeout", "1.5"))
    silent = [await websockets.connect(gw.ws_url + path) for path in ("/ws/shopper", "/ws/agent") for _ in range(10)]
    chatty = await websockets.connect(gw.ws_url + "/ws/shopper")  # frames, but never a hello
    started = time.monotonic()
    for _ in range(4):
        await chatty.send(json.dumps({"type": "typing", "on": True}))
        assert json.loads(await chatty.recv())["code"] == "not_ready"
        await asyncio.sleep(0.3)
    for ws in [*silent, chatty]:
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 4408
    assert time.monotonic() - started < 4
    # one that says hello in time stays
    s = await shopper(gw)
    await asyncio.sleep(2)
    await s.send(type="message", text="still here", client_id="c1")
    assert (await s.expect("message", sender="shopper"))["text"] == "still here"


async def test_the_hello_timeout_is_told_before_closing(gateway_process, tmp_path) -> None:
    gw = gateway_process(*_common(tmp_path, "--hello-timeout", "1"))
    ws = await websockets.connect(gw.ws_url + "/ws/shopper")
    frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert frame == {"type": "error", "code": "not_ready", "message": "No hello within 1 s; closing."}
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert (ws.close_code, ws.close_reason) == (4408, "hello timeout")


@pytest.mark.parametrize("sent", [
    b"",  # connects and sends nothing
    b"GET /ws/shopper HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers that never end
    b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n\r\n{\"user",  # a body that stops
])
async def test_requests_that_never_complete_time_out(gateway_process, tmp_path, sent: bytes) -> None:
    gw = gateway_process(*_common(tmp_path, "--open-timeout", "1.5"))
    host, port = gw.url.split("//")[1].split(":")
    started = time.monotonic()
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(3)]
    for _, writer in connections:
        writer.write(sent)
        await writer.drain()
    for reader, writer in connections:
        answer = await _closed_within(reader, 5)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        writer.close()
    assert 1.4 < time.monotonic() - started < 5
    async with aiohttp.ClientSession() as http:  # still serving
        async with http.get(gw.url + "/healthz") as r:
            assert r.status == 200


async def _login(http: aiohttp.ClientSession, url: str, username: str, password: str,
                 forwarded: str = "") -> Tuple[int, Dict[str, Any], str]:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    async with http.post(url + "/api/login", json={"username": username, "password": password},
                         headers=headers) as r:
        return r.status, await r.json(), r.headers.get("Retry-After", "")


async def test_login_is_throttled_per_username(gateway_process, tmp_path) -> None:
    gw = gateway_process(*_common(tmp_path, "--login-window", "3", "--login-per-username", "3"))
    await add_agent(f"sqlite:///{tmp_path / 'gw.db'}", "amaka", "Amaka O.")
    async with aiohttp.ClientSession() as http:
        assert (await _login(http, gw.url, "amaka", "correct horse"))[0] == 200  # a success does not count
        for _ in range(3):
            assert (await _login(http, gw.url, "amaka", "guess"))[0] == 401
        started = time.monotonic()
        for password in ("guess", "correct horse"):  # the right password too: not even checked
            status, body, retry = await _login(http, gw.url, "Amaka", password)
            assert status == 429
            assert 1 <= body["retry_after"] <= 3 and retry == str(body["retry_after"])
            assert body["error"] == f"Too many sign-in attempts; try again in {body['retry_after']} s."
        assert (await _login(http, gw.url, "tolu", "guess"))[0] == 401  # another username is not held up
        await asyncio.sleep(max(0.0, body["retry_after"] - (time.monotonic() - started)) + 0.2)
        status, body, _ = await _login(http, gw.url, "amaka", "correct horse")
        assert status == 200 and body["agent"]["name"] == "Amaka O."


async def test_login_is_throttled_per_client_address(gateway_process, tmp_path) -> None:
    gw = gateway_process(*_common(tmp_path, "--login-window", "60", "--login-per-address", "4",
                                  "--trusted-proxy", "127.0.0.1"))
    await add_agent(f"sqlite:///{tmp_path / 'gw.db'}", "amaka", "Amaka O.")
    async with aiohttp.ClientSession() as http:
        for i in range(4):
            assert (await _login(http, gw.url, f"user{i}", "guess", "203.0.113.7"))[0] == 401
        status, body, _ = await _login(http, gw.url, "amaka", "correct horse", "203.0.113.7")
        assert status == 429 and body["retry_after"] > 50
        # another client behind the same (trusted) proxy is not
        assert (await _login(http, gw.url, "amaka", "correct horse", "198.51.100.2"))[0] == 200


async def test_new_conversations_per_client_address(gateway_process, tmp_path) -> None:
    gw = gateway_process(*_common(tmp_path, "--new-chats-per-address", "2", "--new-chats-window", "3"))
    first = await shopper(gw)
    await shopper(gw)
    started = time.monotonic()
    third = await Client.connect(gw.ws_url + "/ws/shopper")
    await third.send(type="hello", v=1, ref="h3")
    refused = await third.expect("error")
    assert refused["code"] == "too_many_conversations" and refused["ref"] == "h3"
    assert 0 < refused["retry_after_ms"] <= 3000
    assert refused["message"] == ("Too many new chats from your network; please try again in 1 min, "
                                  "or continue an earlier chat.")
    # resuming is not a new conversation, and the emergency line is never limited
    back = await shopper(gw, token=first.received[0]["token"])
    assert back.received[0]["conversation_id"] == first.received[0]["conversation_id"]
    emergency = await shopper(gw, line="emergency", role="provider")
    assert emergency.received[0]["line"] == "emergency"
    # the refused socket may say hello again once the window is over
    await asyncio.sleep(max(0.0, refused["retry_after_ms"] / 1000 - (time.monotonic() - started)) + 0.2)
    await third.send(type="hello", v=1)
    assert (await third.expect("welcome"))["state"] == "bot"


async def test_new_conversation_limit_is_shared_through_redis(gateway_process, tmp_path, redis_url,
                                                              redis_prefix) -> None:
    env = {"KARA_GATEWAY_REDIS_PREFIX": redis_prefix, "KARA_GATEWAY_NEW_CHATS_PER_ADDRESS": "2"}
    args = ("--db-url", f"sqlite:///{tmp_path / 'gw.db'}", "--rasa-url", CLOSED_RASA, "--redis-url", redis_url,
            "--secret", "shared", "--ping-interval", "0")
    one, two = gateway_process(*args, env=env), gateway_process(*args, env=env)
    await shopper(one)
    await shopper(two)
    for gw in (one, two):
        late = await Client.connect(gw.ws_url + "/ws/shopper")
        await late.send(type="hello", v=1)
        assert (await late.expect("error"))["code"] == "too_many_conversations"


async def test_only_the_gateways_own_origin_by_default(gateway_process, tmp_path) -> None:
    gw = gateway_process(*_common(tmp_path))  # no --allowed-origin: what ./kara run starts
    own = await Client.connect(gw.ws_url + "/ws/shopper", origin=gw.url)
    await own.send(type="hello", v=1)
    await own.expect("welcome")
    for origin in ("https://evil.example", gw.url.replace("127.0.0.1", "localhost"), "null"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(gw.ws_url + "/ws/agent", origin=origin)
        assert refused.value.response.status_code == 403
    plain = await Client.connect(gw.ws_url + "/ws/shopper")  # no Origin: not a browser
    await plain.send(type="hello", v=1)
    await plain.expect("welcome")


async def test_any_origin_when_told(gateway_process, tmp_path) -> None:
    gw = gateway_process(*_common(tmp_path, "--allowed-origin", "*"))
    ws = await Client.connect(gw.ws_url + "/ws/shopper", origin="https://partner.example")
    await ws.send(type="hello", v=1)
    await ws.expect("welcome")
