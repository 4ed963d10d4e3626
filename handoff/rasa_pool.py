"""Several Rasa processes behind one client: :class:`RasaPool`.

It offers :class:`~handoff.rasa_client.RasaClient`'s interface (``send``,
``pause``, ``resume``, ``forget`` by conversation id, ``close``), so the
gateway does not know how many Rasa processes there are.

* **Placement**: rendezvous hashing. Every conversation ranks the processes by
  ``sha256(url | conversation id)``; all its turns go to the first process of
  its ranking that is up. The ranking is the same in every gateway process and
  moves only the conversations of a process that left. One process per
  conversation keeps Rasa's per-process lock (or its Redis lock store, see
  RasaHQ/rasa#9213) from racing two replicas on one tracker.
* **Failover**: a process that refuses the connection (the request never
  reached it, so nothing was processed) is marked down for ``down_for_s`` and
  the same request goes to the next process of the ranking, which finds the
  conversation's context in the shared SQL tracker store. A timeout or a
  connection dropped mid-answer is not retried elsewhere (the turn may have
  been stored: retrying could store it twice); the process is marked down so
  the next message goes elsewhere, and the caller gets ``RasaUnavailable``.
* **Client key**: the gateway notes each conversation's remote address
  (:meth:`note_client`); ``send`` adds ``metadata["client"]``, a keyed hash of
  it (HMAC-SHA256 with the gateway secret, shared by every gateway process),
  which the order lookup counts failed verifications by. The raw address
  never reaches Rasa's tracker.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import aiohttp

from .rasa_client import Each, RasaActionsFailed, RasaClient, RasaUnavailable

#: conversations whose client key is remembered (oldest forgotten first)
MAX_CLIENTS = 100_000


def split_urls(raw: Union[str, Sequence[str]]) -> List[str]:
    """``"http://a:5005,http://b:5005"`` or a list of them -> distinct URLs, in order."""
    parts = raw.split(",") if isinstance(raw, str) else [p for item in raw for p in item.split(",")]
    urls: List[str] = []
    for part in parts:
        url = part.strip().rstrip("/")
        if url and url not in urls:
            urls.append(url)
    if not urls:
        raise ValueError("no Rasa URL given")
    return urls


def client_key(secret: bytes, address: Any) -> Optional[str]:
    """Keyed hash of a remote address's host part (the port changes per connection)."""
    host = address[0] if isinstance(address, (tuple, list)) and address else address
    if not isinstance(host, str) or not host:
        return None
    return hmac.new(secret, b"client:" + host.encode(), hashlib.sha256).hexdigest()[:32]


def _refused(exc: RasaUnavailable) -> bool:
    return isinstance(exc.__cause__, aiohttp.ClientConnectorError)


class RasaPool:
    def __init__(self, base_urls: Union[str, Sequence[str]], *, timeout_s: float = 20.0,
                 token: Optional[str] = None, secret: Union[str, bytes, None] = None,
                 down_for_s: float = 5.0) -> None:
        self.members = [RasaClient(url, timeout_s=timeout_s, token=token) for url in split_urls(base_urls)]
        self._down_until: Dict[str, float] = {}
        self._down_for_s = down_for_s
        key = secret.encode() if isinstance(secret, str) else secret
        self._secret = key or hashlib.sha256(str(id(self)).encode() + str(time.time()).encode()).digest()
        self._clients: "OrderedDict[str, str]" = OrderedDict()

    @property
    def base_url(self) -> str:
        return ",".join(member.base_url for member in self.members)

    def ranking(self, sender: str) -> List[RasaClient]:
        """The processes in ``sender``'s order of preference (ignores health)."""
        def score(member: RasaClient) -> bytes:
            return hashlib.sha256(f"{member.base_url}|{sender}".encode()).digest()

        return sorted(self.members, key=score, reverse=True)

    def _candidates(self, sender: str) -> List[RasaClient]:
        """The ranking with processes marked down moved to the end (still tried
        when nothing else is left)."""
        now = time.monotonic()
        ranked = self.ranking(sender)
        up = [m for m in ranked if self._down_until.get(m.base_url, 0.0) <= now]
        return up + [m for m in ranked if m not in up]

    def owner(self, sender: str) -> RasaClient:
        """The process ``sender``'s turns go to now."""
        return self._candidates(sender)[0]

    def _mark_down(self, member: RasaClient) -> None:
        self._down_until[member.base_url] = time.monotonic() + self._down_for_s

    def note_client(self, sender: str, address: Any) -> None:
        """Remember the keyed hash of ``sender``'s remote address for its turns."""
        key = client_key(self._secret, address)
        if key is None:
            return
        self._clients[sender] = key
        self._clients.move_to_end(sender)
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)

    async def _each(self, sender: str, call: str, *args: Any) -> Any:
        last: Optional[RasaUnavailable] = None
        for member in self._candidates(sender):
            try:
                return await getattr(member, call)(sender, *args)
            except RasaActionsFailed:
                raise  # it answered (no reply: its action server failed)
            except RasaUnavailable as exc:
                last = exc
                self._mark_down(member)
                if _refused(exc):
                    continue  # never reached it: the next process takes the request
                raise  # timed out or dropped mid-answer: not retried elsewhere
        assert last is not None
        raise last

    async def send(self, sender: str, text: str, metadata: Dict[str, Any],
                   each: Optional[Each] = None) -> List[Dict[str, Any]]:
        """The bot's replies (``each``: streamed, see :meth:`RasaClient.send`;
        a process that refused the connection sent none, so the next one is asked)."""
        client = self._clients.get(sender)
        if client is not None:
            metadata = {**metadata, "client": client}
        replies: List[Dict[str, Any]] = await self._each(sender, "send", text, metadata, each)
        return replies

    async def pause(self, sender: str) -> None:
        await self._each(sender, "pause")

    async def resume(self, sender: str) -> None:
        await self._each(sender, "resume")

    async def forget(self, sender: str) -> bool:
        """Erase the conversation's tracker in every process (each may hold it
        in memory). False when none is running; raises when one is up but refuses."""
        results: Tuple[Union[bool, BaseException], ...] = tuple(
            await asyncio.gather(*(m.forget(sender) for m in self.members), return_exceptions=True)
        )
        self._clients.pop(sender, None)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return any(results)

    async def close(self) -> None:
        for member in self.members:
            await member.close()
