"""Where the pool sends a conversation (rendezvous hashing), without processes."""
from __future__ import annotations

from collections import Counter

import pytest

from handoff.rasa_pool import RasaPool, client_key, split_urls

URLS = ["http://127.0.0.1:5005", "http://127.0.0.1:5006", "http://127.0.0.1:5007"]
CONVERSATIONS = [f"conversation-{n}" for n in range(3000)]


def test_urls_from_a_list_or_commas() -> None:
    assert split_urls("http://a:1, http://b:2/,http://a:1") == ["http://a:1", "http://b:2"]
    assert split_urls(["http://a:1,http://b:2", "http://c:3"]) == ["http://a:1", "http://b:2", "http://c:3"]
    with pytest.raises(ValueError):
        split_urls(" , ")


def test_every_gateway_places_a_conversation_on_the_same_process() -> None:
    one, other = RasaPool(URLS), RasaPool(list(reversed(URLS)))  # two gateways, listed differently
    assert all(one.owner(c).base_url == other.owner(c).base_url for c in CONVERSATIONS)
    spread = Counter(one.owner(c).base_url for c in CONVERSATIONS)
    assert all(800 < n < 1200 for n in spread.values()), spread  # about a third each


def test_a_process_leaving_moves_only_its_own_conversations() -> None:
    full, without_last = RasaPool(URLS), RasaPool(URLS[:2])
    for c in CONVERSATIONS:
        before = full.owner(c).base_url
        after = without_last.owner(c).base_url
        if before != URLS[2]:
            assert after == before
        else:  # its conversations go to their second choice
            assert after == full.ranking(c)[1].base_url


def test_a_process_marked_down_is_skipped_until_its_time_is_up() -> None:
    pool = RasaPool(URLS, down_for_s=60)
    c = CONVERSATIONS[0]
    first, second = pool.ranking(c)[:2]
    pool._mark_down(first)
    assert pool.owner(c) is second


def test_the_client_key_is_a_keyed_hash_of_the_host() -> None:
    key = client_key(b"secret", ("203.0.113.9", 51234))
    assert key == client_key(b"secret", ("203.0.113.9", 60000))  # the port does not matter
    assert key != client_key(b"other secret", ("203.0.113.9", 51234))
    assert key is not None and "203.0.113.9" not in key and len(key) == 32
    assert client_key(b"secret", None) is None
