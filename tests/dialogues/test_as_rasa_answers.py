"""The project's assistant answers as Rasa itself does.

The project's Rasa processes run with patches of Rasa's per-turn costs
(``bot/rasa_speedups/``) and their own tracker store (``bot/rasa_store.py``);
each patch is held equal to Rasa's code on its own in ``tests/bot``. Here the
whole: every held-out dialogue (none a training example) is played, turn by
turn, against the project's assistant and against stock ``rasa run`` (no
patches, Rasa's own SQL tracker store) on the same model, each with its own
action server on a shop seeded alike. Every reply, and at the end every event of
the conversation, must be the same: timestamps, ids and a filed request's
reference aside, and the wording of a response that has several (Rasa picks
one at random; which response it was must be the same).
"""
from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from rasa.shared.core.domain import Domain

from actions.shop.orders import REFERENCE_ALPHABET, REFERENCE_LENGTH, REFERENCE_PREFIX
from bench import assistant_eval
from bot import paths
from bot.databases import temporary_database
from bot.model_cache import ensure_model
from bot.processes import BotProcess, BotStack, seed_shop, start_bot_stack, stock_rasa

#: what differs between two runs of the same conversation: when, and random ids
VARYING = {"timestamp", "message_id", "model_id"}
#: responses with several wordings, one picked at random each time
VARIED = {name for name, variations in Domain.load(str(paths.DOMAIN)).responses.items() if len(variations) > 1}
#: a filed request's reference (random: actions.shop.orders.new_reference)
REFERENCE = re.compile(re.escape(REFERENCE_PREFIX) + f"[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}}")


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[BotStack, BotProcess]]:
    model = ensure_model(quiet=True)
    workdir: Path = tmp_path_factory.mktemp("as-rasa")
    with temporary_database("kara_as_ours") as ours_shop, temporary_database("kara_as_stock") as stock_shop, \
            temporary_database("kara_as_stock_tracker") as stock_tracker:
        for shop in (ours_shop, stock_shop):
            seed_shop(shop, assistant_eval.SHOP)
        stock = stock_rasa(model, stock_shop, workdir, tracker_db_url=stock_tracker)
        try:
            ours = start_bot_stack(model, ours_shop, log_dir=workdir)
            try:
                yield ours, stock
            finally:
                ours.stop()
        finally:
            stock.stop()


def _post(url: str, body: Dict[str, Any]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _events(rasa_url: str, sender: str, token: str) -> List[Any]:
    query = urllib.parse.urlencode({"token": token})
    with urllib.request.urlopen(f"{rasa_url}/conversations/{sender}/tracker?{query}", timeout=60) as response:
        return [_steady(event) for event in json.loads(response.read())["events"]]


def _steady(value: Any) -> Any:
    """``value`` without what varies from run to run."""
    if isinstance(value, dict) and value.get("event") == "bot" and \
            (value.get("metadata") or {}).get("utter_action") in VARIED:
        value = {k: v for k, v in value.items() if k != "text"}  # the wording picked
    if isinstance(value, dict):
        return {k: _steady(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    if isinstance(value, str):
        return REFERENCE.sub(REFERENCE_PREFIX + "<reference>", value)
    return value


def _without_text(replies: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{k: v for k, v in reply.items() if k != "text"} for reply in replies]


def test_every_dialogue_goes_as_with_stock_rasa(both: Tuple[BotStack, BotProcess]) -> None:
    ours, stock = both
    turns = 0
    for number, dialogue in enumerate(assistant_eval.dialogues()):
        sender = f"as-rasa-{number}"
        role = dialogue.get("role")
        metadata = {"line": "chat", **({"role": role} if role not in (None, "none") else {})}
        for turn in dialogue["turns"]:
            body = {"sender": sender, "message": turn["user"], "metadata": metadata}
            said = [_steady(_post(f"{side.rasa_url}/webhooks/rest/webhook", body)) for side in (ours, stock)]
            # every reply with what it carries (its words are compared in the events below)
            assert _without_text(said[0]) == _without_text(said[1]), (dialogue["name"], turn["user"])
            turns += 1
        assert _events(ours.rasa_url, sender, ours.rasa_token) == _events(stock.rasa_url, sender, ""), \
            dialogue["name"]
    assert turns == sum(len(d["turns"]) for d in assistant_eval.dialogues()) > 200
