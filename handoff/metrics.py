"""Prometheus metrics of one gateway process (``GET /metrics``, see :mod:`handoff.ops.http`).

Each :class:`GatewayMetrics` has its own ``CollectorRegistry`` (never the
library's global one), so several gateways in one process (the tests) do not
mix their figures.

* **Counters and the histogram** are updated where the event happens, one
  line at each call site: ``kara_bot_turn_seconds`` (the assistant's answer
  to one message, :meth:`GatewayMetrics.timed`), ``kara_assistant_failures_total``
  (by kind: ``unavailable`` = Rasa did not answer, ``actions_failed`` = its
  action server failed), ``kara_refusals_total`` (frames answered with an
  error, by endpoint and code: ``code="rate_limited"`` are the rate-limit
  refusals) and ``kara_messages_stored_total`` (by sender; counted by the
  storage's group-commit writer, read here).
* **Gauges** are read from the live state at scrape time
  (:meth:`GatewayMetrics.scrape`): sockets open on this process by kind,
  conversations waiting or with an agent (all processes: the shared live
  state), queue lengths and the oldest wait per queue, agents online, and
  ``kara_sla_breached_waiting``: chats still waiting past their queue's
  first-response deadline (:func:`handoff.ops.sla.deadline`, open hours only).
* ``kara_sla_breaches_total`` (by queue) counts the breaches the SLA watcher
  escalated (:mod:`handoff.escalation`): waiting or claimed without a
  person's answer past the deadline, each chat once over all processes.

Counters count this process since it started (Prometheus sums processes and
handles restarts); gauges of the shared live state are the same on every process.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Dict, Iterator, List, Optional, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .contract import QUEUES
from .ops import sla
from .ops.settings import Ops

if TYPE_CHECKING:  # the gateway imports this module, not the reverse
    from .service import Gateway

T = TypeVar("T")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: seconds; the assistant answers in about 0.1-2 s, its timeout is 20 s
TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)


@dataclass
class LiveFigures:
    """What the gauges show, read from the live state at one scrape."""

    sockets: Dict[str, int] = field(default_factory=dict)
    conversations: Dict[str, int] = field(default_factory=dict)
    queue_length: Dict[str, int] = field(default_factory=dict)
    oldest_wait_s: Dict[str, float] = field(default_factory=dict)
    breached: Dict[str, int] = field(default_factory=dict)
    agents_online: int = 0
    stored: Dict[str, int] = field(default_factory=dict)


class _LiveCollector:
    """The scrape-time figures as metric families (prometheus_client's custom collector)."""

    def __init__(self, owner: "GatewayMetrics") -> None:
        self.owner = owner

    def describe(self) -> List[Metric]:
        return []  # families are made at collect time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        live = self.owner.live

        def gauge(name: str, doc: str, label: str, values: Dict[str, Any]) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=[label])
            for key, value in sorted(values.items()):
                family.add_metric([key], value)
            return family

        yield gauge("kara_open_sockets", "Websockets open on this process (after hello), by kind.", "kind",
                    live.sockets)
        yield gauge("kara_conversations", "Conversations waiting for or with a person (all processes).", "state",
                    live.conversations)
        yield gauge("kara_queue_length", "Chats waiting in each queue.", "queue", live.queue_length)
        yield gauge("kara_queue_oldest_wait_seconds", "How long the longest-waiting chat of each queue has waited.",
                    "queue", live.oldest_wait_s)
        yield gauge("kara_sla_breached_waiting", "Chats still waiting past their queue's first-response deadline.",
                    "queue", live.breached)
        yield GaugeMetricFamily("kara_agents_online", "Agents online (any process).", value=live.agents_online)
        stored = CounterMetricFamily("kara_messages_stored", "Messages stored by this process, by sender.",
                                     labels=["sender"])
        for sender, n in sorted(live.stored.items()):
            stored.add_metric([sender], n)
        yield stored


