"""Idle connections held by one gateway process, and memory per connection.

One gateway process (``ulimit -n`` raised, PostgreSQL, no Rasa needed,
keepalive ping every :data:`PING_S` s so that at least one ping round over every
socket falls inside each measurement). Two client processes
(:mod:`bench.idle_clients`) open shopper sockets, each sending ``hello``; after
:data:`WARM` warm-up sockets and a keepalive round, the gateway's RSS (psutil)
is the baseline; then the sockets grow to 1,000, 5,000 and 10,000 and after a
keepalive round at each level the RSS growth over the baseline is divided by the
number of sockets. Each socket is a conversation (a row in PostgreSQL).
"""
from __future__ import annotations

import subprocess
import time
from typing import List

import psutil

from bot import paths

from .report import Row, check
from .system import PYTHON, System

WARM = 200
PING_S = 5.0
TARGET_KIB = 20.0
TARGET_COUNT = 10_000


class Holder:
    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen([PYTHON, "-m", "bench.idle_clients", url], cwd=paths.ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)

    def ask(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def answer(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"idle client process ended (exit {self.proc.poll()})")
        return line.strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
                self.proc.wait(60)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)


def run(system: System, quick: bool) -> List[Row]:
    levels = [1000, 2000] if quick else [1000, 5000, 10_000]
    gw = system.gateway("idle", db_url=system.database(), nofile=True,
                        extra=["--ping-interval", str(PING_S), "--log-level", "WARNING"])
    holders = [Holder(gw.ws_url + "/ws/shopper"), Holder(gw.ws_url + "/ws/shopper")]
    server = psutil.Process(gw.pid)
    rows: List[Row] = []
    try:
        holders[0].ask(f"open {WARM}")
        holders[0].answer()
        time.sleep(PING_S + 1.5)
        base = server.memory_info().rss
        base_fds = server.num_fds()
        opened = 0
        for level in levels:
            started = time.monotonic()
            add = level - opened
            for h, n in zip(holders, (add // 2, add - add // 2)):
                h.ask(f"open {n}")
            for h in holders:
                h.answer()
            opened = level
            rate = add / (time.monotonic() - started)
            time.sleep(PING_S + 1.5)  # a keepalive round over every socket
            for h in holders:
                h.ask("count")
            alive = sum(int(h.answer().split()[1]) for h in holders) - WARM
            rss = server.memory_info().rss
            held = server.num_fds() - base_fds
            kib = (rss - base) / level / 1024
            print(f"  {level} sockets: {kib:.1f} KiB each, {alive} alive, gateway fds +{held}, "
                  f"opened at {rate:.0f}/s, RSS {rss / 2**20:.0f} MiB", flush=True)
            rows.append(Row(f"Idle connections held, {level:,} sockets: memory per connection",
                            f"{kib:.1f} KiB ({alive:,} open, RSS {rss / 2**20:.0f} MiB)",
                            f"<= {TARGET_KIB:.0f} KiB", check(kib <= TARGET_KIB and alive >= level),
                            note=(f"Gateway RSS {base / 2**20:.0f} MiB with {WARM} warm-up sockets before; "
                                  f"keepalive every {PING_S:.0f} s; sockets opened at about {rate:.0f}/s "
                                  "(hello creates a conversation row each)." if level == levels[0] else "")))
        if levels[-1] >= TARGET_COUNT:
            rows.append(Row("Idle connections held by one gateway process", f"{alive:,}",
                            f">= {TARGET_COUNT:,}", check(alive >= TARGET_COUNT)))
    finally:
        for h in holders:
            h.stop()
        system.stop_gateway(gw)
    return rows
