"""actions.gated: the screen's alternations searched behind literal gates must answer
exactly as the whole alternation does (a gate that skipped a matching alternative
would miss an emergency)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, List

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from actions import safety
from actions.gated import GatedAlternation, necessary_factors

ROOT = Path(__file__).resolve().parents[2]
SCREENS = {name: value for name, value in vars(safety).items() if isinstance(value, GatedAlternation)}


def _texts() -> Iterator[str]:
    """Every message the repository has: training data, held-out sets, the screen's tests."""
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text()).get("nlu", []):
            for line in (item.get("examples") or "").splitlines():
                yield re.sub(r"\[([^\]]*)\][({][^)}]*[)}]", r"\1", line.lstrip("- ").strip())
    for name in ("out_of_domain.yml", "safety.yml", "dialogues.yml"):
        yield from re.findall(r'(?:text|user):\s*"?([^"\n}]+)', (ROOT / "tests" / "dialogues" / name).read_text())
    yield from re.findall(r'"([^"\n]{6,})"', (ROOT / "tests" / "actions" / "test_safety.py").read_text())


TEXTS: List[str] = sorted({safety.normalise(t) for t in _texts()} - {""})


def test_the_corpus_is_large_and_holds_emergencies() -> None:
    assert len(TEXTS) > 2500
    assert sum(1 for t in TEXTS if safety.EMERGENCY.search_whole(t)) > 150


@pytest.mark.parametrize("name", sorted(SCREENS))
def test_gated_search_answers_as_the_whole_alternation_on_every_message(name: str) -> None:
    screen = SCREENS[name]
    differ = [t for t in TEXTS if (screen.search(t) is None) != (screen.search_whole(t) is None)]
    assert differ == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(sorted({w for t in TEXTS for w in t.split()})), min_size=1, max_size=14))
def test_gated_search_answers_as_the_whole_on_mixed_words(words: List[str]) -> None:
    text = " ".join(words)
    for screen in SCREENS.values():
        assert (screen.search(text) is None) == (screen.search_whole(text) is None), text


@pytest.mark.parametrize("pattern, factors", [
    (r"chest", {"chest"}),
    (r"(?:pain|hurt)\s+(?:\w+\s+){0,3}chest", {"chest"}),  # the longer literal is the better gate
    (r"(?:fall|fell)\s+(?:down\s+)?for ground", {"for ground"}),
    (r"seiz(?:ur|ru|er)\w*", {"seiz"}),
    (r"(?:ab|cd)\w*", {"ab", "cd"}),
    (r"\w+ing", {"ing"}),
    (r"(?:\w+\s+)?x", {"x"}),
])
def test_necessary_factors(pattern: str, factors: set) -> None:
    assert necessary_factors(pattern) == frozenset(factors)


@pytest.mark.parametrize("pattern", [r"\w+", r"(?:abc)?", r"(?:abc|\w)", r"[a-z]{3}"])
def test_no_factors_when_no_literal_is_certain(pattern: str) -> None:
    assert necessary_factors(pattern) is None


@pytest.mark.parametrize("alternatives,text", [
    # the literal that opens the match starts inside one found before it ("abc", then "bcd")
    ([r"\w*abc\b", r"\w*bcd"], "abcd"),
    # the longest literal at a position ("chest painful") fails; its prefix's alternative matches
    ([r"chest painful\b", r"chest pain\w+"], "my chest painfully"),
    ([r"chest painful\b", r"chest\w*"], "chest painfully"),
])
def test_overlapping_and_nested_literals_open_their_alternatives(alternatives: List[str], text: str) -> None:
    screen = GatedAlternation(alternatives)
    found = screen.search(text)
    assert found is not None
    assert found.group() == screen.search_whole(text).group()
