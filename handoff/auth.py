"""Agent passwords and signed tokens (shopper and agent).

Passwords are hashed with Argon2id (``argon2-cffi``, its default parameters).

A token is ``<payload>.<signature>``: ``payload`` is base64url JSON
``{"k": kind, "s": subject, "e": expiry (unix s)}`` and ``signature`` the
base64url HMAC-SHA256 of ``"<kind>." + payload`` under the gateway secret.
Binding the kind into the MAC (and the payload) means an agent token is never
a valid shopper token and the reverse. Only the standard library is used.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SHOPPER = "shopper"
AGENT = "agent"

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong username costs
# the same time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """Argon2id hash of ``password`` (salted, self-describing)."""
    return _hasher.hash(password)


def verify_password(password_hash: Optional[str], password: str) -> bool:
    """True when ``password`` matches; ``None`` hash burns the same time and fails."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    kind: str
    subject: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and checks tokens with one secret shared by all gateway processes."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the token secret must not be empty")
        self._key = hashlib.sha256(("kara-gateway:" + secret).encode("utf-8")).digest()

    def _mac(self, kind: str, payload: str) -> str:
        digest = hmac.new(self._key, f"{kind}.{payload}".encode("ascii"), hashlib.sha256).digest()
        return _b64(digest)

    def issue(self, kind: str, subject: str, ttl_s: int, *, now: Optional[float] = None) -> str:
        expires = int((time.time() if now is None else now) + ttl_s)
        body = json.dumps({"k": kind, "s": subject, "e": expires}, separators=(",", ":"))
        payload = _b64(body.encode("utf-8"))
        return f"{payload}.{self._mac(kind, payload)}"

    def verify(self, token: str, kind: str, *, now: Optional[float] = None) -> Optional[TokenClaims]:
        """The claims of a valid, unexpired token of ``kind``; otherwise None."""
        if not isinstance(token, str) or token.count(".") != 1:
            return None
        payload, signature = token.split(".")
        try:
            if not hmac.compare_digest(signature.encode("ascii"), self._mac(kind, payload).encode("ascii")):
                return None
            body = json.loads(_unb64(payload))
        except (ValueError, UnicodeError):
            return None
        if not isinstance(body, dict) or body.get("k") != kind:
            return None
        subject, expires = body.get("s"), body.get("e")
        if not isinstance(subject, str) or not isinstance(expires, int):
            return None
        if expires < (time.time() if now is None else now):
            return None
        return TokenClaims(kind=kind, subject=subject, expires=expires)
