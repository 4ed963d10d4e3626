"""``SafetyScreen``: the Rasa NLU component that applies :mod:`actions.safety`.

It runs last in the pipeline, after the classifier and the fallback
classifier, on every user message:

* a medical emergency described in the text becomes intent
  ``medical_emergency`` (confidence 1), whatever the classifier said, so the
  emergency rules win over the order form, a fallback or anything else;
* a reaction to a product becomes ``report_adverse_reaction`` unless it is
  already an emergency;
* a medical-advice question (a medicine or symptom with "which", "how much",
  ...) becomes ``medical_advice`` unless the classifier found an order or
  handoff request;
* "I don't want a human, just tell me X": ``request_human`` gives way to the
  next intent of the ranking, also when the classifier's doubt between the two
  made it a fallback;
* a low-confidence message whose best guess is ``out_of_scope``, or of one to
  three words none of which is a support word and some of which are off-topic
  words of the training data ("crypto prices"), is ``out_of_scope`` (say what
  the assistant can do, not "say it again");
* a low-confidence or out-of-scope message with an order number, email or
  phone takes the classifier's best other guess (details are never "not
  understood" nor off topic);
* a question about another company ("GTBank's opening hours", "my Jumia
  order") is ``out_of_scope``, and so is ``inform`` without any details;
* a message none of whose words occurs in the training data (and that has no
  order number, email or phone) is ``nlu_fallback``, whatever the classifier
  guessed: keyboard mashing must not read as "yes";
* the language (``pcm``, ``yo``, ``ha``, ``ig``) is added as entity ``language``
  (nothing for English), which fills the ``language`` slot.

This folder has no ``__init__.py`` on purpose: the action server imports
every module of the ``actions`` package, and this one imports Rasa (and with
it TensorFlow); the Rasa server imports it by its dotted path from
``config.yml``.
"""
from __future__ import annotations

import difflib
import json
import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.safety import normalise, other_business, screen

EMERGENCY_INTENT = "medical_emergency"
ADVERSE_INTENT = "report_adverse_reaction"
ADVICE_INTENT = "medical_advice"
HUMAN_INTENT = "request_human"
FALLBACK_INTENT = "nlu_fallback"
#: Requests a medical-advice pattern does not override (an order or a person).
REQUEST_INTENTS = ("track_order", "request_refund", "request_return", "request_cancellation", "request_human",
                   "report_dispute", "report_malpractice", "report_security_issue", "provider_emergency")
SAFETY_INTENTS = (EMERGENCY_INTENT, ADVERSE_INTENT)
OUT_OF_SCOPE_INTENT = "out_of_scope"
INFORM_INTENT = "inform"
#: Intents a question naming a payment provider may still be, about paying Kara.
PAYMENT_INTENTS = ("request_refund", "ask_refund_time", "ask_refund_policy", "ask_payments", "request_human",
                   "track_order", "request_return", "request_cancellation", "report_security_issue",
                   "report_dispute", "inform")
#: Never turned into out_of_scope by the other-business check.
KEEP_INTENTS = (EMERGENCY_INTENT, ADVERSE_INTENT, ADVICE_INTENT, "greet", "goodbye", "thank", "affirm", "deny",
                "bot_challenge", HUMAN_INTENT)
ORDER_ENTITIES = ("order_number", "email", "phone_number")
_LONG_NUMBER = re.compile(r"\d{5,}")


def _set_intent(message: Message, name: str) -> None:
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != name]
    top = {"name": name, "confidence": 1.0}
    message.set(INTENT, top, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)


def _next_intent(message: Message, skip: tuple) -> Optional[Dict[str, Any]]:
    for ranked in message.get(INTENT_RANKING_KEY) or []:
        if ranked.get("name") not in skip:
            return ranked
    return None


VOCABULARY_FILE = "vocabulary.json"
SHORT_TOPIC_WORDS = 3


