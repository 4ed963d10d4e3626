"""Responses with the policy facts filled in: :class:`PolicyFactsNLG`.

Loaded by Rasa from the endpoints file (``nlg: type: bot.rasa_nlg.PolicyFactsNLG``,
written by :func:`bot.processes.write_endpoints`). It is Rasa's template NLG
(``responses`` of ``domain.yml``, conditions, buttons) with one change: the
``{placeholders}`` of the policy facts (``{support_email}``, ``{refund_processing_time}``,
... :data:`actions.policy.POLICY_SLOTS`) are filled from ``policy.yml``
(:func:`actions.policy.template_vars`) as well as from the slots.

They were slots that ``action_session_start`` set: 19 ``SlotSet`` events at the
start of every session, which every turn reloaded from the tracker store,
replayed and carried through policy prediction, and which every new session
carried over again. The facts are read when Rasa starts, as the action server
reads them; a changed ``policy.yml`` takes effect when both restart.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from actions.policy import template_vars


class PolicyFactsNLG(TemplatedNaturalLanguageGenerator):
    def __init__(self, endpoint_config: Optional[EndpointConfig] = None,
                 domain: Optional[Domain] = None) -> None:
        super().__init__((domain or Domain.empty()).responses)
        self.facts: Dict[Text, str] = template_vars()

    async def generate(self, utter_action: Text, tracker: DialogueStateTracker,
                       output_channel: Text, **kwargs: Any) -> Optional[Dict[Text, Any]]:
        values = {**tracker.current_slot_values(), **self.facts}
        return self.generate_from_slots(utter_action, values, output_channel, **kwargs)
