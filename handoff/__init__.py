"""Kara Support Chat handoff gateway: websockets in front of Rasa and human agents.

Where things are:

* ``PROTOCOL.md``: the websocket protocol (every frame, field and error);
  ``protocol.py``: its limits, error codes and client frame parser
  (``client_frames.py``: the client frames as typed records);
  ``frames/``: every frame the gateway sends (``base.py``, ``shopper.py``, ``agent.py``).
* ``live_state.py``: the queue and live state contract (``QueueStore``) and
  the in-memory store; ``live_state_redis.py``: the Redis store (Lua, atomic).
* ``storage.py``: SQL storage (SQLAlchemy); ``models.py``: the schema;
  ``migrations/``: Alembic.
* ``service.py``: the ``Gateway`` facade (one method per frame) over its
  parts, named as PROTOCOL.md names them: ``shopper.py`` (hello/resume,
  typing, rating, ticket), ``ordering.py`` (messages: accept, store,
  acknowledge, relay, bot turns, in order), ``bot.py`` (asking the
  assistant), ``handoffs.py`` (queueing, paging), ``agents.py`` (login,
  claim, transfer, hand back, close, grace period), ``waits.py`` (wait
  estimates), ``recovery.py`` (live state rebuilt, missed frames replayed),
  ``lifecycle.py`` (start, close, heartbeat); ``core.py``: what they share.
* ``server.py``: the websocket server (start, stop); ``session.py``: one socket's loop,
  both endpoints; ``web.py``: login and static files
  on the same port; ``hub.py`` + ``bus.py``: relaying frames between sockets
  and processes; ``throttle.py``: login and new-chat limits.
* ``auth.py`` (passwords, tokens), ``rasa_client.py``, ``paging.py``,
  ``ratelimit.py``, ``logs.py`` (PII redaction), ``config.py``, ``cli.py``.
* ``contract.py``: the handoff payload the assistant sends (fixed).

Run it with ``python -m handoff serve`` (see ``cli.py``).
"""
