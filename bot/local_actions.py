"""The custom actions that read only the tracker, run inside the Rasa process.

``action_session_start`` (:mod:`actions.session`) runs at the start of every
conversation. Through the action server it was a round trip on a new HTTP
connection (Rasa opens one per call), with the tracker and the domain as
JSON both ways: about a seventh of a conversation's first turn, and 2 ms of
the action server's CPU. And while the action server was down no
conversation could start, though the help-center answers need no action.

Here Rasa's ``RemoteAction`` still builds the call, checks the answer and
turns it into events; only the HTTP hop is gone: :class:`LocalActions`, the
action endpoint of the project's Rasa processes, hands the call for an
action of :data:`LOCAL` to rasa_sdk's own executor (what the action server
runs), and answers as the action server would, errors included. Every other
action (the shop database, the order form, the handoff) goes to the action
server as before. An action belongs in :data:`LOCAL` only if it reads the
tracker without changing it: the tracker it gets is Rasa's JSON of the
tracker, not a copy.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Optional, Text, Tuple, Type

from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection

from actions.session import ActionSessionStart

logger = logging.getLogger(__name__)

#: the actions run in the Rasa process
LOCAL: Tuple[Type[Action], ...] = (ActionSessionStart,)


class LocalActions(EndpointConfig):
    """The action endpoint ``remote``, with the actions of :data:`LOCAL` run in this process."""

    def __init__(self, remote: EndpointConfig) -> None:
        super().__init__(remote.url, remote.params, remote.headers, remote.basic_auth, remote.token,
                         remote.token_name, remote.cafile, **remote.kwargs)
        self.type = remote.type
        self.executor = ActionExecutor()
        for action in LOCAL:
            self.executor.register_action(action)

    async def request(self, method: Text = "post", subpath: Optional[Text] = None,
                      content_type: Optional[Text] = "application/json", compress: bool = False,
                      **kwargs: Any) -> Optional[Any]:
        call = kwargs.get("json")
        if method == "post" and subpath is None and isinstance(call, dict) \
                and call.get("next_action") in self.executor.actions:
            return await self._run(call)
        return await super().request(method, subpath, content_type, compress, **kwargs)

    async def _run(self, call: dict) -> Any:  # type: ignore[type-arg]
        """The action server's answer (rasa_sdk's webhook), without the server."""
        try:
            answer = await self.executor.run(call)
        except ActionExecutionRejection as e:
            raise ClientResponseError(400, "Bad Request", json.dumps({"error": e.message,
                                                                      "action_name": e.action_name})) from e
        except Exception as e:  # as the action server's exception handler answers
            logger.exception("custom action %s failed in the Rasa process", call.get("next_action"))
            raise ClientResponseError(500, "Internal Server Error", json.dumps({"error": str(e)})) from e
        return json.loads(json.dumps(answer))  # objects of its own, as read from an HTTP answer


def install() -> None:
    """Give every Rasa agent of this process the :class:`LocalActions` of its action endpoint."""
    from rasa.core.utils import AvailableEndpoints

    rasa_read = AvailableEndpoints.read_endpoints.__func__  # type: ignore[attr-defined]

    def read_endpoints(cls: Type[AvailableEndpoints], endpoint_file: Text) -> AvailableEndpoints:
        endpoints = rasa_read(cls, endpoint_file)
        if endpoints.action is not None and not isinstance(endpoints.action, LocalActions):
            endpoints.action = LocalActions(endpoints.action)
        return endpoints  # type: ignore[no-any-return]

    AvailableEndpoints.read_endpoints = classmethod(read_endpoints)  # type: ignore[method-assign, assignment]
