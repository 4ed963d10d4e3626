"""The deterministic safety screen: medical emergencies, adverse reactions, language.

Recall of a medical emergency must not hang on a statistical classifier, so
every user message is screened here with patterns, in English (with common
typos), Nigerian Pidgin, Yoruba, Hausa and Igbo, before the classifier's
intent is used (``actions/nlu/screen.py`` runs this inside Rasa's NLU
pipeline; ``action_emergency`` runs it again on the text to word the answer).

Text is compared normalised: lower case, accents and tone marks removed
(``ẹ̀jẹ̀`` -> ``eje``), apostrophes dropped (``can't`` -> ``cant``), other
punctuation turned into spaces. The module imports only the standard library:
both the Rasa server and the action server load it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Optional, Pattern, Sequence, Tuple, Union

from actions.gated import GatedAlternation

LANGUAGES = ("en", "pcm", "yo", "ha", "ig")
LANGUAGE_NAMES = {"en": "English", "pcm": "Pidgin", "yo": "Yoruba", "ha": "Hausa", "ig": "Igbo"}


#: Hausa's hooked letters have no decomposition: fold them by hand (ƙirji -> kirji).
_HOOKED = str.maketrans({"\u0199": "k", "\u0257": "d", "\u0253": "b", "\u01b4": "y"})


_APOSTROPHES = re.compile(r"[\u2019'`]")
_NOT_WORD = re.compile(r"[^\w@.+]+")


#: _APOSTROPHES and _NOT_WORD on ASCII text as one table: apostrophes gone, every
#: other character but [a-z0-9_@.+] a space (then runs of spaces joined by split)
_ASCII_FLAT = str.maketrans({chr(c): (None if chr(c) in "'`" else chr(c) if chr(c).isalnum() or chr(c) in "_@.+"
                                     else " ") for c in range(128)})


def normalise(text: str) -> str:
    """Lower case, no diacritics (Hausa's hooked letters included), no apostrophes, single spaces."""
    text = text or ""
    if text.isascii():  # most messages (the screen runs on every one): a table, not two regexes
        return " ".join(text.lower().translate(_ASCII_FLAT).split())
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower().translate(_HOOKED)
    return _NOT_WORD.sub(" ", _APOSTROPHES.sub("", plain)).strip()


def _any(*patterns: str) -> GatedAlternation:
    """Any of the patterns, from the start of a word (searched behind literal gates: actions/gated.py)."""
    return GatedAlternation(patterns)


def _near(first: str, second: str, gap: int = 4) -> str:
    """``first`` and ``second`` within ``gap`` words of each other, in either
    order: Yoruba, Hausa and Igbo put the body part after the pain ("zafi a
    kirji"), English both ways ("pain in my chest", "chest is killing me")."""
    between = rf"\s+(?:\w+\s+){{0,{gap}}}"
    return rf"(?:{first}){between}(?:{second})|(?:{second}){between}(?:{first})"


def _words(*patterns: str) -> Pattern[str]:
    """Whole words or phrases only (language cues are short)."""
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


# Breathing, chest, bleeding, seizure, unconscious, poisoning, overdose,
# self-harm, severe allergy. Words are stems so that typos and endings match;
# words that are also shop or everyday words ("not responding", "seized",
# "collapsed", "dying") count only with a person as their subject.
_BREATH = r"(?:breath\w*|breth\w*|brea?the?\w*|respir\w*)"
_CANT = (r"(?:cant|cnat|cnt|cannot|can hardly|can barely|hardly|barely|can not|couldnt|could not"
    r"|unable to|not able to|no fit|no dey|hard to|struggl\w* to"
         r"|trouble|difficult\w*|problem\w*|wahala)")
_WHO = (r"(?:he|she|hes|shes|him|her|baby|child|kid|son|daughter|mum|mom|mummy|mother|dad|daddy|father|husband"
        r"|wife|brother|sister|friend|grandma|grandmother|grandpa|grandfather|patient|someone|somebody|person|pikin"
        r"|papa|mama|oga|madam|nna|nne"
        r"|im|e|they|i|me|uncle|aunt|aunty|neighbour|neighbor|boy|girl|man|woman)")
_SUBSTANCE = (r"(?:pills?|tablets?|capsules?|bleach|kerosene|insecticide|sniper|rat poison|poison|detergent|battery"
              r"|batteries|chemicals?|petrol|hypo|izal|medicine|medicines|drugs?|syrup|acid|jik|dettol|sleeping)")
# Pain in the chest or heart, in any word order and language: Yoruba aya/okan,
# Hausa kirji/zuciya, Igbo akpa obi/obi; pain dun/irora, zafi/ciwo/radadi, mgbu.
_CHEST = r"chest|chets|aya|kirji\w*|akpa obi"
_HEART = r"okan|zuciya|obi"
_PAIN_LOCAL = r"dun|irora|zafi|ciwo\w*|radadi|mgbu|egbu|afu"
_PAIN = (r"pain\w*|pian|hurt\w*|killing|crush\w*|squeez\w*|tight\w*|pressure|burn\w*|heavy|on fire|"
         + _PAIN_LOCAL)
_HEAD_HIT = r"head injur\w*|(?:hit|bang\w*|knock\w*|injur\w*|hurt|struck|fell on)\s+(?:\w+\s+){0,2}head"
_HEAD_SIGNS = (r"vomit\w*|confus\w*|not making sense|drowsy|sleepy|seiz\w*|bleed\w*|pass\w* out|unconc\w*"
               r"|cant remember|dizzy|not talking|no dey talk")
_INFANT = r"baby|babys|infant|newborn|new born|neonate|\d+ (?:days?|weeks?|months?) old"
_INFANT_SIGNS = (r"floppy|limp|very high fever|high fever|wont (?:feed|suck|breastfeed|wake)|not (?:feeding|sucking"
                 r"|breastfeeding)|refus\w* (?:to )?(?:feed|breastfeed|suck)|stiff|sunken")
# Too much of something (any drug name) or a whole pack of it, but not "took too
# much time" or "took the whole day".
_TOO_MUCH = (r"(?:took|taken|take|swallow\w*|drank|drink|drunk)\s+(?:\w+\s+){0,2}too (?:many|much)\s+"
             r"(?!time|long|days?|weeks?|hours?|money|effort)\w+")
_A_PACK_OF = (r"(?:took|taken|swallow\w*|drank|ate|chew\w*)\s+(?:\w+\s+){0,1}(?:a|the|an|half a|half the)\s+"
              rf"(?:bottle|pack|packet|strip|box|sachet|card|handful|jar)\s+of\s+(?:\w+\s+){{0,2}}(?:{_SUBSTANCE}"
              r"|\w+(?:dol|mol|pam|fen|cin|ine|ide|one|lin|zole|pril|tan|done))\b")
_WHOLE_PACK = (r"(?:took|taken|take|swallow\w*|drank|drink|drunk|ate|chew\w*)\s+(?:\w+\s+){0,2}(?:whole|entire|full"
               r"|all (?:the|my|his|her|of))\s+(?:\w+\s+)?(?:bottle|pack|packet|strip|box|sachet|card|blister"
               r"|tablets|pills|capsules|medicine|drugs)")

EMERGENCY = _any(
    # breathing
    rf"{_CANT}\s+(?:\w+\s+){{0,3}}{_BREATH}",
    rf"{_BREATH}\s+(?:\w+\s+){{0,2}}(?:difficult\w*|problem\w*|hard|stop\w*|heavy|fast|tight)",
    r"short(?:ness)? of breath", r"gasping", r"chok(?:e|ing|ed)\b", r"suffocat\w*",
    r"(?:throat|tongue|lips?|face|mouth|eyes)\s+(?:\w+\s+){0,3}(?:swell\w*|swollen|closing|close up"
    r"|tight\w*|dey swell)",
    r"(?:swell\w*|swollen)\s+(?:\w+\s+){0,3}(?:throat|tongue|lips?|face|mouth)",
    r"anaphyla\w*", r"anaphalax\w*", r"anafila\w*", r"allergic shock", r"epi ?pen",
    r"(?:severe|serious|bad|strong|terrible|heavy)\s+(?:\w+\s+){0,2}(?:allerg\w*|reaction)",
    r"(?:allerg\w*|reaction)\s+(?:\w+\s+){0,3}(?:severe|serious|swell\w*|breath\w*|faint\w*|collaps\w*)",
    r"react\w* badly", r"bad reaction", r"reacting badly", r"wheez\w*",
    r"(?:hives|rash\w*|swell\w*|swollen|itch\w*|blister\w*)\s+(?:\w+\s+){0,2}(?:all over|everywhere)",
    r"(?:body|face|eyes?|lips?)\s+(?:\w+\s+){0,2}(?:swell\w*|swollen|don big|dey swell|don swell)",
    r"skin (?:\w+ )?(?:peel\w*|blister\w*)", r"peeling skin",
    # chest and heart
    r"chest\s+(?:\w+\s+){0,3}(?:pain\w*|pian|hurt\w*|tight\w*|pressure|dey pain|dey do me|burn\w*|heavy)",
    r"(?:pain\w*|pian|hurt\w*|tight\w*|pressure)\s+(?:\w+\s+){0,3}chest",
    r"heart attack", r"cardiac arrest", r"heart (?:is )?(?:stop\w*|racing|pounding)", r"stroke\b",
    # bleeding
    r"bleed\w*\s+(?:\w+\s+){0,4}(?:heav\w*|bad\w*|alot|a lot|wont stop|not stop\w*|no gree stop|no wan stop"
    r"|too much|everywhere|profuse\w*|nonstop|non stop)",
    r"(?:heav\w*|serious\w*|bad\w*|profuse\w*|uncontroll\w*|plenty|severe\w*)\s+(?:\w+\s+){0,2}bleed\w*",
    r"blood\s+(?:\w+\s+){0,3}(?:everywhere|wont stop|not stop\w*|no gree stop|dey comot|dey pour|pour\w*|gush\w*"
    r"|too much)",
    r"(?:losing|lost) (?:a lot of |so much |too much )?blood", r"vomit\w* blood", r"cough\w* (?:up )?blood",
    # seizure, unconscious
    r"seiz(?:ur|ru|er)\w*\b(?!\s+(?:medic\w*|meds|drugs?|tablets?|pills?|monitor\w*|alarm\w*))", r"siez(?:ur|ru|er)\w*",
    r"seasure\w*", r"convuls\w*", r"(?:been|keeps?|kept|started|is|was) fitting", r"fitting for",
    r"(?:is|was|started|dey|keeps?) fitting",
    r"having (?:a )?fits?\b", r"epilep\w* (?:attack|fit|seizure|episode)",
    r"unconc?s\w*", r"uncon\w*ous\w*", r"passed out", r"pass(?:ed|ing)? out", r"faint(?:ed|ing|s)\b", r"feel\w* faint",
    rf"{_WHO}\s+(?:\w+\s+){{0,2}}(?:collaps\w*|blacked out|unresponsive|faint)\b",
    r"(?:oga|madam|boss|mama|papa|mummy|daddy)\s+(?:\w+\s+){0,2}faint\b",
    rf"{_WHO}\s+(?:is |was |isnt |wasnt )?not (?:waking|responding|breathing|moving)",
    r"not breathing", r"stop\w* breath\w*", r"no longer breathing", r"isnt breathing", r"(?:turned|turning|gone) blue",
    r"lips (?:are |have )?(?:turned )?blue", r"went limp", r"foam\w* (?:at|from) (?:the|his|her) mouth",
    r"eyes (?:have )?roll\w* back", r"(?:wont|cant|will not|can not|cannot|could not|couldnt) wake",
    r"no dey (?:wake|respond|breathe)", r"don (?:faint|collapse)",
    # poisoning, overdose
    r"poison(?:ed|ing)\b", r"(?:took|drank|swallow\w*|ate|drink|chop|take|taken|drunk)\s+(?:\w+\s+){0,2}poison",
    r"overdos\w*", r"over dos\w*", r"overdoz\w*", r"over doz\w*",
    r"too (?:many|much) (?:\w+\s+){0,2}(?:pills|tablets|capsules|drugs|medicine|panadol|paracetamol|sleeping)",
    rf"(?:took|take|taken|swallow\w*|drank|drink)\s+(?:\w+\s+){{0,3}}(?:too many|too much|all (?:the|my"
    rf"|of)|whole|plenty|double|extra)\s+(?:\w+\s+){{0,3}}{_SUBSTANCE}",
    rf"(?:child|baby|son|daughter|pikin|toddler|kid|boy|girl|year old|yr old|years old|month old"
    rf"|months old)\s+(?:\w+\s+){{0,6}}(?:swallow\w*|drank|drunk|ate|chop|chopped|drink|took|taken"
    rf"|take|chew\w*|bit|licked|put)\s+(?:\w+\s+){{0,4}}{_SUBSTANCE}",
    r"(?:child|baby|son|daughter|pikin|toddler|kid|year old|yr old|years old|month old"
    r"|months old)\s+(?:\w+\s+){0,4}swallow\w*",
    r"(?:swallow\w*|drank|drink|drunk)\s+(?:\w+\s+){0,3}(?:bleach|kerosene|insecticide|sniper|rat poison|detergent"
    r"|battery|batteries|chemical\w*|petrol|hypo|izal|acid|jik|dettol)",
    r"(?:ate|took|swallowed|drank|taken|eaten|chop|chopped)\s+(?:\w+\s+){0,2}\d+\s+(?:\w+\s+)?(?:tablets"
    r"|pills|capsules)",
    rf"got into (?:the |my |his |her |our )?(?:\w+ )?{_SUBSTANCE}",
    r"double dose", r"took (?:the |my |a )?whole (?:bottle|pack|packet|strip)",
    # self-harm
    r"suicid\w*", r"sucid\w*", r"suicd\w*", r"kill(?:ing)? (?:my ?self|myself|me self)",
    r"end(?:ing)? (?:my|it|his|her) (?:life"
    r"|all)", r"end it all", r"(?:want|wan|wish|going|ready) to die", r"wan die", r"take my (?:own )?life",
    r"harm(?:ing)? my ?self", r"hurt(?:ing)? my ?self", r"cut(?:ting)? my ?self", r"self ?harm\w*",
    r"no reason to live", r"better off dead", r"dont want to (?:live|be alive)", r"tired of (?:living|life)",
    # general emergency
    r"medical emergency", r"(?:i am|im|i m|he is|hes|she is|shes|they are|baby is|child is|mother is"
    r"|father is|patient is|someone is|somebody is) (?:really )?dying\b(?! to)",
    r"(?:call|need|send|get) (?:an |the |me an |me the )?ambulance", r"life threatening",
    # chest or heart pain in any word order, blue lips, asthma, stroke, head
    # injury, an infant's danger signs, bites, too much of any drug
    _near(_CHEST, _PAIN, 5), _near(_HEART, _PAIN_LOCAL),
    rf"{_WHO}\s+(?:\w+\s+){{0,2}}(?:turn\w*|gone|going|went|getting|dey turn)\s+(?:\w+\s+)?(?:blue|purple)\b",
    _near(r"lips?|fingernails?|nails?|tongue", r"blue|purple|grey|gray", 3),
    r"asthma\w* attack", r"asma attack",
    _near(r"face|mouth|smile", r"droop\w*|twisted|lopsided|numb\w*", 3), r"slurr\w*",
    r"(?:speech|words?)\s+(?:\w+\s+){0,2}(?:slurr\w*|jumbled|garbled)",
    _near(r"one side|left side|right side", r"numb\w*|weak\w*|paraly\w*|droop\w*|cant move|cannot move|dead", 3),
    r"sudden\w*\s+(?:\w+\s+){0,3}(?:numb\w*|paraly\w*|cant (?:see|speak|talk|walk)|blind)",
    _near(_HEAD_HIT, _HEAD_SIGNS, 8), _near(_INFANT, _INFANT_SIGNS, 8),
    r"(?:bitten|bit|stung)\s+by\s+(?:a |an |the |one )?(?:\w+\s+)?(?:snake|scorpion|dog|cobra|viper)",
    r"snake ?bite(?!\s*(?:kits?|serum|pack))", r"(?:snake|scorpion)\s+(?:\w+\s+){0,2}(?:bit|bite|stung|sting)\b(?!\s*(?:kits?|serum|pack))",
    _TOO_MUCH, _WHOLE_PACK, _A_PACK_OF, r"barely (?:awake|conscious|breathing|responsive)", r"(?:cant|cannot|wont) stay awake",
    r"(?:so much|lots of|a lot of|plenty|too much|pool of|loads of|plenty plenty)\s+blood",
    r"bleed\w*\s+(?:\w+\s+){0,2}(?:plenty|well well|serious\w*)",
    r"clutch\w*\s+(?:his|her|my|their|the)?\s*chest", r"(?:wont|will not|cant|not|no gree|refus\w* to) stop\w* bleed\w*",
    r"(?:took|taken|take|injected|used)\s+(?:a\s+)?double\b", r"methanol", r"antifreeze",
    r"(?:took|take|taken|drank|drink|swallow\w*)\s+(?:\w+\s+){0,2}pass(?:ed)? (?:level|limit|the dose)",
    r"end(?:ing)? everything", r"(?:cant|can not|cannot) see (?:again|anything) (?:\w+\s+){0,3}(?:after|since)",
    # Pidgin
    r"(?:im|e|she|he|pikin|my \w+)\s+(?:\w+\s+)?(?:don|dey)\s+(?:faint|collapse|shake|jerk)",
    r"blood\s+(?:\w+\s+){0,1}(?:dey )?commot",
    rf"{_WHO}\s+(?:\w+\s+){{0,2}}(?:fall|fell)\s+(?:down\s+)?for ground",
    r"(?:he|she|im|pikin|baby|papa|mama) no dey (?:talk|breathe|wake|respond|hear word)",
    r"body dey (?:shake|jerk)", r"no fit (?:breathe|breath|talk well)",
    # Yoruba (tone marks removed): cannot breathe, chest pain, blood flowing,
    # fainted, convulsion, poison, too much medicine, kill oneself, emergency
    r"ko le mi\b", r"ko le mii", r"mi daadaa", r"aya (?:n |ti )?dun", r"aya mi (?:n |ti )?dun", r"inu aya",
    r"eje (?:n |ti |pupo )?(?:da|san|jade|ya)", r"eje pupo", r"daku", r"giri\b", r"majele",
    r"mu oogun (?:\w+ ){0,2}ju", r"pa ara (?:mi|re|e)", r"pajawiri",
    # ... drank a chemical (kemika, epo, ose/ifoso), fell and does not answer or wake
    r"mu (?:\w+ )?(?:kemika|epo|ose|ifoso|majele|kerosine|bilisi)", r"ko (?:dahun|ji|mi) mo", r"ko le dahun",
    r"subu (?:lule|sile)\s+(?:\w+\s+){0,3}(?:ko|ti)",
    # Hausa
    r"numfashi", r"ciwon kirji", r"kirji (?:na |yana )?(?:ciwo|zafi)", r"zubar (?:da )?jini",
    r"jini (?:na |yana |ya )?(?:zuba|fita|fito)", r"(?:ya|ta|na) suma", r"suma\b", r"farfadiya", r"guba",
    r"kashe kai\w*", r"sha magani (?:da yawa|fiye)",
    # ... drank petrol, kerosene, bleach; does not answer or wake; fell and lies still
    r"sha (?:\w+ )?(?:fetur|kalanzir|kananzir|bilic|guba|sinadari)", r"(?:ba ya|ba ta|baya|bata) (?:amsa|farkawa|tashi)",
    r"bai (?:farka|tashi|amsa)\b", r"ba ta (?:farka|tashi|amsa)\b",
    # Igbo
    r"iku ume", r"ike iku", r"ume (?:na )?(?:ekuru|ada)", r"obi (?:na )?(?:egbu|afu) (?:m )?mgbu",
    r"mgbu (?:n )?obi", r"obara (?:na )?(?:agba|asoputa|aputa)", r"obara (?:buru )?ibu", r"dara mba",
    r"ada mba", r"akwukwu", r"\bnsi\b", r"igbu onwe", r"gbuo onwe", r"mberede",
    # ... does not wake or breathe well, drank too much medicine or a chemical
    r"naghi (?:eteta|eku ume|aza|eku)", r"adighi (?:eteta|eku ume)", r"eku ume", r"ogwu (?:\w+ )?kari[a]?\b",
    r"(?:nuru|anuru|nu) (?:\w+ )?(?:mmanu ugbo|kemikal\w*|ogwu ahihia|bleach)",
)

SELF_HARM = _any(
    r"suicid\w*", r"sucid\w*", r"suicd\w*", r"kill(?:ing)? (?:my ?self|myself|me self)", r"end (?:my|it) (?:life|all)",
    r"end it all", r"(?:want|wan|wish) to die", r"wan die", r"take my (?:own )?life", r"harm(?:ing)? my ?self",
    r"hurt(?:ing)? my ?self", r"cut(?:ting)? my ?self", r"self ?harm\w*", r"no reason to live", r"better off dead",
    r"dont want to (?:live|be alive)", r"tired of (?:living|life)", r"pa ara mi", r"kashe kaina", r"igbu onwe",
)

_PRODUCT = (r"(?:drugs?|medicines?|medication|cream|creams|tablets?|products?|syrup|supplements?|capsules?|injection"
            r"|pills?|lotion|soap|drops|vitamins?|tea|ointment|inhaler|vaccine|antibiotics?|gel|oil)")

# Something bought on Kara (or a product) is what the person reacted to.
ADVERSE = _any(
    rf"(?:reaction|react\w*|allerg\w*|rash\w*|hives|itch\w*|swell\w*|side effect\w*|vomit\w*|dizz\w*"
    rf"|spots|pimples|blister\w*)\b(?:\s+\w+){{0,6}}\s+(?:after|since|from)\s+(?:\w+\s+){{0,4}}(?:took"
    rf"|taking|using|used|applying|applied|drinking|drank|started|bought|ordered|{_PRODUCT})",
    rf"(?:allerg\w*|react\w*|reaction) to (?:\w+ ){{0,4}}{_PRODUCT}",
    r"(?:after|since)\s+(?:i\s+)?(?:took|taking|using|used|applying|applied|drinking|drank"
    r"|swallow\w*)\s+(?:\w+\s+){0,6}(?:rash|swell\w*|itch\w*|reaction|vomit\w*|dizz\w*|breath\w*|faint\w*"
    r"|pain\w*|sick|bad|worse)",
    rf"{_PRODUCT}\s+(?:\w+\s+){{0,8}}(?:gave me|gave my|caused|made me|made my|has made|is making"
    rf"|making me|dey make|don make|reaction|allerg\w*|burn\w*|blister\w*)",
    r"(?:rash|spots|pimples|hives|itch\w*|swell\w*|blister\w*) (?:\w+ ){0,3}(?:after"
    r"|since) (?:i )?(?:took|taking|using|used|applying|applied|drinking|started)",
    r"side effect\w* (?:from|after|since)", r"adverse", r"scatter(?:ed)? my (?:face|skin|body)",
)
_FROM_ORDER = _any(rf"{_PRODUCT}\s+(?:\w+\s+){{0,3}}(?:from|in|of) (?:that|this|my|the) order",
                   rf"{_PRODUCT}\s+(?:\w+\s+){{0,2}}(?:i|we) (?:bought|ordered|got)", r"booked on your")
BOUGHT_ON_KARA = _any(r"ti mo ra", r"lori kara", r"na saya", r"m zuru",
    r"(?:bought|buy|ordered|order|purchased|got|delivered)\b(?:\s+\w+){0,6}\s+(?:on|from|through|via|for"
    r"|here)\b\s*(?:kara|your|this|the site|the app|una)",
    r"(?:i|we)\s+(?:bought|ordered"
    r"|purchased)", r"my order", r"that order", r"(?:i|we) (?:\w+ )?buy for", r"kh ?-?\d{6}", r"from kara", r"on kara",
    r"(?:you|una|your (?:site|shop|vendor|store|platform)) (?:sold|sell|send|sent|deliver\w*)", r"bought here",
    r"(?:you|una) (?:\w+ )?(?:delivered|sold|sent)",
)

# Requests for medical advice: dosage, which drug, diagnosis (no emergency).
_DRUG = (r"(?:drugs?|medicines?|medication|tablets?|pills?|capsules?|syrup|antibiotics?|paracetamol|panadol"
         r"|ibuprofen|amoxicillin|metformin|aspirin|vitamins?|supplements?|injection|dose|dosage|mg|ml|cream"
         r"|antimalaria\w*|artemether|coartem|flagyl|cough syrup|insulin|inhaler)")
_SYMPTOM = (r"(?:pain|ache|headache|toothache|fever|cough|catarrh|cold|malaria|typhoid|infection|ulcer|pressure"
            r"|diabetes|rash|pimples|stomach|period|insomnia|sleep|diarrh\w*|running stomach|sore throat|flu)")
MEDICAL_ADVICE = _any(
    rf"(?:what dose|which dose|dosage of|dose of|what dosage|right dosage|right dose)\b(?:\s+\w+){{0,5}}\s+{_DRUG}",
    rf"(?:how many|how much|how often)\b(?:\s+\w+){{0,5}}\s+{_DRUG}\b(?:\s+\w+){{0,4}}\s+(?:take|taken|give|use"
    r"|drink|swallow|a day|per day|daily|at once|at a time|safe|maximum)",
    rf"{_DRUG}\s+(?:\w+\s+){{0,3}}(?:should|can|fit|do|must) (?:i|we|he|she|my \w+) (?:take|give|use|drink)",
    rf"(?:what|which|wetin)\s+(?:\w+\s+){{0,2}}{_DRUG}\s+(?:\w+\s+){{0,4}}(?:take|use|for|fit|go|should"
    rf"|good|best|treat|buy)",
    rf"(?:what|which|wetin) (?:\w+ )?(?:should|can|do|fit|go|to) (?:i|we) (?:take|use|buy|drink"
    rf"|give)\s+(?:\w+\s+){{0,3}}(?:for|against)\s+(?:\w+\s+){{0,2}}{_SYMPTOM}",
    rf"(?:should|can|may|fit) (?:i|we|he|she) (?:take|use|give|mix|combine|drink|stop)\s+(?:\w+\s+){{0,3}}{_DRUG}",
    rf"is (?:it|this) safe to (?:take|use|mix|drink)\s+(?:\w+\s+){{0,3}}{_DRUG}",
    r"prescribe (?:me|for me|something|antibiotics|drugs|medicine)", r"diagnose (?:me|my|this)",
    r"what is wrong with me", r"side effects? of", rf"(?:cure|treatment|remedy|drug|medicine) for (?:\w+ )?{_SYMPTOM}",
    rf"(?:treat|cure)\s+(?:my\s+)?{_SYMPTOM}",
    # Yoruba "which medicine", Hausa "which medicine / should I drink", Igbo "which medicine"
    r"oogun wo", r"oogun (?:\w+ ){0,3}(?:ni mo le|ti mo le) lo", r"wane magani",
    r"wani magani (?:\w+ ){0,3}(?:zan|in) sha",
    r"magani (?:\w+ ){0,2}(?:ya kamata|zan sha|in sha)", r"kedu ogwu", r"ogwu ole", r"ogwu (?:\w+ ){0,3}kwesiri",
)

# "I don't want a human, just tell me ..."
NEGATED_HUMAN = _any(
    r"(?:dont|do not|no|not|never|no need|without|nor|dont need|do not need|i no want|i no need"
    r"|no be)\s+(?:\w+\s+){0,5}(?:human|person|agent|staff|representative|customer care|somebody|someone|people)",
    r"(?:human|person|agent)\s+(?:\w+\s+){0,2}(?:not needed|no need|unnecessary)",
)

# Other businesses: a question about another company's service is not Kara
# support, however much it sounds like one ("GTBank opening hours", "my Jumia
# order"). Payment providers are also how people pay Kara, so for them only
# the questions that cannot be about a Kara payment count.
OTHER_BUSINESS = _words(
    r"jumia", r"konga", r"jiji", r"chowdeck", r"glovo", r"bolt", r"uber", r"indrive", r"gokada", r"netflix",
    r"showmax", r"dstv", r"gotv", r"startimes", r"spotify", r"boomplay", r"arik", r"air peace", r"ibom air",
    r"dana air", r"emirates", r"british airways", r"shoprite", r"spar", r"city mall", r"embassy", r"nimc", r"firs",
    r"jamb", r"waec", r"neco", r"frsc", r"nipost", r"ikedc", r"ekedc", r"phcn", r"nepa", r"lawma", r"brt",
    r"instagram", r"facebook", r"whatsapp", r"tiktok", r"twitter", r"gmail", r"youtube", r"icloud", r"apple id",
    r"amazon", r"aliexpress", r"temu", r"shein", r"binance", r"bamboo", r"risevest", r"cowrywise", r"piggyvest",
    r"bet9ja", r"sportybet", r"1xbet", r"mtn", r"airtel", r"glo", r"9mobile", r"netflix", r"prime video",
)
PAYMENT_BUSINESS = _words(
    r"gtbank", r"gtb", r"guaranty trust", r"uba", r"zenith", r"access bank", r"first ?bank", r"fcmb", r"wema",
    r"sterling", r"stanbic", r"ecobank", r"fidelity", r"union bank", r"polaris", r"keystone", r"kuda",
    r"moniepoint", r"opay", r"palmpay", r"paystack", r"flutterwave", r"chipper", r"paypal", r"payoneer",
    r"fairmoney", r"palmcredit", r"carbon", r"bank",
)
KARA = _any(r"kara", r"healthmall", r"kh ?-?\d{6}", r"your (?:site|app|platform|store|shop|website|pharmacy|vendor"
            r"|team|company|support)", r"this (?:site|app|platform|website)", r"on here", r"una (?:site|app)",
            r"from you", r"you people", r"my order\b", r"i ordered", r"i bought (?:\w+ )?(?:here|from you)")


def other_business(text: str) -> Optional[str]:
    """``other`` or ``payment`` when the message is about another company and not about Kara."""
    flat = " ".join(w for w in normalise(text).split() if "@" not in w)  # not the domain of an email
    if _matches(KARA, flat):
        return None
    if _matches(OTHER_BUSINESS, flat):
        return "other"
    if _matches(PAYMENT_BUSINESS, flat):
        return "payment"
    return None


# Language cues: common function words and greetings (diacritics removed).
_LANGUAGE_CUES: Sequence[Tuple[str, Pattern[str]]] = (
    ("yo", _words(r"e ku", r"ekaaro", r"ekasan", r"ekaale", r"bawo", r"e nle", r"enle", r"mo fe", r"mo n", r"ko le",
                  r"jowo", r"e jowo", r"nibo", r"owo mi", r"eniyan", r"oja", r"nigba wo", r"igba wo", r"e se",
                  r"ese o", r"o dabo", r"ti gba", r"ti ji", r"aya mi", r"ara mi", r"omo mi", r"daku", r"majele",
                  r"pajawiri", r"akanti\w*", r"akoole", r"ile iwosan", r"soro", r"pada", r"dupe", r"mo ti",
                  r"ki ni", r"kilode", r"osise", r"ibi ti", r"wole", r"iya mi", r"baba mi", r"ran mi lowo",
                  r"irole", r"dada", r"daadaa", r"ojo melo", r"melo", r"oogun", r"ipara", r"ti mo ra",
                  r"iba",
                  r"lori")),
    ("ha", _words(r"sannu", r"ina kwana", r"ina wuni", r"yaya dai", r"ina son", r"ina so", r"don allah",
                  r"kudi\w*", r"yaushe", r"asusu\w*", r"kutse", r"mutum", r"magana", r"kaya\w*", r"odar\w*",
                  r"na gode", r"nagode", r"sai anjima", r"numfashi", r"kirji", r"jini", r"suma", r"guba",
                  r"gaggawa", r"asibiti", r"yaya", r"yaro\w*", r"yata", r"zan", r"za a", r"an yi", r"wani ya",
                  r"kwana nawa", r"wane", r"magani", r"kamata", r"ciwo\w*", r"zazza\w*", r"na saya",
                  r"mahaifi\w*", r"mijina", r"matata", r"sosai", r"yanzu", r"ma aikaci\w*", r"taimaka\w*",
                  r"barka", r"suke")),
    ("ig", _words(r"ndewo", r"kedu", r"biko", r"achoro m", r"acho m", r"ego m", r"olee", r"ole mgbe", r"ebee",
                  r"ngwongwo\w*", r"n?akau?nt\w*", r"mmadu", r"igwa", r"okwu", r"dalu", r"daalu", r"ka omesia",
                  r"iku ume", r"obara", r"mba", r"nsi", r"ulo ogwu", r"nwa m", r"onwe m", r"mberede", r"oge ole",
                  r"anyi", r"unu", r"ihe m", r"ga alota", r"alota", r"abanyela", r"omekome", r"ezuola",
                  r"nne m", r"nna m", r"nyere m aka", r"ogwu", r"kwesiri", r"isi owuwa", r"zuru", r"nke ukwuu",
                  r"ugbu a", r"enweghi")),
    ("pcm", _words(r"abeg", r"wetin", r"wahala", r"dey", r"na im", r"no fit", r"oga", r"una", r"shey", r"sef",
                   r"abi", r"dem", r"make i", r"i wan", r"e don", r"don reach", r"na so", r"comot", r"pikin",
                   r"chop", r"wey", r"ehn", r"jare", r"o jare", r"sha", r"no be", r"how far", r"don do", r"nna",
                   r"wan")),
)


@dataclass(frozen=True)
class Screen:
    """What the screen found in one message."""

    emergency: bool
    adverse_reaction: bool
    medical_advice: bool
    negated_human: bool
    language: str


def _matches(pattern: Union[Pattern[str], GatedAlternation], text: str) -> bool:
    return pattern.search(text) is not None


def is_emergency(text: str) -> bool:
    """A medical emergency is described (any listed language)."""
    return _matches(EMERGENCY, normalise(text))


def is_adverse_reaction(text: str) -> bool:
    """A reaction to a product or a drug is described."""
    flat = normalise(text)
    if _matches(ADVERSE, flat):
        return True
    bought = _matches(BOUGHT_ON_KARA, flat) or _matches(_FROM_ORDER, flat)
    return bought and _matches(_REACTION_WORDS, flat)


_REACTION_WORDS = _any(r"reaction", r"allerg\w*", r"rash\w*", r"hives", r"swell\w*", r"swollen", r"side effect\w*",
                       r"itch\w*", r"dizz\w*", r"vomit\w*", r"blister\w*", r"peel\w*", r"shaking", r"throat",
                       r"breath\w*", r"heart (?:is )?racing", r"faint\w*", r"burn\w*")


PRODUCT_WORDS = _any(_PRODUCT, r"(?:those|these|the|that) (?:\w+ )?(?:tablets|pills|capsules|drugs|cream|syrup)",
                     r"oogun", r"ipara", r"magani", r"ogwu", r"ude")


def mentions_product(text: str) -> bool:
    """A product or medicine is named (English or the other languages' common words)."""
    return _matches(PRODUCT_WORDS, normalise(text))


def is_self_harm(text: str) -> bool:
    """Thoughts of suicide or self-harm (a kind of emergency with its own words)."""
    return _matches(SELF_HARM, normalise(text))


def wants_medical_advice(text: str) -> bool:
    return _matches(MEDICAL_ADVICE, normalise(text))


def negates_human(text: str) -> bool:
    return _matches(NEGATED_HUMAN, normalise(text))


def detect_language(text: str) -> str:
    """``en``, ``pcm``, ``yo``, ``ha`` or ``ig``: the language with the most cues (English if none)."""
    flat = normalise(text)
    best, best_hits = "en", 0
    for code, pattern in _LANGUAGE_CUES:
        hits = len(pattern.findall(flat))
        if hits > best_hits:
            best, best_hits = code, hits
    return best


def conversation_language(texts: Iterable[str]) -> str:
    """The language of the latest message that is not plain English (English if all are)."""
    for text in reversed(list(texts)):
        language = detect_language(text)
        if language != "en":
            return language
    return "en"


def screen(text: str) -> Screen:
    """Every check on one message."""
    return Screen(
        emergency=is_emergency(text),
        adverse_reaction=is_adverse_reaction(text),
        medical_advice=wants_medical_advice(text),
        negated_human=negates_human(text),
        language=detect_language(text),
    )


def language_name(code: Optional[str]) -> str:
    return LANGUAGE_NAMES.get(code or "en", "English")
