"""Secure defaults of the assistant's processes: Rasa's HTTP API needs the
token, Rasa sends no CORS headers, the action server and Rasa listen on
127.0.0.1 only."""
from __future__ import annotations

import socket
import subprocess
from urllib.parse import urlparse

import aiohttp
import pytest

from bot.processes import BotStack


def non_loopback_addresses() -> list:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [a for a in out if not a.startswith("127.") and a != "::1" and ":" not in a]


def port_of(url: str) -> int:
    port = urlparse(url).port
    assert port is not None
    return port


async def test_rasa_http_api_refuses_without_the_token(assistant: BotStack) -> None:
    url = f"{assistant.rasa_url}/conversations/someone/tracker"
    async with aiohttp.ClientSession() as http:
        for params in ({}, {"token": "wrong"}):
            async with http.get(url, params=params) as r:
                assert r.status == 401
            async with http.put(f"{url}/events", params=params, json=[]) as r:
                assert r.status == 401  # no erasing someone's conversation either
        async with http.get(url, params={"token": assistant.rasa_token}) as r:
            assert r.status == 200
        # the REST channel the gateway sends turns to needs no token
        async with http.post(f"{assistant.rasa_url}/webhooks/rest/webhook",
                             json={"sender": "sec-test", "message": "hello"}) as r:
            assert r.status == 200 and await r.json()
        # and a browser on another site gets no CORS permission
        async with http.get(f"{assistant.rasa_url}/", headers={"Origin": "https://evil.example"}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize("which", ["actions", "rasa"])
def test_the_processes_listen_on_loopback_only(assistant: BotStack, which: str) -> None:
    port = port_of(assistant.actions_url if which == "actions" else assistant.rasa_url)
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    local = {line.split()[3] for line in listening.splitlines() if line.strip()}
    assert local == {f"127.0.0.1:{port}"}
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address")
    for address in addresses:
        with socket.socket() as sock:
            sock.settimeout(3)
            assert sock.connect_ex((address, port)) != 0, f"{which} answers on {address}:{port}"
    with socket.create_connection(("127.0.0.1", port), timeout=3):
        pass  # and it does listen, on loopback


def test_the_token_is_in_no_process_list(assistant: BotStack) -> None:
    import psutil

    for member in assistant.members:
        assert member.rasa.proc is not None
        rasa = psutil.Process(member.rasa.proc.pid)
        assert "--enable-api" in rasa.cmdline()  # the Rasa server itself
        for process in (rasa, *rasa.children(recursive=True)):
            assert not any(assistant.rasa_token in arg for arg in process.cmdline())
