"""A streamed REST answer that always ends.

The gateway asks Rasa's REST channel for streamed answers (``?stream=true``,
:mod:`handoff.rasa_client`) so that it stores each reply while Rasa finishes
its turn. Rasa 3.6 ends the stream when the turn's handler puts ``DONE`` on
its queue, which it does only when the handler returns: a turn that raises
(the tracker store's database gone, say) left the answer open until the
gateway's timeout (20 s), where the plain answer returns at once with the
replies collected so far. Here the stream ends either way, and the failure
is logged as the plain answer logs it.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Text


def install() -> None:
    from asyncio import CancelledError, Queue

    from rasa.core.channels.channel import UserMessage
    from rasa.core.channels.rest import QueueOutputChannel, RestInput, structlogger

    async def on_message_wrapper(
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: Text,
        queue: Queue,  # type: ignore[type-arg]
        sender_id: Text,
        input_channel: Text,
        metadata: Optional[Dict[Text, Any]],
    ) -> None:
        collector = QueueOutputChannel(queue)
        message = UserMessage(text, collector, sender_id, input_channel=input_channel, metadata=metadata)
        try:
            await on_new_message(message)
        except CancelledError:  # the plain answer's handling, word for word
            structlogger.error("rest.message.received.timeout", text=text)
        except Exception:
            structlogger.exception("rest.message.received.failure", text=text)
        finally:
            await queue.put("DONE")

    RestInput.on_message_wrapper = staticmethod(on_message_wrapper)  # type: ignore[method-assign,assignment]
