"""The gateway's client of the Rasa server (REST channel + HTTP API).

* :meth:`RasaClient.send`: ``POST {rasa}/webhooks/rest/webhook`` with
  ``{"sender", "message", "metadata": {"role", "line"}}``; returns the bot's
  replies (``text`` / ``buttons`` / ``image`` / ``custom``). Given ``each``,
  it asks with ``?stream=true``: the REST channel then writes each reply as
  one JSON line as soon as the bot utters it, and ``each`` gets it then.
  Rasa's turn goes on after the last reply (it predicts the next action, then
  saves the tracker: 2-3 ms here), which the gateway spends storing it.
  Rasa 3.6 leaves a stream open when its turn raises (until this client's
  timeout); the project's Rasa processes end it with the replies so far, as
  the plain answer does (``bot/rasa_speedups/rest_stream.py``).
* :meth:`RasaClient.pause` / :meth:`RasaClient.resume`:
  ``POST {rasa}/conversations/{id}/tracker/events`` with ``{"event": "pause"}``
  / ``{"event": "resume"}`` (server started with ``--enable-api``).
* :meth:`RasaClient.forget`: ``PUT {rasa}/conversations/{id}/tracker/events``
  with ``[]``: the conversation's tracker replaced by an empty one (a
  transcript deleted on request takes the assistant's copy with it).

The HTTP API calls carry ``?token=`` when the client has a token (Rasa started
with ``--auth-token``); the REST webhook needs none.

Anything but a timely 2xx JSON answer raises :class:`RasaUnavailable`. So does
an empty reply list to a shopper message: Rasa's REST channel answers ``[]``
when the action server failed, and every message of this assistant gets at
least one reply when all is well.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, Dict, List, Optional

import aiohttp

#: called with each reply of a streamed answer as it arrives (see :meth:`RasaClient.send`)
Each = Callable[[Dict[str, Any]], None]
_STREAM = {"stream": "true"}


class RasaUnavailable(Exception):
    """Rasa or its action server did not answer usefully."""


class RasaActionsFailed(RasaUnavailable):
    """Rasa answered, with no reply: its action server failed (a lookup it
    needed could not run)."""


class RasaClient:
    def __init__(self, base_url: str, *, timeout_s: float = 20.0, token: Optional[str] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._params = {"token": token} if token else None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(5.0, timeout_s))
        self._session: Optional[aiohttp.ClientSession] = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _post(self, path: str, body: Any, method: str = "POST") -> Any:
        params = None if path.startswith("/webhooks/") else self._params
        try:
            async with self._client().request(method, self.base_url + path, json=body,
                                              params=params) as response:
                if response.status // 100 != 2:
                    raise RasaUnavailable(f"rasa answered HTTP {response.status} to {path}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"rasa did not answer {path}: {type(exc).__name__}") from exc

    async def _stream(self, path: str, body: Any, each: Each) -> List[Dict[str, Any]]:
        """``POST`` with ``?stream=true``: one JSON reply a line, each handed
        to ``each`` as soon as its line is complete."""
        replies: List[Dict[str, Any]] = []

        def take(line: bytes) -> None:
            if line.strip():
                reply = json.loads(line)
                if isinstance(reply, dict):
                    replies.append(reply)
                    each(reply)

        try:
            async with self._client().post(self.base_url + path, json=body, params=_STREAM) as response:
                if response.status // 100 != 2:
                    raise RasaUnavailable(f"rasa answered HTTP {response.status} to {path}")
                rest = b""
                async for chunk in response.content.iter_any():
                    *lines, rest = (rest + chunk).split(b"\n")
                    for line in lines:
                        take(line)
                take(rest)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"rasa did not answer {path}: {type(exc).__name__}") from exc
        return replies

    async def send(self, sender: str, text: str, metadata: Dict[str, Any],
                   each: Optional[Each] = None) -> List[Dict[str, Any]]:
        body = {"sender": sender, "message": text, "metadata": metadata}
        if each is not None:
            replies = await self._stream("/webhooks/rest/webhook", body, each)
        else:
            answer = await self._post("/webhooks/rest/webhook", body)
            if not isinstance(answer, list):
                raise RasaUnavailable("rasa answered something that is not a list")
            replies = [reply for reply in answer if isinstance(reply, dict)]
        if not replies:
            raise RasaActionsFailed("rasa answered no reply (is the action server up?)")
        return replies

    async def pause(self, sender: str) -> None:
        await self._post(f"/conversations/{sender}/tracker/events", {"event": "pause"})

    async def resume(self, sender: str) -> None:
        await self._post(f"/conversations/{sender}/tracker/events", {"event": "resume"})

    async def forget(self, sender: str) -> bool:
        """Erase what the assistant holds of a conversation (its tracker: every
        message, slot and event). False when no Rasa server is running at the
        address at all (connection refused): the default in-memory tracker
        store died with it, so there is nothing left to erase."""
        try:
            await self._post(f"/conversations/{sender}/tracker/events", [], method="PUT")
        except RasaUnavailable as exc:
            if isinstance(exc.__cause__, aiohttp.ClientConnectorError):
                return False
            raise
        return True

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