class GatewayMetrics:
    """The metrics of one gateway (see module docs)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.bot_turn = Histogram("kara_bot_turn_seconds", "Time the assistant took to answer one message.",
                                  buckets=TURN_BUCKETS, registry=self.registry)
        self.assistant_failures = Counter("kara_assistant_failures", "Messages the assistant did not answer, by kind.",
                                          ["kind"], registry=self.registry)
        self.refusals = Counter("kara_refusals", "Frames refused with an error, by endpoint and error code.",
                                ["endpoint", "code"], registry=self.registry)
        for kind in ("unavailable", "actions_failed"):  # shown as 0 before the first one
            self.assistant_failures.labels(kind)
        for endpoint in ("shopper", "agent"):
            self.refusals.labels(endpoint, "rate_limited")
        #: escalated by this process (handoff/escalation.py: once over all processes; Prometheus sums them)
        self.sla_breaches = Counter("kara_sla_breaches", "Chats escalated for missing their queue's first-response "
                                    "target (waiting or claimed without an answer), by queue.", ["queue"],
                                    registry=self.registry)
        for queue in QUEUES:
            self.sla_breaches.labels(queue)
        self.live = LiveFigures()
        #: handoff id -> its SLA deadline (computed once per waiting chat)
        self._deadlines: Dict[int, Optional[dt.datetime]] = {}
        self.registry.register(_LiveCollector(self))  # duck-typed collector

    async def timed(self, asking: Awaitable[T]) -> T:
        """Await the assistant's answer, observing how long it took (a failure is counted, then re-raised)."""
        from .rasa_client import RasaActionsFailed, RasaUnavailable

        started = time.monotonic()
        try:
            answer = await asking
        except RasaUnavailable as exc:
            self.assistant_failures.labels("actions_failed" if isinstance(exc, RasaActionsFailed)
                                           else "unavailable").inc()
            raise
        self.bot_turn.observe(time.monotonic() - started)
        return answer

    def refused(self, endpoint: str, code: str) -> None:
        """A frame of ``endpoint`` (shopper | agent) answered with the error ``code``."""
        self.refusals.labels(endpoint, str(code)).inc()

    async def scrape(self, gateway: "Gateway", ops: Ops) -> bytes:
        """Read the live state into the gauges, then the exposition text."""
        self.live = await self._read(gateway, ops)
        return generate_latest(self.registry)

    async def _read(self, gateway: "Gateway", ops: Ops) -> LiveFigures:
        store, hub = gateway.live, gateway.hub
        snapshot = await store.snapshot()
        now = time.time()
        now_dt = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        live = LiveFigures()
        live.sockets = {
            "shopper": sum(len(hub.shopper_sockets(cid)) for cid in hub.local_conversations()),
            "agent": len(list(hub.agent_sockets())),
        }
        deadlines: Dict[int, Optional[dt.datetime]] = {}
        for queue in QUEUES:
            entries = snapshot.get(queue, [])
            live.queue_length[queue] = len(entries)
            live.oldest_wait_s[queue] = max((now - e.enqueued_at for e in entries), default=0.0)
            breached = 0
            for entry in entries:
                due = self._deadlines.get(entry.handoff_id, _UNKNOWN)
                if due is _UNKNOWN:
                    due = sla.deadline(ops, entry.queue, dt.datetime.fromtimestamp(entry.enqueued_at, dt.timezone.utc))
                deadlines[entry.handoff_id] = due
                breached += due is not None and due < now_dt
            live.breached[queue] = breached
        self._deadlines = deadlines  # only chats still waiting are remembered
        owned = [len(await store.owned_by(agent_id)) for agent_id in await store.owners()]
        live.conversations = {"waiting": sum(live.queue_length.values()), "agent": sum(owned)}
        live.agents_online = len(await store.online_agents())
        live.stored = dict(getattr(gateway.storage, "stored", {}))
        return live


_UNKNOWN: Any = object()

