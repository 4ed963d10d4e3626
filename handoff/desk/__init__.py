"""The agent desk: what agents and supervisors use beside the live chat.

Route sets on the gateway's HTTP port (each documents its routes):

* :mod:`handoff.desk.inbox`: the ticket inbox and the agents' ratings, in SQL;
  :mod:`handoff.desk.tickets_http`: their routes (``/api/tickets``,
  ``/api/ratings``) and the shopper's "email me this conversation";
* :mod:`handoff.desk.canned`: canned replies (``/api/canned``), policy facts by name;
* :mod:`handoff.desk.audit`: the supervisors' audit log (``/api/audit``);
* :mod:`handoff.desk.agents`: agent administration (``/api/agents``) and the
  admin page (``/console/admin``);
* :mod:`handoff.desk.labels`: labels on conversations (``/api/conversations/<id>/labels``);
* :mod:`handoff.desk.search`: search across transcripts (``/api/search``), a
  conversation's transcript and the shopper's past conversations, and the
  history page (``/console/history``);
* :mod:`handoff.desk.shopper_history`: the shopper's own earlier conversations,
  by their tokens (``/api/shopper/conversations``, ``/api/shopper/transcript``).

:func:`routes` gives them all for one gateway; ``handoff/server.py`` lists
them after the operations routes. Shared plumbing (who is asking, JSON) is
:mod:`handoff.desk.web`. Schema: migration 0004 (``handoff/models.py``:
``CannedReply``, ``AuditEntry``, ``ConversationLabel``, ``agents.capacity``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from ..service import Gateway


def routes(gateway: "Gateway") -> List[Any]:
    """The desk's route sets (their ``respond`` methods) for ``gateway``."""
    from .agents import AgentRoutes
    from .audit import AuditRoutes
    from .canned import CannedRoutes
    from .labels import LabelRoutes
    from .search import SearchRoutes
    from .shopper_history import ShopperHistoryRoutes
    from .tickets_http import DeskRoutes
    from .web import Desk

    desk = Desk(gateway)
    return [DeskRoutes(gateway).respond, CannedRoutes(desk).respond, AuditRoutes(desk).respond,
            AgentRoutes(desk).respond, LabelRoutes(desk).respond, SearchRoutes(desk).respond,
            ShopperHistoryRoutes(gateway).respond]
