"""actions.safety: the deterministic screen that runs on every message.

An emergency must be recognised in any phrasing the issue lists (English,
Pidgin, typos, Yoruba, Hausa, Igbo) without the classifier, and ordinary shop
messages that share a word with an emergency must not be."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions import safety
from actions.safety import (
    conversation_language,
    detect_language,
    is_adverse_reaction,
    is_emergency,
    is_self_harm,
    negates_human,
    normalise,
    wants_medical_advice,
)

EMERGENCIES = {
    "allergy": ["my sister's lips are swollen and she is wheezing after eating groundnut",
                "I think this is anaphylaxis, his tongue is getting big",
                "severe allergic reaction right now please"],
    "drug reaction": ["I reacted badly to the injection and my face is puffing up",
                      "bad reaction to the antibiotics, I feel like I will pass out"],
    "poisoning / overdose": ["my 3 year old swallowed my blood pressure tablets",
                             "my son drank the insecticide by mistake",
                             "she took too many pills on purpose",
                             "I think he has food poisoning and is vomiting blood",
                             "my friend overdosed"],
    "chest pain": ["there's a crushing pressure in my chest", "my dad's chest is hurting and he's sweating",
                   "heart attack symptoms, what do I do"],
    "breathing": ["I can hardly breathe", "my baby has difficulty breathing", "he is gasping for air",
                  "I cant brethe"],
    "bleeding": ["he is bleeding a lot from the head", "the bleeding won't stop after the cut",
                 "she's losing so much blood"],
    "seizure": ["my brother is having a seizure", "the child is convulsing", "my son is fitting"],
    "unconscious": ["my grandfather fainted and is not responding", "she collapsed in the kitchen",
                    "he is unconscious on the floor", "my wife won't wake up"],
    "self-harm": ["I want to end my life", "I'm thinking of killing myself", "I keep wanting to cut myself",
                  "I am suicidal"],
    "Pidgin": ["my pikin chop rat poison", "abeg my papa no fit breathe", "my chest dey pain me die",
               "blood dey pour from im leg no gree stop", "my mama don collapse"],
    "typos": ["my baby is haivng a seizrue", "chest pian", "he is unconcious", "she overdozed",
              "i cnat breath"],
    "Yoruba": ["Bàbá mi kò lè mí", "àyà mi ń dùn mí", "ọmọ mi ti dákú", "ẹ̀jẹ̀ ń jáde púpọ̀", "ọmọ náà ń gìrì",
               "mo fẹ́ pa ara mi"],
    "Hausa": ["mijina baya iya numfashi", "ina jin ciwon kirji", "yaron ya suma", "tana zubar da jini sosai",
              "ɗana ya sha guba"],
    "Igbo": ["nwa m enweghị ike iku ume", "obi na-afụ m mgbu", "ọ dara mba", "ọbara na-asọpụta ya",
             "nwa m ṅụrụ nsi"],
    # Found by a probe written after the first screen (issue 11): whole kinds it missed.
    "word order and synonyms": ["my chest is killing me", "pain in the middle of my chest since morning",
                                "the bleeding from her leg will not stop", "blood dey commot from im mouth",
                                "she took double her insulin", "my neighbour clutched his chest and sat down"],
    "colour and asthma": ["his lips are turning purple", "my son is going blue around the mouth",
                          "she is having an asthma attack right now"],
    "stroke": ["her mouth is drooping on one side", "his speech is slurred and he looks confused",
               "my father suddenly can't speak"],
    "head injury": ["he banged his head on the pavement and now he is very drowsy",
                    "she hit her head and has vomited twice"],
    "infant danger signs": ["my 2 weeks old baby is limp and won't feed", "the newborn is refusing to breastfeed and is floppy"],
    "bites": ["my cousin was bitten by a snake in the bush", "a scorpion stung my daughter"],
    "any drug, too much of it": ["he took too much codeine", "she swallowed a whole packet of tramadol",
                                 "I ate a strip of diazepam", "my friend is barely awake after the pills"],
    "Hausa, any order and hooked letters": ["ina jin radadi a kirjina", "ƙirjina yana ciwo", "yaron ya sha kalanzir",
                                            "mahaifiyata ba ta farkawa"],
    "Yoruba and Igbo, more": ["okan mi n dun mi", "omo mi mu kemika", "baba mi ko dahun mo",
                              "obi m na-egbu m mgbu", "nwa m anaghị eku ume", "ọ naghị eteta"],
}

NOT_EMERGENCIES = [
    "the app is not responding", "customs seized my parcel", "my order is not moving",
    "the stock market collapsed", "what is the most poisonous snake in Africa", "my phone battery is dying",
    "I need emergency support for my clinic, the system is down", "how long do refunds take",
    "the box was crushed when it arrived", "I'm dying to know when my order arrives",
    "track KH-204518", "the fitting room", "can I return a blood pressure monitor",
    "do you sell first aid kits", "I'm a pharmacy selling on Kara", "Ẹ kú àárọ̀", "Sannu", "Ndewo",
    "the delivery took too much time", "it took too many days to arrive", "I ate all the chocolates in the box",
    "my hair is turning grey, do you sell dye", "the face cream is purple, is that normal",
    "the vendor no dey answer my calls", "I check the tracking, e no dey move", "my heart is heavy, my order is late",
    "the inhaler I ordered is not working, can I return it", "the chest of drawers I ordered",
    "how much is the whole pack of diapers", "the seizure medication I ordered hasn't arrived",
    "do you sell snake bite kits", "I took a bottle of water with me", "the baby monitor is not working",
]


@pytest.mark.parametrize("kind", sorted(EMERGENCIES))
def test_every_kind_of_emergency_is_recognised(kind: str) -> None:
    missed = [text for text in EMERGENCIES[kind] if not is_emergency(text)]
    assert missed == []


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_shop_messages_sharing_a_word_are_not_emergencies(text: str) -> None:
    assert not is_emergency(text)


def test_normalise_drops_tone_marks_apostrophes_and_hyphens() -> None:
    assert normalise("Ẹ̀jẹ̀ ń dà!") == "eje n da"
    assert normalise("I CAN'T   breathe") == "i cant breathe"
    assert normalise("obi na-egbu m") == "obi na egbu m"


def test_self_harm_is_told_apart() -> None:
    assert is_self_harm("I don't want to be alive anymore")
    assert not is_self_harm("my baby swallowed a battery")


@pytest.mark.parametrize("text", [
    "I broke out in hives after the vitamins I bought here",
    "the cream from my order made my skin burn",
    "I'm allergic to the soap you sent me",
    "side effects from the tablets I ordered on Kara",
])
def test_reactions_to_products(text: str) -> None:
    assert is_adverse_reaction(text)


@pytest.mark.parametrize("text", [
    "I'm sick of waiting since I ordered last week", "I want to return the cream",
    "what are the side effects of amoxicillin", "the product was fake, give me my money back",
])
def test_complaints_are_not_reactions(text: str) -> None:
    assert not is_adverse_reaction(text)


def test_medical_advice_and_negated_human() -> None:
    assert wants_medical_advice("how many tablets of ibuprofen should I take")
    assert wants_medical_advice("which medicine is best for typhoid")
    assert not wants_medical_advice("where is my order")
    assert negates_human("I don't need an agent, just answer me")
    assert negates_human("no human please, what's your email")
    assert not negates_human("let me talk to a human")


@pytest.mark.parametrize("text, language", [
    ("where is my order", "en"), ("abeg where my order dey", "pcm"), ("Ẹ kú ìrọ̀lẹ́, mo fẹ́ mọ ibi tí ọjà mi wà", "yo"),
    ("Ina son sanin inda kayana suke", "ha"), ("Biko, ebee ka ngwongwo m dị?", "ig"),
])
def test_language_detection(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_conversation_language_is_the_latest_non_english_one() -> None:
    assert conversation_language(["Sannu", "KH-204518", "ok"]) == "ha"
    assert conversation_language(["hello", "thanks"]) == "en"


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_normalise_of_ascii_text_is_the_two_substitutions(text: str) -> None:
    """The table that flattens ASCII messages answers as the general path's regexes."""
    expected = safety._NOT_WORD.sub(" ", safety._APOSTROPHES.sub("", text.lower())).strip()
    assert normalise(text) == expected