def words(text: str) -> List[str]:
    """The words of a message as the vocabulary stores them."""
    return [w for w in normalise(text).split() if any(c.isalpha() for c in w)]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class SafetyScreen(GraphComponent):
    """Deterministic overrides of the classifier's intent (see the module doc)."""

    def __init__(self, model_storage: ModelStorage, resource: Resource,
                 vocabulary: Optional[Dict[str, List[str]]] = None) -> None:
        self._storage = model_storage
        self._resource = resource
        self._use(vocabulary or {})

    def _use(self, vocabulary: Dict[str, List[str]]) -> None:
        self._words = sorted(vocabulary.get("all", []))
        self._vocabulary = frozenset(self._words)
        self._off_topic = frozenset(vocabulary.get("off_topic", []))
        self._support_only = self._vocabulary - self._off_topic

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SafetyScreen":
        return cls(model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SafetyScreen":
        try:
            with model_storage.read_from(resource) as directory:
                vocabulary = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        except (ValueError, OSError):
            vocabulary = {}
        return cls(model_storage, resource, vocabulary if isinstance(vocabulary, dict) else {})

    def train(self, training_data: TrainingData) -> Resource:
        """Store the words of the training data: all of them, and those of ``out_of_scope``."""
        def collect(examples: List[Message]) -> List[str]:
            return sorted({w for example in examples for w in words(example.get(TEXT) or "")})

        examples = training_data.intent_examples
        vocabulary = {"all": collect(examples),
                      "off_topic": collect([e for e in examples if e.get(INTENT) == OUT_OF_SCOPE_INTENT])}
        with self._storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(json.dumps(vocabulary), encoding="utf-8")
        self._use(vocabulary)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    @staticmethod
    def _best_guess(message: Message) -> Optional[str]:
        """The classifier's own best intent under a fallback."""
        ranked = _next_intent(message, (FALLBACK_INTENT,))
        return str(ranked["name"]) if ranked else None

    @staticmethod
    def _has_order_details(message: Message) -> bool:
        return any(e.get("entity") in ORDER_ENTITIES for e in message.get(ENTITIES) or [])

    @staticmethod
    def _about_another_business(text: str, intent: Optional[str]) -> bool:
        kind = other_business(text)
        if kind is None or intent in KEEP_INTENTS:
            return False
        return kind == "other" or intent not in PAYMENT_INTENTS

    @staticmethod
    def _words_beside_entities(message: Message) -> List[str]:
        """The words of a message that are not part of an extracted entity."""
        text = message.get(TEXT) or ""
        for entity in sorted(message.get(ENTITIES) or [], key=lambda e: -int(e.get("start", 0))):
            start, end = int(entity.get("start", 0)), int(entity.get("end", 0))
            text = text[:start] + " " + text[end:]
        return words(text)

    def _short_off_topic(self, message: Message) -> bool:
        """One to three words, none of them a support word, some of them an off-topic word
        ("crypto prices", "naira"): a topic, not keyboard mashing."""
        said = words(message.get(TEXT) or "")
        if not said or len(said) > SHORT_TOPIC_WORDS or not self._off_topic:
            return False
        return (not any(w in self._support_only for w in said)
                and any(w in self._off_topic for w in said))

    def _unintelligible(self, message: Message) -> bool:
        said = words(message.get(TEXT) or "")
        if not self._vocabulary or not said or message.get(ENTITIES):
            return False
        return not any(self._known(w) for w in said)

    def _known(self, word: str) -> bool:
        """In the vocabulary, or one typo away from a word of it ("trackk", "apointments")."""
        if word in self._vocabulary:
            return True
        return len(word) >= 4 and bool(difflib.get_close_matches(word, self._words, n=1, cutoff=0.8))

    @staticmethod
    def _torn_with_human(message: Message) -> bool:
        """A fallback because the classifier could not choose between ``request_human``
        and something else: "no agent, just tell me how long refunds take" reads as
        both, and the negation says which (the fallback classifier's ambiguity rule)."""
        if (message.get(INTENT) or {}).get("name") != FALLBACK_INTENT:
            return False
        top_two = [r.get("name") for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != FALLBACK_INTENT][:2]
        return HUMAN_INTENT in top_two

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._screen(message)
        return messages

    def _screen(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if not text or text.startswith("/"):
            return
        found = screen(text)
        intent = (message.get(INTENT) or {}).get("name")
        if found.emergency:
            _set_intent(message, EMERGENCY_INTENT)
        elif found.adverse_reaction and intent != EMERGENCY_INTENT:
            _set_intent(message, ADVERSE_INTENT)
        elif found.medical_advice and intent not in REQUEST_INTENTS:
            # Advice words (a medicine or a symptom, no emergency words): whatever
            # the classifier guessed from the vocabulary ("which medicine for ...").
            _set_intent(message, ADVICE_INTENT)
        elif self._unintelligible(message):
            _set_intent(message, FALLBACK_INTENT)
        elif intent in (FALLBACK_INTENT, OUT_OF_SCOPE_INTENT) and self._has_order_details(message):
            # Details are never "not understood" nor off topic (a bare email while the form asks for it).
            guess = _next_intent(message, (FALLBACK_INTENT, OUT_OF_SCOPE_INTENT, *SAFETY_INTENTS))
            bare = not self._words_beside_entities(message)  # nothing but the details
            _set_intent(message, INFORM_INTENT if bare or guess is None else str(guess["name"]))
        elif intent == FALLBACK_INTENT and (self._best_guess(message) == OUT_OF_SCOPE_INTENT
                                            or self._short_off_topic(message)):
            _set_intent(message, OUT_OF_SCOPE_INTENT)
        elif self._about_another_business(text, intent):
            _set_intent(message, OUT_OF_SCOPE_INTENT)
        elif intent == INFORM_INTENT and not self._has_order_details(message) and not _LONG_NUMBER.search(text):
            _set_intent(message, OUT_OF_SCOPE_INTENT)  # "2+2", "12 x 12": no order details at all
        elif found.negated_human and (intent == HUMAN_INTENT or self._torn_with_human(message)):
            alternative = _next_intent(message, (HUMAN_INTENT, FALLBACK_INTENT, *SAFETY_INTENTS))
            if alternative is not None:
                _set_intent(message, str(alternative["name"]))
        if found.language != "en":
            entities = list(message.get(ENTITIES) or [])
            entities.append({"entity": "language", "value": found.language, "start": 0, "end": len(text),
                             "extractor": type(self).__name__, "confidence_entity": 1.0})
            message.set(ENTITIES, entities, add_to_output=True)
