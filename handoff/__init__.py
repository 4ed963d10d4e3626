"""Kara Support Chat handoff gateway: websockets in front of Rasa and human agents.

Where things are:

* ``PROTOCOL.md``: the websocket protocol (every frame, field and error);
  ``protocol.py``: its limits, error codes and frame parser; ``frames.py``:
  the ``message`` frames built from stored messages.
* ``live_state.py``: the queue and live state contract (``QueueStore``) and
  the in-memory store; ``live_state_redis.py``: the Redis store (Lua, atomic).
* ``storage.py``: SQL storage (SQLAlchemy); ``models.py``: the schema;
  ``migrations/``: Alembic.
* ``service.py``: what happens to a conversation (bot, handoff, claim,
  transfer, hand-back, close, grace period, paging); ``turns.py``: the
  assistant's answers, one at a time per conversation.
* ``server.py``: the websocket endpoints; ``web.py``: login and static files
  on the same port; ``hub.py`` + ``bus.py``: relaying frames between sockets
  and processes; ``throttle.py``: login and new-chat limits.
* ``auth.py`` (passwords, tokens), ``rasa_client.py``, ``paging.py``,
  ``ratelimit.py``, ``logs.py`` (PII redaction), ``config.py``, ``cli.py``.
* ``contract.py``: the handoff payload the assistant sends (fixed).

Run it with ``python -m handoff serve`` (see ``cli.py``).
"""
