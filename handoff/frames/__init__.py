"""Every frame the gateway sends, one builder per frame type of ``PROTOCOL.md``.

:mod:`handoff.protocol` parses what clients send; this package shapes what the
gateway sends (to shoppers, to agents, and the emergency page to the webhook),
so a frame type's fields are written down once, here, in the order
``PROTOCOL.md`` lists them. The parts of the gateway (:mod:`handoff.service`
and the modules it delegates to) call these builders and never write a frame
dict themselves. By endpoint: :mod:`.base` (what both get: ``error``,
``message``), :mod:`.shopper`, :mod:`.agent` (and the two frames that leave
the websockets); every name is re-exported here (``frames.queue(...)``).

A frame is a plain JSON object (:data:`Frame`); :func:`dumps` serialises it,
:func:`message_json` is the relay's hot path for the ``message`` frame. This
package imports nothing of :mod:`handoff.protocol` (which re-exports
:data:`VERSION`, :func:`dumps` and the ``error`` builders under their earlier
names), so both import in either order.
"""
from __future__ import annotations

from .base import VERSION as VERSION
from .base import INTERNAL_ERROR as INTERNAL_ERROR
from .base import Frame as Frame
from .base import dumps as dumps
from .base import with_ref as with_ref
from .base import iso as iso
from .base import error as error
from .base import internal_error as internal_error
from .base import message_frame as message_frame
from .base import agent_copy as agent_copy
from .base import messages as messages
from .base import message_json as message_json
from .base import for_agent as for_agent
from .shopper import shopper_welcome as shopper_welcome
from .shopper import state as state
from .shopper import bot_typing as bot_typing
from .shopper import agent_typing as agent_typing
from .shopper import seen as seen
from .shopper import queue as queue
from .shopper import agent_joined as agent_joined
from .shopper import rating_request as rating_request
from .shopper import rating_saved as rating_saved
from .shopper import offline as offline
from .shopper import ticket_saved as ticket_saved
from .shopper import paged as paged
from .agent import queues_body as queues_body
from .agent import queues as queues
from .agent import agent_welcome as agent_welcome
from .agent import roster_agent as roster_agent
from .agent import handoff as handoff
from .agent import chat as chat
from .agent import transfer_pending as transfer_pending
from .agent import agent_status as agent_status
from .agent import live_chats as live_chats
from .agent import live_chat as live_chat
from .agent import reassigned as reassigned
from .agent import desk_agent as desk_agent
from .agent import watching as watching
from .agent import claimed as claimed
from .agent import shopper_typing as shopper_typing
from .agent import presence as presence
from .agent import chat_ended as chat_ended
from .agent import sla_alert as sla_alert
from .agent import login_answer as login_answer
from .agent import page as page
