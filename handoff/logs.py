"""Logging that keeps personal data out: emails, phone and card numbers.

:func:`setup` installs a root handler whose :class:`RedactingFilter` rewrites
every record's final message, so even a careless ``logger.info("%s", text)``
does not leak what a shopper typed. The gateway itself never logs message
text; this is the safety net.
"""
from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# card numbers: 13-19 digits, optionally grouped by spaces or dashes, Luhn-valid
_CARD = re.compile(r"(?<![\w+])(?:\d[ -]?){12,18}\d(?!\w)")
# phone numbers: +234 803 123 4567, 0803-123-4567, (0803) 1234567: 9+ digits
_PHONE = re.compile(r"(?<![\w])\+?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,5}(?![\w])")


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: "re.Match[str]") -> str:
    digits = "".join(c for c in match.group() if c.isdigit())
    return "[card]" if _luhn(digits) else match.group()


def _phone(match: "re.Match[str]") -> str:
    return "[phone]" if sum(c.isdigit() for c in match.group()) >= 9 else match.group()


def redact(text: str) -> str:
    """``text`` with emails, card numbers and phone numbers replaced."""
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def setup(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
