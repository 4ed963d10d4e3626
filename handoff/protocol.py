"""The websocket JSON protocol, version 1: limits, error codes, client frames.

``PROTOCOL.md`` beside this file is the documentation the widget and the
console are written against; this module is its executable form. Every
client frame is parsed by :func:`parse_frame` into one of the frozen
dataclasses of :mod:`handoff.client_frames` (re-exported here), or rejected with a :class:`ProtocolError` whose
:meth:`~ProtocolError.frame` is the ``error`` frame to send back. Parsing
never raises anything else, whatever the input.

What the gateway sends back is built in :mod:`handoff.frames` (every server
frame, ``error`` included).
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Type, Union

from .contract import QUEUES
from .live_status import STATUSES

# Server frames are built in handoff.frames; these names are re-exported here for earlier callers.
from .frames import INTERNAL_ERROR, error, internal_error
from .frames import VERSION as VERSION
from .frames import dumps as dumps

# Client frames: typed records in handoff.client_frames (one per frame type), re-exported here.
from .client_frames import ShopperHello as ShopperHello
from .client_frames import ShopperMessage as ShopperMessage
from .client_frames import ShopperTyping as ShopperTyping
from .client_frames import Rating as Rating
from .client_frames import Ticket as Ticket
from .client_frames import AgentHello as AgentHello
from .client_frames import Claim as Claim
from .client_frames import AgentMessage as AgentMessage
from .client_frames import AgentTyping as AgentTyping
from .client_frames import Transfer as Transfer
from .client_frames import Status as Status
from .client_frames import ListChats as ListChats
from .client_frames import Watch as Watch
from .client_frames import Unwatch as Unwatch
from .client_frames import Reassign as Reassign
from .client_frames import Note as Note
from .client_frames import Handback as Handback
from .client_frames import Close as Close
from .client_frames import Seen as Seen
from .client_frames import ShopperFrame as ShopperFrame
from .client_frames import AgentFrame as AgentFrame
from .client_frames import ClientFrame as ClientFrame

#: Largest accepted text frame, in bytes of UTF-8.
MAX_FRAME_BYTES = 4096
#: Largest accepted chat message text, in characters.
MAX_TEXT_CHARS = 2000
#: Largest ``ref`` / ``client_id`` a client may attach.
MAX_REF_CHARS = 64

ROLES = ("shopper", "vendor", "provider")
LINES = ("chat", "emergency")
STATES = ("bot", "waiting", "agent", "closed")

#: Close code used after an ``unauthorized`` error.
CLOSE_UNAUTHORIZED = 4401
#: Close code of a socket that did not say hello in time.
CLOSE_HELLO_TIMEOUT = 4408


class Code:
    """Error codes (the ``code`` of an ``error`` frame). See PROTOCOL.md."""

    BAD_JSON = "bad_json"
    BINARY = "binary_not_supported"
    TOO_LARGE = "too_large"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    BAD_VALUE = "bad_value"
    NOT_READY = "not_ready"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_CONVERSATIONS = "too_many_conversations"
    NOT_FOUND = "not_found"
    ALREADY_CLAIMED = "already_claimed"
    NOT_OWNER = "not_owner"
    FORBIDDEN = "forbidden"
    BAD_STATE = "bad_state"
    UNAVAILABLE = "unavailable"
    INTERNAL = INTERNAL_ERROR


class ProtocolError(Exception):
    """A client frame was refused; :meth:`frame` is the reply."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: Optional[str] = None,
        ref: Optional[str] = None,
        retry_after_ms: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.ref = ref
        self.retry_after_ms = retry_after_ms

    def frame(self) -> Dict[str, Any]:
        """The ``error`` frame to send back (built by :mod:`handoff.frames`)."""
        return error(
            self.code,
            self.message,
            field=self.field,
            ref=self.ref,
            retry_after_ms=self.retry_after_ms,
        )


# --------------------------------------------------------------------------
# Field validators: value -> value, or raise _Bad(code, message)


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Validator = Callable[[Any], Any]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def _string(max_chars: int, *, min_chars: int = 1, too_large: bool = False) -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Bad(Code.BAD_VALUE, "must be a string")
        if len(value) > max_chars:
            code = Code.TOO_LARGE if too_large else Code.BAD_VALUE
            raise _Bad(code, f"must be at most {max_chars} characters")
        if len(value.strip()) < min_chars:
            raise _Bad(Code.BAD_VALUE, "must not be empty")
        if "\x00" in value:  # no SQL database stores it in text
            raise _Bad(Code.BAD_VALUE, "must not contain NUL characters")
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(Code.BAD_VALUE, "must be true or false")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(Code.BAD_VALUE, "must be an integer")
    return value


def _agent_id(value: Any) -> int:
    agent_id = _integer(value)
    if agent_id < 1:
        raise _Bad(Code.BAD_VALUE, "must be an agent id")
    return agent_id


def _score(value: Any) -> int:
    score = _integer(value)
    if not 1 <= score <= 5:
        raise _Bad(Code.BAD_VALUE, "must be between 1 and 5")
    return score


