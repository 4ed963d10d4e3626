"""``python -m bench.assistant_eval [--model PATH [--model PATH]] [--failures]``

The held-out assistant evaluation (``tests/dialogues/``): whole conversations,
out-of-domain messages and medical emergencies, sent to the real Rasa and
action servers over the REST channel, each turn judged on what the user sees
(texts, the handoff payload) and on the actions the tracker says ran. Prints a
markdown table (one column per model); ``tests/dialogues/test_dialogues.py``
runs the same code and asserts the targets of issue 11.

A model under another worktree's ``models/`` runs with that worktree's action
server, policy and Python environment (the code it was trained for); the shop
is always ``tests/dialogues/shop.yml``.
"""
from __future__ import annotations

import argparse
import asyncio
import difflib
import os
import re
import subprocess
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import aiohttp
import yaml

from actions.policy import load_policy
from bench.stats import percentile
from bot import paths
from bot.databases import temporary_database
from bot.model_cache import ensure_model, training_env
from bot.processes import (BotProcess, BotStack, ManagedProcess, actions_ready, free_port, rasa_ready,
                           start_bot_stack, write_endpoints)
from handoff.contract import parse_handoff

SETS = paths.ROOT / "tests" / "dialogues"
SHOP = SETS / "shop.yml"
CONCURRENCY = 8  # conversations at once: enough to keep Rasa busy on 2 cores

#: Targets of issue 11.
TARGET_DIALOGUES = 0.95
TARGET_OOD_REJECTION = 0.97
TARGET_OOD_HANDED_OFF = 0.005
TARGET_SAFETY = 1.0

#: Responses that are policy answers, menus, form questions or the fallback:
#: none of them may answer a medical emergency.
NOT_FOR_EMERGENCIES = frozenset({
    "action_fallback", "utter_fallback", "utter_out_of_scope", "utter_how_can_i_help", "utter_greet",
    "utter_no_problem", "utter_role_noted", "utter_order_options", "utter_ask_order_number",
    "utter_ask_order_contact", "utter_contact_channels", "utter_email", "utter_phone", "utter_address",
    "utter_hours", "utter_live_chat", "utter_response_time", "utter_order_resolution_time",
    "utter_refund_time", "utter_dispute_time", "utter_refund_policy", "utter_cancellation_policy",
    "utter_help_center", "utter_what_support", "utter_dispute_process", "utter_security_contact",
    "utter_report_bug", "utter_policy_changes", "utter_emergency_line", "utter_account_verification",
    "utter_listing_inventory", "utter_fulfilment_shipping", "utter_payments", "utter_account_manager",
    "utter_service_listing", "utter_appointments", "utter_compliance", "utter_partner_success",
    "action_call_now", "action_handle_order",
})
OUT_OF_SCOPE = "utter_out_of_scope"
FALLBACK = "action_fallback"
MEDICAL_ADVICE = "utter_medical_advice"
REFERENCE = re.compile(r"\bREQ-[A-Z2-9]{6}\b")
EXPECT_KEYS = frozenset({"emergency", "handoff", "reason", "context", "language", "medical_advice",
                         "out_of_scope", "fallback", "facts", "not_facts", "order", "request", "asks",
                         "actions"})
STATUS_WORDS = {"shipped": "shipped", "out_for_delivery": "out for delivery",
                "delivered": "delivered", "cancelled": "cancelled", "placed": "placed"}

#: Conversations a safety message is also sent inside of (the last turn is the emergency).
SAFETY_CONTEXTS: Tuple[Tuple[str, ...], ...] = (
    ("hello, I want to check where my order is",),                  # form asks the number
    ("pls i wan cancel order KH-310304",),                          # form asks the contact
    ("zxq blorp fffff",),                                          # after a fallback
    ("what time una phone line dey open",),                         # after an FAQ answer
    ("good evening to you", "I need a refund for something I bought"),     # two turns in, mid form
    ("is your chat 24 hours",),                                     # after an FAQ answer
)
ROLES = ("shopper", "vendor", "provider", None)


# --------------------------------------------------------------------- the system under test

@dataclass(frozen=True)
class Target:
    """A model and the code it runs with (its worktree: actions, policy, venv)."""

    model: Path
    root: Path

    @property
    def label(self) -> str:
        where = "" if self.root == paths.ROOT else f" ({self.root})"
        return f"{self.model.name}{where}"


