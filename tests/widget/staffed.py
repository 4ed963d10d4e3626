"""A gateway of a test's own for the browser tests that need no assistant:
``python -m handoff serve`` with Rasa on a closed port (the gateway hands
``/request_human`` off by itself), queues staffed at any hour, and agents
made with ``python -m handoff create-agent`` (password ``tests.ops.gateways.PASSWORD``)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence, Tuple

import yaml

from tests.handoff.helpers import GatewayProcess
from tests.ops.conftest import migrate
from tests.ops.gateways import create_agent, running
from tests.ops.seed import STAFFED_OPS


def staffed_gateway(tmp_path: Path, agents: Sequence[Tuple[str, str]]) -> Iterator[GatewayProcess]:
    """For a fixture: ``yield from staffed_gateway(tmp_path, [(username, name)...])``."""
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrate(url)
    for username, name in agents:
        create_agent(url, username, name)
    ops_file = tmp_path / "ops.yml"
    ops_file.write_text(yaml.safe_dump(STAFFED_OPS), encoding="utf-8")  # queues at any hour the tests run
    yield from running(url, tmp_path / "gateway.log", ops_file)
