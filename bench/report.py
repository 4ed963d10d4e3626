"""Rows of the results table, the machine description, and the markdown."""
from __future__ import annotations

import datetime as dt
import os
import platform as py_platform
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import List, Optional

LIBRARIES = ("rasa", "rasa-sdk", "tensorflow", "websockets", "aiohttp", "SQLAlchemy", "redis", "psycopg2-binary")


@dataclass
class Row:
    metric: str
    value: str
    target: str = ""
    #: "met", "missed" or "" (a figure without target)
    verdict: str = ""
    note: str = ""


def check(ok: Optional[bool]) -> str:
    return "" if ok is None else ("met" if ok else "**missed**")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return py_platform.processor() or "unknown CPU"


def _ram_gib() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def _lib(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def _services() -> str:
    parts = []
    try:
        import psycopg2

        from bot.databases import PG_SERVER

        conn = psycopg2.connect(PG_SERVER)
        v = conn.server_version  # e.g. 150019 for 15.19
        parts.append(f"PostgreSQL {v // 10000}.{v % 10000}")
        conn.close()
    except Exception:
        parts.append("PostgreSQL ?")
    try:
        import redis

        from .system import REDIS_URL

        client = redis.Redis.from_url(REDIS_URL)
        parts.append("Redis " + client.info("server")["redis_version"])
        client.close()
    except Exception:
        parts.append("Redis ?")
    return ", ".join(parts)


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    libs = ", ".join(f"{name} {_lib(name)}" for name in LIBRARIES)
    return (f"{_cpu_model()}, {os.cpu_count()} cores, {_ram_gib():.0f} GiB RAM, "
            f"{py_platform.system()} {py_platform.release()}; Python {py_platform.python_version()}; "
            f"{libs}; {_services()}; load average at start {load}")


def render(rows: List[Row], started: dt.datetime, machine_line: str, mode: str, seconds: float,
           errors: List[str], command: str = "") -> str:
    lines = [
        "# Kara Support Chat benchmarks",
        "",
        f"* date: {started.strftime('%Y-%m-%d %H:%M UTC')} ({mode}, {seconds / 60:.1f} min)",
        f"* machine: {machine_line}",
        f"* command: `.venv/bin/python -m bench{command}`",
        "",
        "| metric | value | target | verdict |",
        "| --- | --- | --- | --- |",
    ]
    notes = []
    for row in rows:
        metric = row.metric
        if row.note:
            notes.append(row.note)
            metric += f" [{len(notes)}]"
        lines.append(f"| {metric} | {row.value} | {row.target} | {row.verdict} |")
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"{i}. {note}" for i, note in enumerate(notes, 1)]
    if errors:
        lines += ["", "Errors (benchmarks that did not finish):", ""]
        lines += [f"* {e}" for e in errors]
    return "\n".join(lines) + "\n"
