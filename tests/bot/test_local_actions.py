"""bot/local_actions.py: the session start run in Rasa's process answers as
the action server does; every other action still goes to the action server."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

import aiohttp
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from bot import paths
from bot.local_actions import LocalActions
from bot.processes import BotStack

NOWHERE = "http://127.0.0.1:9/webhook"  # no server listens on the discard port
DOMAIN = Domain.load(str(paths.ROOT / "domain.yml"))


def _call(events: List[Event], action: str = "action_session_start") -> Dict[str, Any]:
    tracker = DialogueStateTracker.from_events("local-actions", events, DOMAIN.slots)
    return RemoteAction(action, None)._action_call_format(tracker, DOMAIN)


CALLS = {
    "a first message": [UserUttered("hi", {"name": "greet"}, metadata={"role": "vendor", "line": "emergency"})],
    "a later session": [
        ActionExecuted("action_session_start"), SessionStarted(), SlotSet("role", "provider"),
        SlotSet("order_number", "KH-204518"), SlotSet("session_started_metadata", {"role": "provider"}),
        ActionExecuted("action_listen"), UserUttered("hi again", {"name": "greet"},
                                                     metadata={"role": "admin", "line": "chat"})],
    "no metadata": [UserUttered("hello", {"name": "greet"})],
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_session_start_answers_as_the_action_server_does(rasa_stack: BotStack, name: str) -> None:
    """The same call, in this process (its endpoint is nowhere) and to the action server."""
    server = EndpointConfig(rasa_stack.actions_url + "/webhook")
    call = _call(CALLS[name])

    async def both() -> List[Any]:
        return [await LocalActions(EndpointConfig(NOWHERE)).request(json=json.loads(json.dumps(call))),
                await server.request(json=call)]

    local, remote = asyncio.run(both())
    assert local == remote
    slots = {e["name"]: e["value"] for e in local["events"] if e["event"] == "slot"}
    assert local["events"][0]["event"] == "session_started"
    if name == "a later session":  # carried over; the session's metadata slot wins over the message's
        assert slots["role"] == "provider" and slots["order_number"] == "KH-204518"
        assert "line" not in slots
    if name == "a first message":
        assert (slots["role"], slots["line"]) == ("vendor", "emergency")


def test_other_actions_still_go_to_the_action_server(rasa_stack: BotStack) -> None:
    """An action not run in the process is asked of the action server, with
    its answer (here: an action it does not know, 404) as before."""
    local = LocalActions(EndpointConfig(rasa_stack.actions_url + "/webhook"))
    with pytest.raises(ClientResponseError) as error:
        asyncio.run(local.request(json=_call(CALLS["no metadata"], action="action_no_such_thing")))
    assert error.value.status == 404
    with pytest.raises(aiohttp.ClientConnectionError):  # and an action server that is not there, as before
        asyncio.run(LocalActions(EndpointConfig(NOWHERE)).request(
            json=_call(CALLS["no metadata"], action="action_handle_order")))