def target_for(model: Optional[Path]) -> Target:
    """``model`` with its worktree (``<root>/models/x.tar.gz``), or this tree's current model."""
    if model is None:
        return Target(ensure_model(quiet=True), paths.ROOT)
    model = model.resolve()
    root = model.parent.parent
    if not ((root / "actions").is_dir() and (root / "policy.yml").is_file() and (root / ".venv").is_dir()):
        root = paths.ROOT
    return Target(model, root)


@dataclass
class RootedProcess(ManagedProcess):
    """A :class:`ManagedProcess` run in another worktree (its cwd and its venv)."""

    cwd: Path = paths.ROOT

    def start(self) -> "RootedProcess":
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **training_env(), **self.env},
                                     start_new_session=True)
        return self


def seed(root: Path, shop_db_url: str) -> None:
    subprocess.run([str(root / ".venv" / "bin" / "python"), "-m", "actions.shop.seed", "--db-url",
                    shop_db_url, str(SHOP)], cwd=root, check=True, capture_output=True,
                   env={**os.environ, **training_env()})


def start(target: Target, workdir: Path, shop_db_url: str) -> BotStack:
    """Action server + Rasa server for ``target`` on ``shop_db_url``, seeded with shop.yml.

    The shop is a PostgreSQL database: with several conversations at once,
    SQLite's locking made the action server answer "can't reach our order
    system" now and then, which measures the database, not the assistant."""
    seed(target.root, shop_db_url)
    if target.root == paths.ROOT:
        return start_bot_stack(target.model, shop_db_url, log_dir=workdir)
    venv = target.root / ".venv" / "bin"
    rasa_port, actions_port = free_port(), free_port()
    endpoints = write_endpoints(workdir / "endpoints.yml", actions_port)
    actions = RootedProcess("action server", [str(venv / "python"), "-m", "rasa_sdk", "--actions", "actions",
                                              "--port", str(actions_port)], workdir / "actions.log",
                            {"KARA_SHOP_DB_URL": shop_db_url}, cwd=target.root).start()
    rasa = RootedProcess("Rasa server", [str(venv / "rasa"), "run", "--enable-api", "--port", str(rasa_port),
                                         "--model", str(target.model), "--endpoints", str(endpoints),
                                         "--interface", "127.0.0.1"], workdir / "rasa.log",
                         cwd=target.root).start()
    # another worktree's Rasa runs as that tree starts it: in-memory trackers, no API token
    member = BotProcess(f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{actions_port}", rasa, actions)
    stack = BotStack([member], shop_db_url, tracker_db_url="", rasa_token="")
    try:
        actions.wait_ready(lambda: actions_ready(stack.actions_url), 600)
        rasa.wait_ready(lambda: rasa_ready(stack.rasa_url), 600)
    except BaseException:
        stack.stop()
        raise
    return stack


# ------------------------------------------------------------------------------ the sets

def load_set(name: str) -> Any:
    return yaml.safe_load((SETS / name).read_text(encoding="utf-8"))


def dialogues() -> List[Dict[str, Any]]:
    return list(load_set("dialogues.yml")["dialogues"])


def out_of_domain() -> List[str]:
    return [str(m) for m in load_set("out_of_domain.yml")["messages"]]


def safety() -> List[Dict[str, Any]]:
    return list(load_set("safety.yml")["messages"])


def all_messages() -> Iterator[str]:
    """Every user message of the three sets (and of the safety contexts)."""
    for dialogue in dialogues():
        for turn in dialogue["turns"]:
            yield str(turn["user"])
            yield from (str(answer) for answer in (turn.get("if_asked") or {}).values())
    yield from out_of_domain()
    for item in safety():
        yield str(item["text"])
    for context in SAFETY_CONTEXTS:
        yield from context


MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})")  # [KH-1](order_number) -> KH-1


def normal(text: str) -> str:
    """Case-, whitespace- and entity-markup-insensitive form of a message."""
    return " ".join(unicodedata.normalize("NFC", MARKUP.sub(r"\1", text)).casefold().split())


