"""``python -m handoff report | missed | retention`` as real subprocesses on
the seeded database (SQLite and PostgreSQL), output checked as an operator
reads it."""
from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "handoff", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_report_with_csv(seeded_url: str, ops_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "november.csv"
    done = run("report", "--from", "2026-11-01", "--to", "2026-11-30", "--csv", str(out), "--db-url", seeded_url,
               "--ops", str(ops_file))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("Support report 2026-11-01 to 2026-11-30 (team time; UTC 2026-10-31 23:00:00Z to "
                        "2026-11-30 23:00:00Z)")
    assert "conversations: 13 (chat 12, emergency 1)" in lines
    assert "handed to a person: 9 (69.2%)" in lines
    queues = lines.index("Queues (times p50 / p95)")
    general = next(line for line in lines[queues:] if line.startswith("general "))
    # handoffs, first response p50 / p95 (400 s; 400 + (c09 - 400) * 0.9 s = 152482 s = 42.4 h), SLA 2 of 4
    assert general.split()[:6] == ["general", "6", "6.7", "min", "/", "42.4"]
    assert "50.0% (2/4)" in general
    breaches = [line.split()[0] for line in lines[lines.index("SLA breaches (3)") + 3:][:3]]
    assert breaches == ["c05", "c10", "c15"]
    assert "2/5 security Bola (bola) c06: too slow, call [phone]" in lines
    assert lines[-3] == "Offline tickets: 3 opened, general 2, none 1"
    assert lines[-1] == f"CSV written to {out}"
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {"figure": "sla_breached", "queue": "general", "agent": "", "detail": "", "value": "2"} in rows
    assert {"figure": "tickets_opened", "queue": "none", "agent": "", "detail": "", "value": "1"} in rows


def test_missed(seeded_url: str) -> None:
    done = run("missed", "--limit", "1", "--db-url", seeded_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Questions the assistant missed: 2 messages in 2 groups (the 1 largest shown)",
        "",
        "1x  words: [card] card fit how pay with",
        '    "abeg how I fit pay with card [card]"',
        "    conversations: c16",
    ]
    october = run("missed", "--from", "2026-10-01", "--to", "2026-10-31", "--db-url", seeded_url)
    assert october.stdout == "Questions the assistant missed: 0 messages in 0 groups\n"


def test_retention_from_cron(seeded_url: str, ops_file: Path) -> None:
    # a cutoff between c16's last message (Nov 12) and c13's / c15's (Nov 30), whatever today is
    days = str((dt.date.today() - dt.date(2026, 11, 25)).days)
    dry = run("retention", "--days", days, "--dry-run", "--db-url", seeded_url, "--ops", str(ops_file))
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"would anonymise 13 conversations with no message for {days} days")
    assert "29 messages, 3 handoffs, 3 tickets, 2 ticket_replies" in dry.stdout
    report = ["report", "--from", "2026-11-01", "--to", "2026-11-30", "--db-url", seeded_url, "--ops", str(ops_file)]
    before = run(*report).stdout
    done = run("retention", "--days", days, "--db-url", seeded_url, "--ops", str(ops_file))
    assert done.stdout.startswith(f"anonymised 13 conversations with no message for {days} days")
    assert done.stdout.rstrip().endswith(
        "the assistant's copies: not erased: no tracker store configured (KARA_TRACKER_DB_URL)")
    again = run("retention", "--days", days, "--db-url", seeded_url, "--ops", str(ops_file))
    assert again.stdout.startswith("anonymised 0 conversations")
    after = run(*report).stdout

    def without_comments(text: str) -> List[str]:
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("CSAT comments"))
        return lines[:start] + lines[lines.index("", start):]

    assert without_comments(after) == without_comments(before)
    assert "CSAT comments (0)" in after


def test_bad_input_gets_a_clear_answer(seeded_url: str, tmp_path: Path) -> None:
    backwards = run("report", "--from", "2026-11-30", "--to", "2026-11-01", "--db-url", seeded_url)
    assert (backwards.returncode, backwards.stderr.strip()) == (
        2, "the period ends (2026-11-01) before it starts (2026-11-30)")
    not_a_day = run("report", "--from", "2026-11-31", "--to", "2026-12-01", "--db-url", seeded_url)
    assert not_a_day.returncode == 2 and "'2026-11-31' is not a day (YYYY-MM-DD)" in not_a_day.stderr
    broken = tmp_path / "ops.yml"
    broken.write_text("timezone: Africa/Lagos\nteam_hours: {monday: [\"19:00\", \"10:00\"]}\n", encoding="utf-8")
    refused = run("retention", "--dry-run", "--db-url", seeded_url, "--ops", str(broken))
    assert (refused.returncode, refused.stderr.strip()) == (
        2, "ops settings: team_hours.monday: closing 10:00 is not after opening 19:00")
    zero = run("retention", "--days", "0", "--db-url", seeded_url)
    assert zero.returncode == 2 and "'0' is not a whole number of days above 0" in zero.stderr
    bare = run("report", "--from", "2026-11-01", "--to", "2026-11-30", "--db-url", f"sqlite:///{tmp_path / 'no.db'}")
    assert bare.returncode == 1
    assert "cannot read the transcript database" in bare.stderr and "python -m handoff migrate" in bare.stderr
