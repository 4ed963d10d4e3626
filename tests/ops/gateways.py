"""Real gateways for the operations tests: ``python -m handoff serve`` on a
seeded database, accounts made with ``python -m handoff create-agent``, and
plain HTTP requests (urllib) as an operator's tools send them."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from sqlalchemy import text

from handoff.ops import db
from tests.handoff.helpers import CLOSED_RASA, GatewayProcess, spawn_gateway

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "long enough password"


def after_seed(url: str) -> None:
    """The seed inserts agents with explicit ids: PostgreSQL's sequence must
    move past them before ``create-agent`` adds more."""
    if not url.startswith("postgresql"):
        return
    engine = db.engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT setval(pg_get_serial_sequence('agents', 'id'), "
                                    "(SELECT max(id) FROM agents))"))
    finally:
        engine.dispose()


def create_agent(url: str, username: str, name: str, role: Optional[str] = None) -> str:
    """``python -m handoff create-agent``; its output line."""
    args = [sys.executable, "-m", "handoff", "create-agent", username, "--name", name, "--password", PASSWORD,
            "--db-url", url]
    if role:
        args += ["--role", role]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def serve(url: str, log: Path, ops_file: Path, *args: str, rasa_url: str = CLOSED_RASA,
          env: Optional[Dict[str, str]] = None) -> GatewayProcess:
    return spawn_gateway(["--db-url", url, "--rasa-url", rasa_url, "--secret", "ops-test-secret", *args], log,
                         env={"KARA_OPS_FILE": str(ops_file), **(env or {})})


def running(url: str, log: Path, ops_file: Path, *args: str, **kwargs: object) -> Iterator[GatewayProcess]:
    """A gateway for a fixture: yielded, then stopped."""
    gateway = serve(url, log, ops_file, *args, **kwargs)  # type: ignore[arg-type]
    try:
        yield gateway
    finally:
        gateway.stop()


Reply = Tuple[int, Dict[str, str], bytes]


def request(base: str, path: str, token: Optional[str] = None, *, method: str = "GET",
            body: Optional[bytes] = None) -> Reply:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, dict(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def login(base: str, username: str) -> str:
    status, _, body = request(base, "/api/login", method="POST",
                              body=json.dumps({"username": username, "password": PASSWORD}).encode())
    assert status == 200, body
    return str(json.loads(body)["token"])


def rows(csv_text: str) -> List[List[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(csv_text)))
