"""Compare NLU pipelines on the held-out set: intent F1, handoff precision and
recall, and training time, each measured in one run on this machine.

    .venv/bin/python -m bench.nlu_compare [config.yml bench/config_diet.yml ...]
    .venv/bin/python -m bench.nlu_compare --models models/OLD.tar.gz models/NEW.tar.gz

``--models`` scores models already trained (no training time), e.g. the model
of the code before a change against the current one.

Handoff detection is scored as a binary task: a held-out message is positive
when its true intent hands off to a person, and the prediction is positive when
the predicted intent does (a low-confidence ``nlu_fallback`` counts as negative,
as the bot would answer with help rather than hand off).
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from bot import paths
from bot.model_cache import training_env

HOLDOUT = paths.ROOT / "tests" / "nlu" / "holdout.yml"
HANDOFF_INTENTS = {"request_human", "report_dispute", "report_malpractice",
                   "report_security_issue", "provider_emergency", "medical_emergency",
                   "report_adverse_reaction"}


def train(config: Path, out: Path) -> Tuple[Path, float]:
    started = time.monotonic()
    subprocess.run(
        [str(paths.VENV_BIN / "rasa"), "train", "--config", str(config), "--domain",
         str(paths.DOMAIN), "--data", str(paths.DATA), "--out", str(out),
         "--fixed-model-name", config.stem],
        cwd=paths.ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **training_env(), "RASA_CACHE_DIRECTORY": str(out / f"cache-{config.stem}")},
    )
    return out / f"{config.stem}.tar.gz", time.monotonic() - started


def load_holdout() -> List[Tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(HOLDOUT))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


async def predict(model: Path, texts: Sequence[str]) -> List[str]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    out = []
    for text in texts:
        parsed = await agent.parse_message(text)
        out.append(parsed["intent"]["name"])
    return out


def score(truth: Sequence[str], predicted: Sequence[str]) -> Dict[str, float]:
    from sklearn.metrics import f1_score, precision_score, recall_score

    true_h = [t in HANDOFF_INTENTS for t in truth]
    pred_h = [p in HANDOFF_INTENTS for p in predicted]
    return {
        "intent_f1_macro": f1_score(truth, predicted, average="macro", zero_division=0),
        "intent_f1_weighted": f1_score(truth, predicted, average="weighted", zero_division=0),
        "accuracy": sum(t == p for t, p in zip(truth, predicted)) / len(truth),
        "handoff_precision": precision_score(true_h, pred_h, zero_division=0),
        "handoff_recall": recall_score(true_h, pred_h, zero_division=0),
    }


def _report_misses(name: str, texts: Sequence[str], truth: Sequence[str], predicted: Sequence[str]) -> None:
    misses = [(t, i, p) for t, i, p in zip(texts, truth, predicted) if i != p]
    print(f"{name}: {len(misses)} of {len(texts)} held-out messages misclassified", file=sys.stderr)
    for text, want, got in misses[:40]:
        print(f"   {want:>28} -> {got:<28} {text!r}", file=sys.stderr)


def main(configs: Sequence[str]) -> None:
    examples = load_holdout()
    texts = [t for t, _ in examples]
    truth = [i for _, i in examples]
    rows = []
    if configs and configs[0] == "--models":
        for model_file in configs[1:]:
            predicted = asyncio.run(predict(Path(model_file), texts))
            rows.append((model_file, float("nan"), score(truth, predicted)))
            _report_misses(model_file, texts, truth, predicted)
        configs = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            model, seconds = train(paths.ROOT / config, Path(tmp))
            predicted = asyncio.run(predict(model, texts))
            rows.append((config, seconds, score(truth, predicted)))
            _report_misses(config, texts, truth, predicted)
    print(f"\nHeld-out set: {len(texts)} messages, {len(set(truth))} intents\n")
    print("| pipeline | training (s) | intent F1 macro | intent F1 weighted | accuracy "
          "| handoff precision | handoff recall |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for config, seconds, s in rows:
        print(f"| `{config}` | {seconds:.0f} | {s['intent_f1_macro']:.3f} | "
              f"{s['intent_f1_weighted']:.3f} | {s['accuracy']:.3f} | "
              f"{s['handoff_precision']:.3f} | {s['handoff_recall']:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["config.yml", "bench/config_diet.yml"])
