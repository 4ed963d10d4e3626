"""Order-number guessing through the gateway and the real assistant: the
lock-out holds across new chats, per order number and per client address
(the gateway's keyed hash of it; the address itself never reaches Rasa)."""
from __future__ import annotations

from bot.processes import BotStack
from tests.faults.test_faults import cid_of, common
from tests.faults.test_hostile import turn
from tests.handoff.helpers import Client

from .helpers import stored_events

GUESSED, GUESSED_OWNER = "KH-204522", "ngozi.n@example.com"
OTHER, OTHER_OWNER = "KH-204523", "seun.bakare@example.com"
LOCKED = "can't check orders any more"


async def new_chat(ws_url: str, address: str) -> Client:
    """A new conversation (no token) from the local ``address``."""
    client = await Client.connect(ws_url + "/ws/shopper", local_addr=(address, 0))
    await client.send(type="hello", v=1, role="shopper")
    await client.expect("welcome", timeout=20)
    return client


async def check(client: Client, number: str, contact: str) -> str:
    await turn(client, "I want to track my order")
    await turn(client, number)
    return await turn(client, contact)


async def test_new_chats_get_no_fresh_guesses(assistant: BotStack, gateway_process, fresh_pg) -> None:
    gw = gateway_process(*common(fresh_pg, "--rasa-url", ",".join(assistant.rasa_urls),
                                 "--rasa-timeout", "60", "--secret", "guessing-test-secret"))
    guesser = "127.0.0.5"
    answers = []
    for attempt in range(3):  # one guess per new chat, as a script would
        chat = await new_chat(gw.ws_url, guesser)
        answers.append(await check(chat, GUESSED, f"guess{attempt}@example.com"))
        await chat.close()
    assert "no order matches" in answers[0].lower() and LOCKED not in answers[0]
    assert LOCKED in answers[2]  # the third failure, in a third chat, locks
    # a fourth chat from the same address, now with the right email: not checked
    chat = await new_chat(gw.ws_url, guesser)
    answer = await check(chat, OTHER, OTHER_OWNER)
    assert LOCKED in answer and "Talk to a person" in answer and "Order KH-" not in answer
    cid = cid_of(chat)
    # the tracker holds the client's keyed hash, never its address
    events = "".join(stored_events(assistant, cid))
    assert '"client":' in events and guesser not in events
    await chat.close()

    # another address: the guessed order number stays locked (per order number) ...
    owner = await new_chat(gw.ws_url, "127.0.0.6")
    assert LOCKED in await check(owner, GUESSED, GUESSED_OWNER)
    await owner.close()
    # ... and another order of another shopper is looked up as always
    someone = await new_chat(gw.ws_url, "127.0.0.7")
    assert f"Order {OTHER}" in await check(someone, OTHER, OTHER_OWNER)
