"""``GET /api/reports`` and ``/api/reports.csv`` of a real ``python -m handoff
serve`` on the seeded November (SQLite and PostgreSQL): only supervisors get
the figures, which are the hand-computed ones of ``tests/ops/test_reports.py``."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.handoff.helpers import GatewayProcess

from .gateways import REPO, after_seed, create_agent, login, request, rows, running
from .test_reports import summary

NOVEMBER = "/api/reports?from=2026-11-01&to=2026-11-30"
C09 = 24 * 3600 + 23 * 3600 + 3 * 60  # c09's first response: Sat 10:00 -> Mon 09:03


@pytest.fixture
def gateway(seeded_url: str, ops_file: Path, tmp_path: Path) -> Iterator[GatewayProcess]:
    after_seed(seeded_url)
    assert create_agent(seeded_url, "sade", "Sade Bello", role="supervisor") == "agent sade created as supervisor"
    assert create_agent(seeded_url, "tunde", "Tunde Ola") == "agent tunde created"
    yield from running(seeded_url, tmp_path / "gateway.log", ops_file)


def test_a_supervisor_gets_the_november_figures(gateway: GatewayProcess) -> None:
    status, headers, body = request(gateway.url, NOVEMBER, login(gateway.url, "sade"))
    assert status == 200, body
    assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
    report = json.loads(body)
    assert report["period"] == {"from": "2026-11-01", "to": "2026-11-30", "timezone": "Africa/Lagos",
                                "start": "2026-10-31T23:00:00Z", "end": "2026-11-30T23:00:00Z"}
    assert (report["conversations"], report["resolved_alone"], report["handed_off"]) == (13, 3, 9)
    assert {(h["queue"], h["reason"]): h["requests"] for h in report["handoffs"]} == {
        ("general", "requested_human"): 5, ("general", "not_understood"): 1, ("disputes", "dispute"): 1,
        ("emergency", "provider_emergency"): 1, ("security", "security_issue"): 1}
    general = report["queues"]["general"]
    first = summary([40, 400, C09])
    assert general["first_response_s"] == {"n": first.n, "mean": first.mean, "p50": first.p50, "p95": first.p95}
    assert general["wait_s"]["p50"] == 90  # waits 30, 90, c09 - 60
    assert general["sla"] == {"met": 2, "breached": 2, "share": 0.5}
    assert report["queues"]["all"]["sla"] == {"met": 4, "breached": 3, "share": 4 / 7}
    assert report["queues"]["all"]["csat"]["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 1}
    assert report["agents"]["Ada (ada)"]["csat"]["mean"] == (5 + 4) / 2
    assert [(b["conversation_id"], b["answered_at"]) for b in report["breaches"]] == [
        ("c05", "2026-11-03T12:06:40Z"), ("c10", "2026-11-05T10:06:30Z"), ("c15", None)]
    assert [c["text"] for c in report["comments"]] == ["Great, thanks! email me at [email]",
                                                       "too slow, call [phone]"]
    assert report["tickets"] == {"all": 3, "general": 2, "none": 1}
    # c08 answered after 2 d 14 h 55 min, c16 after an hour; c11 not yet (tests/ops/test_reports.py)
    assert report["tickets_answered"] == {"all": 2, "general": 2}
    assert report["ticket_answer_s"]["general"]["p50"] == (2 * 86400 + 14 * 3600 + 55 * 60 + 3600) / 2
    assert report["targets_s"] == {"emergency": 60, "security": 180, "general": 300, "disputes": 600}


def test_the_questions_the_assistant_missed(gateway: GatewayProcess) -> None:
    token = login(gateway.url, "sade")
    status, _, body = request(gateway.url, NOVEMBER.replace("reports", "missed"), token)
    assert status == 200, body
    found = json.loads(body)
    # c16: its first message got the help text, its second the not_understood handoff; masked
    assert (found["messages"], found["groups_found"]) == (2, 2)
    assert [(g["words"], g["count"], g["examples"], g["conversations"]) for g in found["groups"]] == [
        ("[card] card fit how pay with", 1, ["abeg how I fit pay with card [card]"], ["c16"]),
        ("[order] price wetin", 1, ["Wetin be the price of [order] abeg?"], ["c16"]),
    ]
    assert json.loads(request(gateway.url, NOVEMBER.replace("reports", "missed") + "&limit=1", token)[2])[
        "groups"][0]["words"] == "[card] card fit how pay with"
    assert request(gateway.url, NOVEMBER.replace("reports", "missed") + "&limit=0", token)[0] == 400
    assert request(gateway.url, NOVEMBER.replace("reports", "missed"), login(gateway.url, "tunde"))[0] == 403
    assert request(gateway.url, NOVEMBER.replace("reports", "missed"))[0] == 401


def test_the_csv_is_the_commands_csv(gateway: GatewayProcess, seeded_url: str, ops_file: Path,
                                     tmp_path: Path) -> None:
    status, headers, body = request(gateway.url, NOVEMBER.replace("reports", "reports.csv"),
                                    login(gateway.url, "sade"))
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == 'attachment; filename="kara-report-2026-11-01-2026-11-30.csv"'
    out = tmp_path / "cli.csv"
    done = subprocess.run([sys.executable, "-m", "handoff", "report", "--from", "2026-11-01", "--to", "2026-11-30",
                           "--csv", str(out), "--db-url", seeded_url, "--ops", str(ops_file)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert body.decode() == out.read_text(encoding="utf-8")
    table = rows(body.decode())
    assert ["sla_breached", "general", "", "", "2"] in table


def test_only_supervisors_with_a_valid_token(gateway: GatewayProcess, seeded_url: str) -> None:
    status, headers, body = request(gateway.url, NOVEMBER)
    assert (status, json.loads(body)["error"]) == (401, "sign in: send Authorization: Bearer <token of /api/login>")
    assert headers["WWW-Authenticate"] == 'Bearer realm="kara"'
    assert request(gateway.url, NOVEMBER, "not-a-token")[0] == 401
    agent = login(gateway.url, "tunde")
    status, _, body = request(gateway.url, NOVEMBER.replace("reports", "reports.csv"), agent)
    assert (status, json.loads(body)) == (403, {"error": "reports are for supervisors"})
    # the role is read at each request: taking it away refuses the same token at once
    token = login(gateway.url, "sade")
    assert request(gateway.url, NOVEMBER, token)[0] == 200
    assert create_agent(seeded_url, "sade", "Sade Bello", role="agent") == "agent sade updated as agent"
    assert request(gateway.url, NOVEMBER, token)[0] == 403
    assert create_agent(seeded_url, "tunde", "Tunde Ola", role="supervisor").endswith("as supervisor")
    assert request(gateway.url, NOVEMBER, agent)[0] == 200
    # updating the password without --role keeps the role
    assert create_agent(seeded_url, "tunde", "Tunde Ola") == "agent tunde updated"
    assert request(gateway.url, NOVEMBER, agent)[0] == 200


BAD_RANGES = [
    ("from=2026-11-01", "give to=YYYY-MM-DD once"),
    ("from=2026-11-31&to=2026-12-01", "from='2026-11-31' is not a day (YYYY-MM-DD)"),
    ("from=2026-11-30&to=2026-11-01", "the period ends (2026-11-01) before it starts (2026-11-30)"),
    ("from=2024-01-01&to=2026-01-01", "ask for at most 366 days at a time"),
    ("from=2026-11-01&from=2026-11-02&to=2026-11-30", "give from=YYYY-MM-DD once"),
]


def test_a_bad_range_is_explained(gateway: GatewayProcess) -> None:
    token = login(gateway.url, "sade")
    answers = []
    for query, _ in BAD_RANGES:
        status, _, body = request(gateway.url, "/api/reports?" + query, token)
        answers.append((query, status, json.loads(body)["error"]))
    assert answers == [(query, 400, message) for query, message in BAD_RANGES]
    assert request(gateway.url, NOVEMBER, token, method="POST", body=b"{}")[0] == 405
