"""The gateway without its sockets: one facade over parts with one job each.

:mod:`handoff.server` parses frames and calls one :class:`Gateway` method per
frame; each method is one line into the part that does that job, named as
``PROTOCOL.md`` names it:

* :mod:`handoff.shopper`: shopper endpoint: hello/resume, typing, rating, ticket, leaving;
* :mod:`handoff.ordering`: the messages of both endpoints: accept, store,
  acknowledge, relay, and the bot turns, in order;
* :mod:`handoff.bot`: "The bot part": asking Rasa, its answers, when it does not answer;
* :mod:`handoff.handoffs`: a chat starts waiting: queue, announce, page the on-call person;
* :mod:`handoff.agents`: agent endpoint: login, presence and grace period, claim,
  transfer, hand back, close;
* :mod:`handoff.assign`: agent status, automatic assignment of waiting chats;
* :mod:`handoff.supervise`: supervisors: every live chat, reading one, reassigning;
* :mod:`handoff.waits`: wait estimates; ``queue`` / ``queues`` whenever they change;
* :mod:`handoff.recovery`: Redis restarted empty, or the bus was away: the live
  state rebuilt from SQL, missed frames replayed;
* :mod:`handoff.lifecycle`: start, close, heartbeat, the sweep for agents whose process died;
* :mod:`handoff.core`: what they share (stores, hub, background jobs and timers);
  :mod:`handoff.frames`: every server frame.

Every method changes live state with one atomic
:class:`~handoff.live_state.QueueStore` operation (which decides races: claim,
transfer, close...), stores what must be kept in
:class:`~handoff.storage.Storage`, then publishes frames through the
:class:`~handoff.hub.Hub`, so shoppers and agents see the change whichever
gateway process they are connected to. A refused request raises
:class:`~handoff.protocol.ProtocolError`; the server turns it into an
``error`` frame.
"""
from __future__ import annotations

import functools
import secrets
from typing import Any, List, Optional, Sequence, Tuple

from .agents import AgentDesk
from .assign import Assigner
from .auth import TokenSigner
from .bot import BotTurns
from .bus import Bus
from .config import GatewayConfig
from .core import GatewayCore
from .frames import Frame
from .handoffs import Handoffs
from .hub import Hub
from .lifecycle import Lifecycle
from .live_state import QueueStore
from .metrics import GatewayMetrics
from .ops import after_hours
from .ordering import MessageFlow, Taken
from .rasa_pool import RasaPool
from .recovery import Recovery
from .shopper import ShopperSide
from .storage import AgentRecord, ConversationRecord, MessageRecord, Storage
from .supervise import Supervision
from .throttle import Throttle
from .waits import Waits


