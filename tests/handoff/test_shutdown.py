"""Stopping a gateway never waits on a client: sockets are told 1001 (going
away) and whatever does not close within the grace period is dropped."""
from __future__ import annotations

import asyncio
import time

from handoff.server import CLOSE_TIMEOUT_S, SHUTDOWN_GRACE_S

from .helpers import Client, add_agent, handed_off, login, shopper


async def test_shutdown_does_not_wait_for_a_client_that_stopped_reading(make_gateway) -> None:
    """A console that stopped reading (its client buffers one frame) never
    answers the close handshake; the gateway still stops within two close
    timeouts, and the shopper who reads is told the gateway is going away."""
    gw = await make_gateway()
    await add_agent(gw.gateway.config.db_url, "ag", "Ag")
    console = await Client.connect(gw.ws_url + "/ws/agent", max_queue=1)
    await console.send(type="hello", v=1, token=(await login(gw, "ag", "correct horse"))["token"])
    shoppers = [await handed_off(gw) for _ in range(4)]  # queue frames the console never reads

    started = time.monotonic()
    await gw.close()
    took = time.monotonic() - started

    assert took < 2 * CLOSE_TIMEOUT_S + 1.5, f"shutdown took {took:.1f} s"
    await asyncio.wait_for(shoppers[0].ws.wait_closed(), 5)
    assert shoppers[0].ws.close_code == 1001


async def test_shutdown_drops_a_session_stuck_in_its_cleanup(make_gateway, caplog) -> None:
    """A session whose cleanup never ends (here: leaving hangs on a store that
    never answers) holds the shutdown for the grace period, not for ever."""
    gw = await make_gateway()
    s = await shopper(gw)
    never = asyncio.Event()

    async def hangs(*_args) -> None:
        await never.wait()

    gw.gateway.shopper_left = hangs  # type: ignore[assignment]
    started = time.monotonic()
    await asyncio.wait_for(gw.close(), SHUTDOWN_GRACE_S + 5)
    took = time.monotonic() - started

    assert SHUTDOWN_GRACE_S - 0.5 < took < SHUTDOWN_GRACE_S + 3, f"shutdown took {took:.1f} s"
    assert "dropping 1 socket(s) still open" in caplog.text
    await asyncio.wait_for(s.ws.wait_closed(), 5)
