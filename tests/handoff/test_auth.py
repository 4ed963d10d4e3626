"""Agent accounts, login, and tokens: forged, expired and swapped ones are refused."""
from __future__ import annotations


import aiohttp
import pytest
import websockets

from handoff.auth import AGENT, SHOPPER, TokenSigner, hash_password, verify_password

from .helpers import Client, add_agent, login, shopper


def test_passwords_are_argon2_hashed() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password(None, "correct horse")
    assert not verify_password("not a hash", "x")


def test_tokens() -> None:
    signer = TokenSigner("s1")
    token = signer.issue(SHOPPER, "conv1", 60)
    assert signer.verify(token, SHOPPER).subject == "conv1"
    assert signer.verify(token, AGENT) is None  # kind is bound into the MAC
    assert TokenSigner("s2").verify(token, SHOPPER) is None  # another secret
    payload, mac = token.split(".")
    forged = signer.issue(SHOPPER, "conv2", 60).split(".")[0] + "." + mac
    assert signer.verify(forged, SHOPPER) is None
    assert signer.verify(signer.issue(SHOPPER, "conv1", -1), SHOPPER) is None  # expired
    for junk in ("", ".", "a.b.c", "x" * 50, token + "x", "é.é"):
        assert signer.verify(junk, SHOPPER) is None


async def test_login_over_http(make_gateway) -> None:
    gw = await make_gateway()
    await add_agent(gw.gateway.config.db_url, "amaka", "Amaka O.")
    ok = await login(gw, "amaka", "correct horse")
    assert ok["agent"]["name"] == "Amaka O." and ok["token"]
    async with aiohttp.ClientSession() as http:
        for body, status in [
            ({"username": "amaka", "password": "wrong"}, 401),
            ({"username": "nobody", "password": "correct horse"}, 401),
            ({"username": "amaka"}, 400),
        ]:
            async with http.post(gw.url + "/api/login", json=body) as r:
                assert r.status == status
                assert "token" not in await r.json()
        async with http.post(gw.url + "/api/login", data=b"not json") as r:
            assert r.status == 400
        async with http.post(gw.url + "/api/login", data=b"x" * 10000) as r:
            assert r.status == 413
        async with http.get(gw.url + "/api/login") as r:
            assert r.status == 405


async def _refused(gw, path: str, hello: dict) -> None:
    client = await Client.connect(gw.ws_url + path)
    await client.send(**hello)
    error = await client.expect("error")
    assert error["code"] == "unauthorized"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await client.ws.recv()
    assert closed.value.code == 4401


async def test_agent_socket_needs_a_valid_token(make_gateway) -> None:
    gw = await make_gateway()
    await add_agent(gw.gateway.config.db_url, "amaka", "Amaka")
    good = (await login(gw, "amaka", "correct horse"))["token"]
    signer = TokenSigner("test-secret")
    shopper_token = (await shopper(gw)).received[0]["token"]
    for token in [
        "garbage",
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # forged signature
        TokenSigner("other-secret").issue(AGENT, "1", 60),  # another secret
        signer.issue(AGENT, "1", -5),  # expired
        signer.issue(AGENT, "999", 60),  # no such agent
        shopper_token,  # a shopper's token used as an agent's
    ]:
        await _refused(gw, "/ws/agent", {"type": "hello", "v": 1, "token": token})
    # and frames without hello do nothing
    client = await Client.connect(gw.ws_url + "/ws/agent")
    await client.send(type="claim", conversation_id="x")
    assert (await client.expect("error"))["code"] == "not_ready"
    # the good token works
    ok = await Client.connect(gw.ws_url + "/ws/agent")
    await ok.send(type="hello", v=1, token=good)
    assert (await ok.expect("welcome"))["agent"]["name"] == "Amaka"


async def test_shopper_tokens_are_checked(make_gateway) -> None:
    gw = await make_gateway()
    await add_agent(gw.gateway.config.db_url, "amaka", "Amaka")
    agent_token = (await login(gw, "amaka", "correct horse"))["token"]
    real = (await shopper(gw)).received[0]
    signer = TokenSigner("test-secret")
    for token in [
        agent_token,  # an agent's token used as a shopper's
        signer.issue(SHOPPER, real["conversation_id"], -1),  # expired
        TokenSigner("other").issue(SHOPPER, real["conversation_id"], 60),  # forged
        signer.issue(SHOPPER, "0" * 32, 60),  # a conversation that does not exist
    ]:
        await _refused(gw, "/ws/shopper", {"type": "hello", "v": 1, "token": token})
    again = await shopper(gw, token=real["token"])
    assert again.received[0]["conversation_id"] == real["conversation_id"]


async def test_allowed_origin(make_gateway) -> None:
    gw = await make_gateway(allowed_origins=("https://karahealthmall.com",))
    ok = await Client.connect(gw.ws_url + "/ws/shopper", origin="https://karahealthmall.com")
    await ok.send(type="hello", v=1)
    await ok.expect("welcome")
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(gw.ws_url + "/ws/shopper", origin="https://evil.example")
    assert refused.value.response.status_code == 403
    # no Origin at all (not a browser) is allowed
    plain = await Client.connect(gw.ws_url + "/ws/shopper")
    await plain.send(type="hello", v=1)
    await plain.expect("welcome")
