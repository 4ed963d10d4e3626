"""Finding policy facts in text, for the single-source-of-truth tests."""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, Set

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")  # not user@127.0.0.1
PHONE = re.compile(r"\+?\d[\d ()-]{8,}\d")
WINDOW = re.compile(r"\b\d+\s*(?:-|–|to)\s*\d+\s*(?:business days|hours)\b|\b\d+\s+business days?\b",
                    re.IGNORECASE)
CLOCK = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:AM|PM)\b", re.IGNORECASE)
ALWAYS = re.compile(r"\b24/7\b")
PLACEHOLDER = re.compile(r"{(\w+)}")
EXAMPLE_DOMAINS = ("example.com", "example.org", "example.ng")


def literal_facts(text: str) -> List[str]:
    """Every email, phone number, window, clock time or "24/7" written in ``text``."""
    found = [e for e in EMAIL.findall(text) if not e.endswith(EXAMPLE_DOMAINS)]
    for pattern in (PHONE, WINDOW, CLOCK, ALWAYS):
        found += pattern.findall(text)
    return found


def render(template: str, values: Dict[str, str]) -> str:
    """Fill ``{placeholders}`` the way Rasa fills responses from slots."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def stated_facts(text: str) -> Dict[str, Set[str]]:
    """The facts a rendered answer states, by kind."""
    return {
        "emails": {e.lower() for e in EMAIL.findall(text) if not e.endswith(EXAMPLE_DOMAINS)},
        "phones": {re.sub(r"\D", "", p) for p in PHONE.findall(text)},
        "windows": {w.lower().replace("–", "-") for w in WINDOW.findall(text)},
    }


def response_texts(domain: dict) -> Iterator[tuple]:
    """(response name, text) for every variation of every response in a domain."""
    for name, variations in (domain.get("responses") or {}).items():
        for variation in variations:
            if variation.get("text"):
                yield name, variation["text"]
            for button in variation.get("buttons") or []:
                yield name, button.get("title", "")