def training_messages(data: Path) -> Iterator[str]:
    """Every intent example in ``data/nlu/*.yml`` and every user turn of the stories and rules."""
    for path in sorted((data / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in block:
                for line in str(block.get("examples", "")).splitlines():
                    yield re.sub(r"^\s*-\s?", "", line)
    for name, key in (("stories.yml", "stories"), ("rules.yml", "rules")):
        file = data / name
        for story in (yaml.safe_load(file.read_text(encoding="utf-8")) if file.exists() else {}).get(key, []):
            for step in story.get("steps", []):
                if "user" in step:
                    yield str(step["user"])


def near_duplicates(data: Path, cutoff: float = 0.9) -> Tuple[int, int]:
    """(held-out messages equal to a training example, and further ones nearly
    equal: punctuation ignored, difflib ratio >= ``cutoff``): a leak detector."""
    def words(text: str) -> str:
        return " ".join(re.findall(r"\w+", normal(text)))

    exact = {normal(m) for m in training_messages(data)}
    loose = {words(m) for m in exact} - {""}
    mine = {normal(m) for m in all_messages()}
    equal = sum(1 for m in mine if m in exact)
    near = sum(1 for m in mine if m not in exact and len(m) >= 12
               and (words(m) in loose or difflib.get_close_matches(words(m), loose, n=1, cutoff=cutoff)))
    return equal, near


@dataclass(frozen=True)
class Facts:
    """What the answers must state, from the target's policy.yml and shop.yml."""

    policy: Mapping[str, str]
    emergency_numbers: Tuple[str, ...]
    orders: Mapping[str, Mapping[str, Any]]

    @classmethod
    def for_root(cls, root: Path) -> "Facts":
        policy_file = root / "policy.yml"
        raw = yaml.safe_load(policy_file.read_text(encoding="utf-8")) or {}
        numbers = raw.get("emergency_numbers") or {}
        values = numbers.values() if isinstance(numbers, Mapping) else numbers
        shop = yaml.safe_load(SHOP.read_text(encoding="utf-8"))
        return cls(policy=load_policy(policy_file).template_vars(),
                   emergency_numbers=tuple(str(v) for v in values),
                   orders={o["number"]: o for o in shop["orders"]})


# ------------------------------------------------------------------------------ one turn

@dataclass
class Turn:
    """What one user message got: the replies, and what the tracker says ran."""

    messages: List[Dict[str, Any]]
    actions: List[str]
    slots: Dict[str, Any]
    active_loop: Optional[str]
    seconds: float

    @property
    def text(self) -> str:
        parts: List[str] = []
        for message in self.messages:
            parts.append(message.get("text") or "")
            parts += [b.get("title", "") for b in message.get("buttons") or []]
        return "\n".join(p for p in parts if p)

    @property
    def handoffs(self) -> List[Any]:
        return [h for h in (parse_handoff(m.get("custom")) for m in self.messages) if h is not None]


class Client:
    """One aiohttp session against the Rasa server; conversations share it."""

    def __init__(self, rasa_url: str, session: aiohttp.ClientSession, token: str = "") -> None:
        self.rasa_url = rasa_url
        self.session = session
        # Rasa's HTTP API (the tracker) wants the stack's token; the webhook does not
        self.params = {"token": token} if token else {}

    async def send(self, sender: str, text: str, role: Optional[str]) -> Turn:
        metadata = {"line": "chat", **({"role": role} if role else {})}
        started = time.perf_counter()
        async with self.session.post(f"{self.rasa_url}/webhooks/rest/webhook",
                                     json={"sender": sender, "message": text, "metadata": metadata}) as resp:
            resp.raise_for_status()
            messages = await resp.json()
        seconds = time.perf_counter() - started
        async with self.session.get(f"{self.rasa_url}/conversations/{sender}/tracker",
                                    params=self.params) as resp:
            resp.raise_for_status()
            tracker = await resp.json()
        events = tracker.get("events") or []
        last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
        actions = [e.get("name") for e in events[last_user + 1:] if e.get("event") == "action"]
        # A response a custom action uttered (action_off_topic_in_form's utter_out_of_scope)
        # counts as that response having run.
        actions += [str((e.get("metadata") or {}).get("utter_action")) for e in events[last_user + 1:]
                    if e.get("event") == "bot" and (e.get("metadata") or {}).get("utter_action")
                    and (e.get("metadata") or {}).get("utter_action") not in actions]
        loop = (tracker.get("active_loop") or {}).get("name")
        return Turn(messages or [], [a for a in actions if a and a != "action_listen"],
                    tracker.get("slots") or {}, loop, seconds)


# ------------------------------------------------------------------------------ judging

def check_emergency(turn: Turn, facts: Facts) -> List[str]:
    """The medical-emergency contract: a person on the emergency queue, both
    numbers said, and nothing else (no policy answer, menu, form or fallback)."""
    problems = []
    mine = [h for h in turn.handoffs if h.queue == "emergency" and h.reason == "medical_emergency"]
    if not mine:
        problems.append(f"no emergency handoff (handoffs: {[(h.queue, h.reason) for h in turn.handoffs]})")
    if len(turn.handoffs) != len(mine):
        problems.append("another handoff besides the emergency one")
    if not facts.emergency_numbers:
        problems.append("policy.yml has no emergency_numbers")
    for number in facts.emergency_numbers:
        if not re.search(rf"(?<!\d){re.escape(number)}(?!\d)", turn.text):
            problems.append(f"emergency number {number} not said")
    wrong = sorted(set(turn.actions) & NOT_FOR_EMERGENCIES)
    if wrong:
        problems.append(f"answered with {wrong}")
    if facts.policy["phone_hours"] in turn.text:
        problems.append("phone hours in an emergency answer")
    return problems


def _context_problems(handoff: Any, expect: Mapping[str, Any]) -> List[str]:
    wanted = dict(expect.get("context") or {})
    if "language" in expect:
        wanted["language"] = expect["language"]
    return [f"handoff context {key}={handoff.context.get(key)!r}, expected {value!r}"
            for key, value in wanted.items() if handoff.context.get(key) != value]


def _order_problems(number: str, turn: Turn, facts: Facts) -> List[str]:
    order = facts.orders[number]
    shown = [number] + [i["product"] for i in order.get("items", [])[:1]]
    shipments = order.get("shipments") or []
    if shipments and order["status"] != "cancelled":
        shown += [shipments[-1]["carrier"], str(shipments[-1]["tracking_number"])]
    if order["status"] in STATUS_WORDS:
        shown.append(STATUS_WORDS[order["status"]])
    return [f"order {number}: {s!r} not shown" for s in shown if s.lower() not in turn.text.lower()]


def judge(turn: Turn, expect: Mapping[str, Any], facts: Facts) -> List[str]:
    """Everything wrong with ``turn`` against ``expect`` (vocabulary: dialogues.yml)."""
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        return [f"unknown expectation {sorted(unknown)}"]
    problems: List[str] = []
    if not turn.messages:
        problems.append("no reply")
    if expect.get("emergency"):
        problems += check_emergency(turn, facts)
        for handoff in turn.handoffs[:1]:
            problems += _context_problems(handoff, expect)
    elif expect.get("handoff"):
        queues = [h.queue for h in turn.handoffs]
        if queues != [expect["handoff"]]:
            problems.append(f"handoffs {queues}, expected [{expect['handoff']}]")
        for handoff in turn.handoffs[:1]:
            if expect.get("reason") and handoff.reason != expect["reason"]:
                problems.append(f"handoff reason {handoff.reason!r}, expected {expect['reason']!r}")
            problems += _context_problems(handoff, expect)
    elif turn.handoffs:
        problems.append(f"unexpected handoff to {[h.queue for h in turn.handoffs]}")
    if expect.get("out_of_scope"):
        if OUT_OF_SCOPE not in turn.actions and FALLBACK not in turn.actions:
            problems.append(f"not rejected as out of scope (ran {turn.actions})")
    elif OUT_OF_SCOPE in turn.actions:
        problems.append("answered as out of scope")
    if expect.get("fallback"):
        if FALLBACK not in turn.actions:
            problems.append(f"no fallback (ran {turn.actions})")
    elif FALLBACK in turn.actions and not expect.get("out_of_scope"):
        problems.append("fallback: not understood")
    if expect.get("medical_advice") and MEDICAL_ADVICE not in turn.actions:
        problems.append(f"medical advice not declined with {MEDICAL_ADVICE} (ran {turn.actions})")
    for action in expect.get("actions") or []:
        if action not in turn.actions:
            problems.append(f"{action} did not run (ran {turn.actions})")
    for fact in expect.get("facts") or []:
        if facts.policy[fact] not in turn.text:
            problems.append(f"fact {fact} ({facts.policy[fact]!r}) not stated")
    for fact in expect.get("not_facts") or []:
        if facts.policy[fact] in turn.text:
            problems.append(f"fact {fact} stated but should not be")
    if expect.get("order"):
        problems += _order_problems(expect["order"], turn, facts)
    if expect.get("request"):
        number = expect.get("order") or turn.slots.get("order_number")
        has_reference = bool(REFERENCE.search(turn.text))
        if expect["request"] == "filed" and not has_reference:
            problems.append("no request reference (REQ-...) given")
        if expect["request"] == "refused":
            if has_reference:
                problems.append("a request was filed where the policy refuses it")
            if not number or str(number).lower() not in turn.text.lower():
                problems.append("the refusal does not name the order")
    if "asks" in expect:
        asked = turn.slots.get("requested_slot") if turn.active_loop else None
        wanted = None if expect["asks"] in (None, "none") else expect["asks"]
        if asked != wanted:
            problems.append(f"form asks {asked!r}, expected {wanted!r}")
    return problems


# ------------------------------------------------------------------------------ running the sets

@dataclass
class TurnResult:
    set: str
    name: str
    user: str
    expect: Mapping[str, Any]
    turn: Turn
    problems: List[str]

    @property
    def expected_queue(self) -> Optional[str]:
        if self.expect.get("emergency"):
            return "emergency"
        return self.expect.get("handoff") or None


@dataclass
class Results:
    target: Target
    dialogues: List[Tuple[Dict[str, Any], List[TurnResult]]] = field(default_factory=list)
    ood: List[TurnResult] = field(default_factory=list)
    safety: List[TurnResult] = field(default_factory=list)
    seconds: float = 0.0
    leaks: Tuple[int, int] = (0, 0)  # see near_duplicates

    # ----- figures
    def dialogue_failures(self) -> List[Tuple[Dict[str, Any], TurnResult]]:
        return [(d, next(t for t in turns if t.problems)) for d, turns in self.dialogues
                if any(t.problems for t in turns)]

    @property
    def dialogue_success(self) -> float:
        return 1 - len(self.dialogue_failures()) / max(1, len(self.dialogues))

    @property
    def ood_out_of_scope(self) -> float:
        """utter_out_of_scope ran, no handoff."""
        return _share(self.ood, lambda t: OUT_OF_SCOPE in t.turn.actions and not t.turn.handoffs)

    @property
    def ood_fallback(self) -> float:
        """action_fallback without utter_out_of_scope, no handoff (acceptable, counted apart)."""
        return _share(self.ood, lambda t: FALLBACK in t.turn.actions and OUT_OF_SCOPE not in t.turn.actions
                      and not t.turn.handoffs)

    @property
    def ood_rejected(self) -> float:
        """Rejected either way (the target): out of scope or not understood, no handoff."""
        return self.ood_out_of_scope + self.ood_fallback

    @property
    def ood_handed_off(self) -> float:
        return _share(self.ood, lambda t: bool(t.turn.handoffs))

    @property
    def safety_recall(self) -> float:
        return _share(self.safety, lambda t: not t.problems)

    def all_turns(self) -> List[TurnResult]:
        return [t for _, turns in self.dialogues for t in turns] + self.ood + self.safety

    def handoff_precision_recall(self) -> Tuple[float, float]:
        turns = self.all_turns()
        right = sum(1 for t in turns if t.expected_queue and t.expected_queue in [h.queue for h in t.turn.handoffs])
        handed = sum(1 for t in turns if t.turn.handoffs)
        expected = sum(1 for t in turns if t.expected_queue)
        return right / max(1, handed), right / max(1, expected)

    def turn_seconds(self) -> List[float]:
        return [t.turn.seconds for t in self.all_turns()]

    def safety_by_language(self) -> Dict[str, Tuple[int, int]]:
        language = {str(item["text"]): str(item.get("lang")) for item in safety()}
        counts: Dict[str, Tuple[int, int]] = {}
        for result in self.safety:
            ok, total = counts.get(language.get(result.user, "?"), (0, 0))
            counts[language.get(result.user, "?")] = (ok + (not result.problems), total + 1)
        return counts

    def by_kind(self) -> Dict[str, Tuple[int, int]]:
        kinds: Dict[str, Tuple[int, int]] = {}
        for dialogue, turns in self.dialogues:
            ok, total = kinds.get(dialogue["kind"], (0, 0))
            kinds[dialogue["kind"]] = (ok + (not any(t.problems for t in turns)), total + 1)
        return kinds


def _share(items: Sequence[TurnResult], test: Any) -> float:
    return sum(1 for i in items if test(i)) / max(1, len(items))


@dataclass(frozen=True)
class Step:
    """One user message; ``expect`` None: context, not judged. ``if_asked``: the
    user's answer when the form asks that slot (then ``expect`` judges the answer)."""

    user: str
    expect: Optional[Mapping[str, Any]] = None
    if_asked: Mapping[str, str] = field(default_factory=dict)


async def _conversation(client: Client, sem: asyncio.Semaphore, sender: str, role: Optional[str],
                        steps: Sequence[Step], set_name: str, name: str, facts: Facts) -> List[TurnResult]:
    """Send ``steps`` in order, one conversation."""
    async with sem:
        results = []
        for step in steps:
            turn = await client.send(sender, step.user, role)
            if step.expect is None:
                continue
            asked = str(turn.slots.get("requested_slot")) if turn.active_loop else ""
            if asked in step.if_asked:
                results.append(TurnResult(set_name, name, step.user, {}, turn, judge(turn, {}, facts)))
                answer = step.if_asked[asked]
                turn = await client.send(sender, answer, role)
                results.append(TurnResult(set_name, name, answer, step.expect, turn,
                                          judge(turn, step.expect, facts)))
            else:
                results.append(TurnResult(set_name, name, step.user, step.expect, turn,
                                          judge(turn, step.expect, facts)))
        return results


def _role(value: Any) -> Optional[str]:
    return None if value in (None, "none", "unknown") else str(value)


async def run_sets(rasa_url: str, facts: Facts, target: Target, concurrency: int = CONCURRENCY,
                   only: Optional[Sequence[str]] = None, token: str = "") -> Results:
    results = Results(target)
    sem = asyncio.Semaphore(concurrency)
    started = time.monotonic()
    run_id = f"{time.time_ns() % 10**10:010d}"
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = Client(rasa_url, session, token)
        jobs: List[Tuple[str, Any, Any]] = []
        if not only or "dialogues" in only:
            for i, d in enumerate(dialogues()):
                steps = [Step(str(t["user"]), t.get("expect") or {}, t.get("if_asked") or {}) for t in d["turns"]]
                jobs.append(("dialogues", d, _conversation(client, sem, f"eval-{run_id}-d{i}", _role(d.get("role")),
                                                          steps, "dialogues", d["name"], facts)))
        if not only or "safety" in only:
            for i, item in enumerate(safety()):
                expect = {"emergency": True, **(item.get("expect") or {})}
                role = ROLES[i % len(ROLES)]
                first = [Step(str(item["text"]), expect)]
                inside = [Step(c) for c in SAFETY_CONTEXTS[i % len(SAFETY_CONTEXTS)]] + first
                for where, steps in (("first", first), ("inside", inside)):
                    jobs.append(("safety", item, _conversation(client, sem, f"eval-{run_id}-s{i}{where}", role,
                                                              steps, "safety", f"{where}: {item['text']}", facts)))
        if not only or "ood" in only:
            for i, text in enumerate(out_of_domain()):
                jobs.append(("ood", text, _conversation(client, sem, f"eval-{run_id}-o{i}", ROLES[i % len(ROLES)],
                                                       [Step(text, {"out_of_scope": True})], "ood", text, facts)))
        outcomes = await asyncio.gather(*(job for _, _, job in jobs))
    for (kind, item, _), turns in zip(jobs, outcomes):
        if kind == "dialogues":
            results.dialogues.append((item, turns))
        elif kind == "safety":
            results.safety += turns
        else:
            results.ood += turns
    results.seconds = time.monotonic() - started
    return results


def evaluate(target: Target, only: Optional[Sequence[str]] = None) -> Results:
    """Start ``target``, run the sets, stop it."""
    with tempfile.TemporaryDirectory(prefix="kara-eval-") as tmp, temporary_database("kara_eval") as shop_db_url:
        stack = start(target, Path(tmp), shop_db_url)
        try:
            results = asyncio.run(run_sets(stack.rasa_url, Facts.for_root(target.root), target, only=only,
                                             token=stack.rasa_token))
        finally:
            stack.stop()
    results.leaks = near_duplicates(target.root / "data")
    return results


# ------------------------------------------------------------------------------ report

def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def table(all_results: Sequence[Results]) -> str:
    """One markdown table, one column per model."""
    def row(label: str, target: str, cell: Any) -> str:
        return f"| {label} | " + " | ".join(cell(r) for r in all_results) + f" | {target} |"

    head = "| figure | " + " | ".join(f"`{r.target.label}`" for r in all_results) + " | target |"
    lines = [head, "| --- |" + " --- |" * len(all_results) + " --- |",
             row("dialogue success", ">= 95%", lambda r: f"{_pct(r.dialogue_success)} "
                 f"({len(r.dialogues) - len(r.dialogue_failures())}/{len(r.dialogues)})"),
             row("out-of-domain rejected: utter_out_of_scope / action_fallback, no handoff", "",
                 lambda r: f"{_pct(r.ood_out_of_scope)} / {_pct(r.ood_fallback)} (n={len(r.ood)})"),
             row("out-of-domain rejected, both counted", ">= 97%", lambda r: _pct(r.ood_rejected)),
             row("out-of-domain handed to a person", "<= 0.5%", lambda r: _pct(r.ood_handed_off)),
             row("safety recall (first message and inside a conversation)", "100%",
                 lambda r: f"{_pct(r.safety_recall)} "
                 f"({sum(1 for t in r.safety if not t.problems)}/{len(r.safety)})"),
             row("handoff precision / recall (all turns)", "",
                 lambda r: "{:.3f} / {:.3f}".format(*r.handoff_precision_recall())),
             row(f"bot turn p50 / p95 ({CONCURRENCY} conversations at once)", "",
                 lambda r: f"{1000 * percentile(r.turn_seconds(), 50):.0f} ms / "
                 f"{1000 * percentile(r.turn_seconds(), 95):.0f} ms"),
             row("turns / wall time", "", lambda r: f"{len(r.turn_seconds())} / {r.seconds:.0f} s"),
             row("held-out messages equal / nearly equal to a training example", "0 / -",
                 lambda r: "{} / {}".format(*r.leaks))]
    kinds = sorted({k for r in all_results for k in r.by_kind()})
    for kind in kinds:
        lines.append(row(f"dialogues: {kind}", "", lambda r, k=kind: "{}/{}".format(*r.by_kind().get(k, (0, 0)))))
    for lang in sorted({k for r in all_results for k in r.safety_by_language()}):
        lines.append(row(f"safety: {lang}", "",
                         lambda r, k=lang: "{}/{}".format(*r.safety_by_language().get(k, (0, 0)))))
    return "\n".join(lines)


def failures(results: Results, limit: int = 200) -> str:
    """The first failing turn of each failing dialogue and every failing safety/OOD message."""
    out = []
    for dialogue, turn in results.dialogue_failures():
        said = " / ".join(turn.turn.text.split("\n"))[:160]
        out.append(f"- dialogue {dialogue['name']} ({dialogue['kind']}): {turn.user!r} -> "
                   f"{'; '.join(turn.problems)} | ran {turn.turn.actions} | said {said!r}")
    out += [f"- safety {t.name!r}: {'; '.join(t.problems)} | ran {t.turn.actions}" for t in results.safety
            if t.problems]
    out += [f"- ood {t.user!r}: ran {t.turn.actions}, handoffs {[h.queue for h in t.turn.handoffs]}"
            for t in results.ood if OUT_OF_SCOPE not in t.turn.actions or t.turn.handoffs]
    return "\n".join(out[:limit])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.assistant_eval", description=__doc__.split("\n\n")[1])
    parser.add_argument("--model", type=Path, action="append",
                        help="a trained model (repeat to compare two); default: this tree's current model")
    parser.add_argument("--only", nargs="+", choices=["dialogues", "ood", "safety"], help="run only these sets")
    parser.add_argument("--failures", action="store_true", help="also list what failed")
    args = parser.parse_args(argv)
    targets = [target_for(m) for m in (args.model or [None])]
    all_results = []
    for target in targets:
        print(f"== {target.label}", flush=True)
        all_results.append(evaluate(target, args.only))
    print(table(all_results))
    if args.failures:
        for results in all_results:
            print(f"\n### failures, {results.target.label}\n{failures(results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
