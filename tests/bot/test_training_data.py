"""The training data, the domain and the test stories, checked with Rasa's own
tools against the one trained model of this run."""
from __future__ import annotations

import re
import subprocess

import yaml

from bot import paths
from bot.model_cache import ensure_model, fingerprint, model_inputs

RASA = str(paths.VENV_BIN / "rasa")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RASA, *args], cwd=paths.ROOT, capture_output=True, text=True,
                          env={"PATH": str(paths.VENV_BIN) + ":/usr/bin:/bin",
                               "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
                               "RASA_TELEMETRY_ENABLED": "false", "HOME": str(paths.ROOT / "var")})


def _responses_used_outside_stories() -> set:
    """Form questions (``utter_ask_<slot>``) and responses that actions send.

    Rasa 3.6's validator only looks at stories and rules, so it reports these
    as unused although forms and actions use them."""
    domain = yaml.safe_load(paths.DOMAIN.read_text())
    form_slots = {slot for form in domain.get("forms", {}).values()
                  for slot in form.get("required_slots", [])}
    used = {f"utter_ask_{slot}" for slot in form_slots}
    for module in (paths.ROOT / "actions").rglob("*.py"):
        used |= set(re.findall(r'response="(utter_\w+)"', module.read_text()))
    return used & set(domain["responses"])


def test_rasa_data_validate_is_clean() -> None:
    result = _run("data", "validate", "--domain", str(paths.DOMAIN), "--data", str(paths.DATA),
                  "--config", str(paths.CONFIG), "--fail-on-warnings")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    warnings = re.findall(r"UserWarning: (.*)", output)
    unused = {m.group(1) for w in warnings
              if (m := re.match(r"The utterance '(\w+)' is not used in any story or rule", w))}
    assert unused <= _responses_used_outside_stories(), output[-4000:]
    others = [w for w in warnings if "is not used in any story or rule" not in w]
    assert others == [], output[-4000:]


def test_every_test_story_passes(tmp_path) -> None:
    model = ensure_model(quiet=True)
    result = _run("test", "core", "--model", str(model), "--stories", str(paths.ROOT / "tests" / "stories"),
                  "--out", str(tmp_path), "--fail-on-prediction-errors")
    failed = (tmp_path / "failed_test_stories.yml")
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:] + detail[-3000:]


def _plain(text: str) -> str:
    """A message without entity markup: ``[KH-1](order_number)`` -> ``KH-1``."""
    return re.sub(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})", r"\1", text).strip()


def _examples(path) -> set:
    found = set()
    for block in (yaml.safe_load(path.read_text()) or {}).get("nlu", []):
        for line in str(block.get("examples", "")).splitlines():
            text = _plain(line.lstrip("- ").strip())
            if text:
                found.add(text.lower())
    return found


def test_held_out_messages_are_not_training_messages() -> None:
    training = set().union(*(_examples(p) for p in paths.DATA.rglob("*.yml")))
    held_out = _examples(paths.ROOT / "tests" / "nlu" / "holdout.yml")
    assert len(held_out) > 100
    assert held_out & training == set()


def test_story_messages_are_not_training_messages() -> None:
    training = set().union(*(_examples(p) for p in paths.DATA.rglob("*.yml")))
    stories = yaml.safe_load((paths.ROOT / "tests" / "stories" / "test_stories.yml").read_text())
    said = {_plain(str(step["user"])).lower()
            for story in stories["stories"] for step in story["steps"] if "user" in step}
    assert said & training == set()


def test_model_is_cached_by_the_hash_of_its_inputs() -> None:
    model = ensure_model(quiet=True)
    mtime = model.stat().st_mtime
    assert ensure_model(quiet=True) == model and model.stat().st_mtime == mtime
    assert model.name == f"{fingerprint()}.tar.gz"
    # A change to any input changes the fingerprint, so the next run retrains.
    inputs = model_inputs()
    assert paths.CONFIG in inputs and paths.DOMAIN in inputs
    assert any(p.parent == paths.DATA or paths.DATA in p.parents for p in inputs)
    assert fingerprint(inputs[:-1]) != fingerprint(inputs)
