"""The soak load generator, run short: every accepted message stored exactly
once, nothing crashes. (The full 500 shoppers / 20 agents / 5 minutes run and
its figures: ``tests/faults/SOAK.md``.)"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.handoff.helpers import PYTHON, REPO

pytestmark = pytest.mark.timeout(400)


def test_short_soak(stack, tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    run = subprocess.run(
        [PYTHON, "-m", "bench.soak", "--shoppers", "60", "--agents", "5", "--seconds", "20",
         "--rasa-url", stack.rasa_url, "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    print(run.stdout[-3000:])
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["duplicates"] == 0 and figures["lost"] == 0
    assert figures["crashes"] == 0 and figures["gateway_tracebacks"] == 0
    assert figures["shopper_messages_accepted"] > 100 and figures["agent_messages_accepted"] > 50
    assert figures["messages_stored"] == figures["messages_accepted"] + figures["stored_without_ack"]
    assert figures["bot_turns"] >= 60 and figures["handoffs"] >= 55
    assert figures["resends"] > 0
    assert "internal_error" not in figures["error_frames"]
    # what the agents sent was refused only in a claiming race (already_claimed, not counted)
    assert not [code for code in figures["error_frames"] if code.startswith("agent:")], figures["error_frames"]