def _one_of(choices: Tuple[str, ...]) -> Validator:
    def check(value: Any) -> str:
        if value not in choices:
            raise _Bad(Code.BAD_VALUE, "must be one of " + ", ".join(choices))
        return str(value)

    return check


def _email(value: Any) -> str:
    email = str(_string(254)(value)).strip()
    if not _EMAIL.match(email):
        raise _Bad(Code.BAD_VALUE, "must be an email address")
    return email


_BROWSER = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _browser(value: Any) -> str:
    if not isinstance(value, str) or not _BROWSER.match(value):
        raise _Bad(Code.BAD_VALUE, "must be 16-64 letters, digits, '-' or '_'")
    return value


_text = _string(MAX_TEXT_CHARS, too_large=True)
_id = _string(MAX_REF_CHARS)
_token = _string(2048)

# type -> (dataclass, {field: (validator, required)})
_Spec = Tuple[Type[Any], Mapping[str, Tuple[Validator, bool]]]

SHOPPER_FRAMES: Mapping[str, _Spec] = {
    "hello": (
        ShopperHello,
        {
            "v": (_integer, True),
            "token": (_token, False),
            "role": (_one_of(ROLES), False),
            "line": (_one_of(LINES), False),
            "browser": (_browser, False),
        },
    ),
    "message": (ShopperMessage, {"text": (_text, True), "client_id": (_id, False), "first": (_boolean, False)}),
    "typing": (ShopperTyping, {"on": (_boolean, True)}),
    "rating": (Rating, {"score": (_score, True), "comment": (_string(500, min_chars=0), False)}),
    "ticket": (Ticket, {"email": (_email, True), "text": (_text, True)}),
}

AGENT_FRAMES: Mapping[str, _Spec] = {
    "hello": (AgentHello, {"v": (_integer, True), "token": (_token, True)}),
    "claim": (Claim, {"conversation_id": (_id, True)}),
    "message": (AgentMessage, {"conversation_id": (_id, True), "text": (_text, True)}),
    "typing": (AgentTyping, {"conversation_id": (_id, True), "on": (_boolean, True)}),
    "transfer": (
        Transfer, {"conversation_id": (_id, True), "queue": (_one_of(QUEUES), True), "note": (_text, False),
                   "agent_id": (_agent_id, False)}
    ),
    "status": (Status, {"status": (_one_of(STATUSES), True)}),
    "list_chats": (ListChats, {}),
    "watch": (Watch, {"conversation_id": (_id, True)}),
    "unwatch": (Unwatch, {"conversation_id": (_id, True)}),
    "reassign": (
        Reassign, {"conversation_id": (_id, True), "agent_id": (_agent_id, False), "queue": (_one_of(QUEUES), False)}
    ),
    "note": (Note, {"conversation_id": (_id, True), "text": (_text, True)}),
    "seen": (Seen, {"conversation_id": (_id, True), "up_to": (_id, True)}),
    "handback": (Handback, {"conversation_id": (_id, True)}),
    "close": (Close, {"conversation_id": (_id, True)}),
}


def parse_frame(raw: Union[str, bytes], frames: Mapping[str, _Spec]) -> Any:
    """Parse one websocket frame against an endpoint's frame table.

    Returns the typed frame, or raises :class:`ProtocolError` (never anything
    else). ``frames`` is :data:`SHOPPER_FRAMES` or :data:`AGENT_FRAMES`.
    """
    if not isinstance(raw, str):
        raise ProtocolError(Code.BINARY, "Binary frames are not supported; send JSON text.")
    if len(raw) > MAX_FRAME_BYTES or (  # a character is at most 4 bytes: short frames need no encoding
        len(raw) > MAX_FRAME_BYTES // 4 and len(raw.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES
    ):
        raise ProtocolError(Code.TOO_LARGE, f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ProtocolError(Code.BAD_JSON, "A frame must be one JSON object.")
    ref = body.get("ref")
    if ref is not None and not (isinstance(ref, str) and 0 < len(ref) <= MAX_REF_CHARS):
        raise ProtocolError(
            Code.BAD_VALUE, f"ref must be a string of 1..{MAX_REF_CHARS} characters.", field="ref"
        )
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in frames:
        known = ", ".join(frames)
        raise ProtocolError(Code.UNKNOWN_TYPE, f"Unknown frame type; expected one of {known}.", ref=ref)
    cls, fields = frames[kind]
    values: Dict[str, Any] = {"ref": ref}
    for name, (check, required) in fields.items():
        value = body.get(name)
        if value is None:
            if required:
                raise ProtocolError(Code.MISSING_FIELD, f"'{name}' is required.", field=name, ref=ref)
            continue
        try:
            values[name] = check(value)
        except _Bad as bad:
            raise ProtocolError(bad.code, f"'{name}' {bad.message}.", field=name, ref=ref) from None
    return cls(**values)


#: earlier names of :func:`handoff.frames.error` and :func:`handoff.frames.internal_error`
error_frame = error
internal_error_frame = internal_error
