"""A regular expression of many alternatives, searched only where it can match.

The safety screen is one alternation of about two hundred patterns, and
Python's ``re`` tries every alternative at every word of a message: about
0.3-0.6 ms a message, on the gateway's relay path (every message written
while a chat waits or is with a person is screened) and in every Rasa turn.
Most alternatives need some literal text to match at all ("chest", "for
ground", "bleed"). :func:`necessary_factors` reads that off the parsed
pattern (the way RE2's prefilter does): a set of strings one of which every
match contains. :class:`GatedAlternation` runs an alternative only when the
text holds one of its strings, and always runs the few that need none; the
strings a text holds are found by one search of a trie of them all (3-5 µs a
chat message, against 11 µs for one substring test per string). The answer
is the same as the whole alternation's, only cheaper; ``tests/actions/test_gated.py`` holds it equal on every message the
repository has. Standard library only (both environments load it).
"""
from __future__ import annotations

import importlib
import re
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

# Python 3.11+: the parser is re._parser (sre_parse is a deprecated alias); 3.10: sre_parse.
try:
    sre_parse: Any = importlib.import_module("re._parser")
except ImportError:
    sre_parse = importlib.import_module("sre_parse")

Factors = Optional[FrozenSet[str]]

_LITERAL = sre_parse.LITERAL
_BRANCH = sre_parse.BRANCH
_SUBPATTERN = sre_parse.SUBPATTERN
_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT} | (
    {sre_parse.POSSESSIVE_REPEAT} if hasattr(sre_parse, "POSSESSIVE_REPEAT") else set())
#: Items that match no text: a literal run goes on across them, they require nothing.
_ZERO_WIDTH = {sre_parse.AT, sre_parse.ASSERT, sre_parse.ASSERT_NOT}


def _better(a: Factors, b: Factors) -> Factors:
    """The more selective of two necessary sets (longer shortest string, then fewer strings)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if (min(map(len, a)), -len(a)) >= (min(map(len, b)), -len(b)) else b


def _sequence(items: Sequence[Tuple[Any, Any]]) -> Factors:
    """Every item of a sequence must match, so any item's necessary set serves: the best one."""
    best: Factors = None
    run = ""
    for op, av in items:
        if op == _LITERAL:
            run += chr(av).lower()
            continue
        if run:
            best = _better(best, frozenset([run]))
            run = ""
        if op in _ZERO_WIDTH:
            continue
        best = _better(best, _item(op, av))
    if run:
        best = _better(best, frozenset([run]))
    return best


def _item(op: Any, av: Any) -> Factors:
    if op == _SUBPATTERN:
        return _sequence(av[-1].data)
    if op == _BRANCH:
        found: set[str] = set()
        for alternative in av[1]:
            factors = _sequence(alternative.data)
            if factors is None:
                return None  # an alternative that needs no literal: the branch needs none
            found |= factors
        return frozenset(found)
    if op in _REPEATS and av[0] >= 1:
        return _sequence(av[2].data)
    return None  # character classes, any character, optional repeats: nothing certain


def necessary_factors(pattern: str) -> Factors:
    """Strings one of which every match of ``pattern`` contains (lower case), or None."""
    return _sequence(sre_parse.parse(pattern).data)


def _trie_pattern(literals: Iterable[str]) -> str:
    """A pattern matching exactly ``literals``, longest first, their common
    prefixes merged (``chest``, ``chest pain``: ``chest(?: pain)?``)."""
    trie: Dict[str, Any] = {}
    for literal in literals:
        node = trie
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}  # a literal ends here

    def emit(node: Dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        pattern = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return "(?:" + pattern + ")?" if "" in node else pattern  # greedy: the longer literal first

    return emit(trie)


class GatedAlternation:
    """``\\b(?:alternative|...)`` searched alternative by alternative, each behind its gate.

    ``search`` answers like ``re.search`` of the whole alternation on lower-case text
    (the screen's texts are normalised): a match object or None."""

    def __init__(self, alternatives: Sequence[str], flags: int = re.IGNORECASE) -> None:
        self.pattern = r"\b(?:" + "|".join(alternatives) + r")"
        self._whole = re.compile(self.pattern, flags)
        gated: List[Tuple[Factors, "re.Pattern[str]"]] = []
        for alternative in alternatives:
            gated.append((necessary_factors(alternative), re.compile(r"\b(?:" + alternative + r")", flags)))
        self._gated = gated
        # Each literal once, with the alternatives it opens: one substring test per literal.
        self._always = [i for i, (factors, _) in enumerate(gated) if factors is None]
        opens: Dict[str, List[int]] = {}
        for i, (factors, _) in enumerate(gated):
            for factor in factors or ():
                opens.setdefault(factor, []).append(i)
        # Every literal the text holds, found by one pattern: a trie of the
        # literals (a position costs a few character tests, not one per literal),
        # searched again from the next position after each find (occurrences may
        # overlap). Where it matches it matches the longest literal; every other
        # literal starting there is a prefix of it, so that literal opens what its
        # prefixes open.
        self._finder = re.compile(_trie_pattern(opens)) if opens else None
        self._opened_by = {
            literal: sorted({i for prefix, alternatives in opens.items() if literal.startswith(prefix)
                             for i in alternatives})
            for literal in opens
        }

    def search(self, text: str) -> Optional["re.Match[str]"]:
        candidates = set(self._always)
        finder = self._finder
        found = finder.search(text) if finder is not None else None
        while found is not None:
            candidates.update(self._opened_by[found.group()])
            found = finder.search(text, found.start() + 1)  # type: ignore[union-attr]
        for i in sorted(candidates):  # in the alternation's order, as the whole pattern tries them
            found = self._gated[i][1].search(text)
            if found is not None:
                return found
        return None

    def search_whole(self, text: str) -> Optional["re.Match[str]"]:
        """The plain alternation (what the gates must agree with; tests and benchmarks)."""
        return self._whole.search(text)