class Gateway:
    """The conversation service (see module docs)."""

    def __init__(
        self,
        config: GatewayConfig,
        storage: Storage,
        live: QueueStore,
        bus: Bus,
        rasa: RasaPool,
        signer: TokenSigner,
    ) -> None:
        self.config = config
        self.storage = storage
        #: the live state: queues, who owns what, presence (handoff.live_state)
        self.live = live
        self.rasa = rasa
        self.signer = signer
        # the parts the hub calls back exist once __init__ is done (the hub starts later)
        self.hub = Hub(bus, lambda: self._waits.schedule_refresh(), lambda since: self.replay_missed(since))
        self.metrics = GatewayMetrics()  # handoff/metrics.py (its own registry)
        self.throttle = Throttle(live)
        core = self.core = GatewayCore(config, storage, live, self.hub, rasa, signer, self.metrics)
        self.process_id = core.process_id
        self._waits = Waits(core)
        self._handoffs = Handoffs(core, functools.partial(after_hours.answered, self))
        self._bot = BotTurns(core, self._handoffs)
        self._desk = AgentDesk(core, self._handoffs, self._bot, self.throttle)
        self._assigner = Assigner(core, self._desk)
        core.assigner = self._assigner.wake
        self._supervision = Supervision(core, self._desk)
        self._shopper = ShopperSide(core, self._waits, self._bot, self._handoffs, self.throttle)
        self._flow = MessageFlow(core, self._bot, self._shopper, self._desk)
        self._recovery = Recovery(core, self._waits)
        self._lifecycle = Lifecycle(core, self._recovery, self._desk)
        #: the bot turns of each conversation, one at a time (handoff.ordering)
        self.turns = self._flow.turns
        self.login_per_username = self._desk.login_per_username
        self.login_per_address = self._desk.login_per_address
        self.new_chats = self._shopper.new_chats

    # -- lifecycle, recovery -------------------------------------------------

    async def start(self) -> None:
        await self._lifecycle.start()

    async def close(self) -> None:
        await self._lifecycle.close()

    async def restore_live_state(self) -> int:
        return await self._recovery.restore_live_state()

    def replay_missed(self, since: float) -> None:
        self._recovery.replay_missed(since)

    # -- shopper endpoint ----------------------------------------------------

    async def shopper_hello(
        self, socket: Any, token: Optional[str], role: str, line: str, address: str = "",
        *, browser: Optional[str] = None,
    ) -> Tuple[ConversationRecord, List[Frame], bool]:
        return await self._shopper.hello(socket, token, role, line, address, browser=browser)

    async def shopper_left(self, conversation: ConversationRecord, socket: Any) -> None:
        await self._shopper.left(conversation, socket)

    async def start_emergency(self, conversation: ConversationRecord) -> None:
        await self._shopper.start_emergency(conversation)

    async def shopper_messages(self, conversation: ConversationRecord, messages: Sequence[Any]) -> Taken:
        return await self._flow.shopper_messages(conversation, messages)

    async def shopper_typing(self, conversation: ConversationRecord, on: bool) -> None:
        await self._shopper.typing(conversation, on)

    async def rate(self, conversation: ConversationRecord, score: int, comment: Optional[str]) -> Frame:
        return await self._shopper.rate(conversation, score, comment)

    async def leave_ticket(self, conversation: ConversationRecord, email: str, text: str) -> Frame:
        return await self._shopper.leave_ticket(conversation, email, text)

    # -- agent endpoint ------------------------------------------------------

    async def login(self, username: str, password: str, address: str = "") -> Optional[Frame]:
        return await self._desk.login(username, password, address)

    async def agent_from_token(self, token: str) -> AgentRecord:
        return await self._desk.agent_from_token(token)

    async def agent_connected(self, agent: AgentRecord, socket: Any) -> Frame:
        return await self._desk.connected(agent, socket)

    async def agent_disconnected(self, agent: AgentRecord, socket: Any) -> None:
        await self._desk.disconnected(agent, socket)

    async def claim(self, agent: AgentRecord, cid: str, ref: Optional[str]) -> None:
        await self._desk.claim(agent, cid, ref)

    async def agent_messages(self, agent: AgentRecord, messages: Sequence[Any]) -> Taken:
        return await self._flow.agent_messages(agent, messages)

    async def attachment_recipient(self, cid: str, agent: Optional[AgentRecord]) -> Optional[int]:
        return await self._flow.attachment_recipient(cid, agent)

    async def post_attachment(self, message: MessageRecord, agent_id: Optional[int]) -> MessageRecord:
        return await self._flow.attachment(message, agent_id)

    async def agent_typing(self, agent: AgentRecord, cid: str, on: bool) -> None:
        await self._desk.typing(agent, cid, on)

    async def transfer(
        self, agent: AgentRecord, cid: str, queue: str, note: Optional[str] = None, to_agent: Optional[int] = None
    ) -> None:
        await self._desk.transfer(agent, cid, queue, note, to_agent=to_agent)

    async def set_status(self, agent: AgentRecord, status: str) -> None:
        await self._assigner.set_status(agent, status)

    async def assign_waiting(self) -> int:
        """One automatic-assignment run now (handoff/assign.py); how many chats were assigned."""
        return await self._assigner.run()

    # -- supervisors (handoff/supervise.py) ------------------------------------

    async def list_chats(self, agent: AgentRecord, ref: Optional[str]) -> Frame:
        return await self._supervision.list_chats(agent, ref)

    async def watch(self, agent: AgentRecord, socket: Any, cid: str, ref: Optional[str]) -> Frame:
        return await self._supervision.watch(agent, socket, cid, ref)

    async def unwatch(self, agent: AgentRecord, socket: Any, cid: str) -> None:
        await self._supervision.unwatch(agent, socket, cid)

    async def reassign(
        self, agent: AgentRecord, cid: str, to_agent: Optional[int], queue: Optional[str], ref: Optional[str]
    ) -> Frame:
        return await self._supervision.reassign(agent, cid, to_agent, queue, ref)

    async def add_note(self, agent: AgentRecord, cid: str, text: str) -> None:
        await self._desk.add_note(agent, cid, text)

    async def seen(self, agent: AgentRecord, cid: str, up_to: str) -> None:
        await self._desk.seen(agent, cid, up_to)

    async def handback(self, agent: AgentRecord, cid: str) -> None:
        await self._desk.handback(agent, cid)

    async def close_chat(self, agent: AgentRecord, cid: str) -> None:
        await self._desk.close_chat(agent, cid)


def random_secret() -> str:
    return secrets.token_urlsafe(32)
