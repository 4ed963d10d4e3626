"""The assistant at scale: stock Rasa against the project's, one process against two.

``.venv/bin/python -m bench.assistant_scale [--seconds S] [--levels 10 50]``

From one run on the cached model, three setups side by side:

* **(a) stock**: ``rasa run --enable-api --cors "*"`` with the in-memory
  tracker store, as the project ran it before (its own action server);
* **(b) project**: one Rasa process of :func:`bot.processes.start_bot_stack`
  (API token, SQL tracker store on PostgreSQL);
* **(c) two**: both processes of that stack behind :class:`handoff.rasa_pool.RasaPool`
  (the same tracker store; the gateway's placement and client);
* with ``--rasa-sql``, also **(s)**: one process on Rasa's own ``SQLTrackerStore``
  as it comes (no per-process cache, ``bot/rasa_store.py``), to see what the cache cuts.

At each level of concurrent conversations every conversation sends FAQ
questions in a closed loop (a new conversation each segment, so its first
turn runs the session start) through a :class:`~handoff.rasa_pool.RasaPool`,
the gateway's client (a pool of one URL for (a) and (b)). Segments are
interleaved a-b-c-c-b-a per level so drift on this shared machine falls on
every setup alike. Turn CPU: user + system seconds of the setup's Rasa and
action-server processes per turn; NLU parse: Rasa's CPU per ``/model/parse``
of the same messages, one at a time, in short runs before every segment (so
the machine's drift falls on parse and turns alike). Machine busy: the share of all cores
busy during the setup's segments (its processes, PostgreSQL, this client and
whatever else runs), which says whether a second Rasa process had a core.

Prints a table and writes it to ``var/bench/assistant_scale.md``.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import aiohttp
import psutil

from bench.bot_latency import TEXTS
from bench.cpu import CpuMeter
from bench.report import machine
from bench.stats import ms, summary
from bot import paths
from bot.databases import temporary_database
from bot.model_cache import ensure_model
from bot.processes import BotProcess, BotStack, seed_shop, start_bot_stack, stock_rasa
from handoff.rasa_pool import RasaPool

LABEL = {"a": "(a) stock rasa run, in-memory store", "s": "(s) Rasa's SQL store as it comes, 1 process",
         "b": "(b) project, SQL store, 1 process", "c": "(c) project, SQL store, 2 processes + pool"}


async def segment(pool: RasaPool, conversations: int, seconds: float) -> Tuple[List[float], int]:
    """Closed loop for ``seconds``: turn latencies and failed turns."""
    deadline = time.perf_counter() + seconds
    latencies: List[float] = []
    failures = 0

    async def conversation() -> None:
        nonlocal failures
        sender = "scale-" + uuid.uuid4().hex
        turn = 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                await pool.send(sender, TEXTS[turn % len(TEXTS)], {"role": "shopper", "line": "chat"})
                latencies.append(time.perf_counter() - t0)
            except Exception:  # noqa: BLE001 - counted, reported
                failures += 1
            turn += 1

    await asyncio.gather(*(conversation() for _ in range(conversations)))
    return latencies, failures


class ParseMeter:
    """Rasa's CPU per NLU parse of the benchmark's messages, one at a time,
    measured in short spans between the segments (so the machine's drift falls
    on the parses as on the turns they are compared with)."""

    def __init__(self, meter: CpuMeter, url: str, token: str) -> None:
        self.meter, self.url, self.token = meter, url, token
        self.count = 0

    async def parse(self, http: aiohttp.ClientSession, text: str) -> None:
        async with http.post(f"{self.url}/model/parse", params={"token": self.token}, json={"text": text}) as r:
            assert r.status == 200
            await r.read()

    async def span(self, count: int) -> None:
        async with aiohttp.ClientSession() as http:
            await self.parse(http, TEXTS[self.count % len(TEXTS)])  # the connection, outside the span
            with self.meter.span("parse"):
                for _ in range(count):
                    await self.parse(http, TEXTS[self.count % len(TEXTS)])
                    self.count += 1

    @property
    def seconds(self) -> float:
        return self.meter.per_item("parse", self.count)["b"]


def _machine_busy() -> float:
    """CPU seconds every core of the machine has been busy (not idle, not waiting on I/O)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


async def measure(pools: Dict[str, RasaPool], meter: CpuMeter, levels: Sequence[int], seconds: float,
                  parses: ParseMeter, parses_per_segment: int) -> Dict[Tuple[str, int], Dict[str, float]]:
    results: Dict[Tuple[str, int], Dict[str, float]] = {}
    setups = tuple(pools)
    for setup in setups:  # warm every process (first turns load lazily)
        await segment(pools[setup], 4, 2)
    for level in levels:
        raw: Dict[str, Tuple[List[float], int, float]] = {s: ([], 0, 0.0) for s in setups}
        busy: Dict[str, float] = {s: 0.0 for s in setups}  # CPU seconds of the whole machine
        for setup in (*setups, *reversed(setups)):
            print(f"  {level} conversations, setup {setup} ...", flush=True)
            await parses.span(parses_per_segment)
            started, machine_before = time.perf_counter(), _machine_busy()
            with meter.span(f"{setup}-{level}"):
                latencies, failed = await segment(pools[setup], level, seconds)
            busy[setup] += _machine_busy() - machine_before
            lat, fail, spent = raw[setup]
            raw[setup] = (lat + latencies, fail + failed, spent + time.perf_counter() - started)
        for setup, (latencies, failed, spent) in raw.items():
            stats = summary(latencies)
            cpu = meter.per_item(f"{setup}-{level}", len(latencies))
            results[(setup, level)] = {"tps": len(latencies) / spent, "p50": stats["p50"], "p95": stats["p95"],
                                       "failed": failed, "cpu": cpu[setup],
                                       "busy": busy[setup] / (spent * (psutil.cpu_count() or 1))}
    return results


def render(results: Dict[Tuple[str, int], Dict[str, float]], levels: Sequence[int], parse_s: float,
           started: dt.datetime, seconds: float) -> str:
    setups = [s for s in LABEL if (s, levels[0]) in results]
    lines = [f"# Assistant at scale ({started:%Y-%m-%d %H:%M} UTC)", "", f"* machine: {machine()}",
             f"* {seconds:.0f} s per segment, {'-'.join(setups + setups[::-1])} per level "
             f"(so {2 * seconds:.0f} s per setup and level)",
             "", "| setup | conversations | turns/s | turn p50 | turn p95 | failed | CPU per turn (Rasa + actions) "
             "| machine busy |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for level in levels:
        for setup in setups:
            r = results[(setup, level)]
            lines.append(f"| {LABEL[setup]} | {level} | {r['tps']:.1f} | {ms(r['p50'])} | {ms(r['p95'])} | "
                         f"{int(r['failed'])} | {r['cpu'] * 1000:.1f} ms | {r['busy']:.0%} |")
    lines += ["", f"NLU parse of the same messages (Rasa CPU of (b)'s process, one at a time, measured before "
                  f"each segment): {parse_s * 1000:.1f} ms", ""]
    for level in levels:
        a, b, c = (results[(s, level)] for s in "abc")
        line = (f"* {level} conversations: (b)/(a) throughput {b['tps'] / a['tps']:.2f}, p95 "
                f"{b['p95'] / a['p95']:.2f}; (c)/(b) throughput {c['tps'] / b['tps']:.2f}; "
                f"turn CPU / parse: (b) {b['cpu'] / parse_s:.1f}, (a) {a['cpu'] / parse_s:.1f}")
        if ("s", level) in results:
            rs = results[("s", level)]
            line += (f"; (b)/(s) throughput {b['tps'] / rs['tps']:.2f}, CPU per turn "
                     f"{b['cpu'] / rs['cpu']:.2f}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.assistant_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="per segment (six per level)")
    parser.add_argument("--levels", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--parses", type=int, default=50, help="NLU parses measured before each segment")
    parser.add_argument("--rasa-sql", action="store_true", help="also (s): Rasa's own SQL store")
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.timezone.utc)
    work = Path(paths.VAR / "bench" / f"scale-{uuid.uuid4().hex[:6]}")
    work.mkdir(parents=True, exist_ok=True)
    model = ensure_model(quiet=True)
    shop = f"sqlite:///{work / 'shop.db'}"
    seed_shop(shop)
    with temporary_database("kara_bench_tracker") as tracker_db, \
            temporary_database("kara_bench_rasa_sql") as plain_db:
        print("starting (a) stock Rasa and the project's two Rasa processes ...", flush=True)
        stock = stock_rasa(model, shop, work)
        stack: BotStack | None = None
        plain: BotStack | None = None
        try:
            stack = start_bot_stack(model, shop, work, processes=2, tracker_db_url=tracker_db, timeout=600)
            first, second = stack.members
            if args.rasa_sql:
                plain = start_bot_stack(model, shop, work / "rasa-sql", tracker_db_url=plain_db,
                                        auth_token=stack.rasa_token, store_type="SQL", timeout=600)

            def pids(*members: BotProcess):  # type: ignore[no-untyped-def]
                return lambda: [p.proc.pid for m in members for p in (m.rasa, m.actions) if p.proc]

            groups = {"a": pids(stock), "b": pids(first), "c": pids(first, second)}
            pools = {"a": RasaPool([stock.rasa_url], timeout_s=120)}
            if plain is not None:
                groups["s"] = pids(plain.members[0])
                pools["s"] = RasaPool([plain.rasa_url], timeout_s=120, token=stack.rasa_token)
            pools["b"] = RasaPool([first.rasa_url], timeout_s=120, token=stack.rasa_token)
            pools["c"] = RasaPool(stack.rasa_urls, timeout_s=120, token=stack.rasa_token)
            meter = CpuMeter(groups)

            async def run() -> Tuple[Dict[Tuple[str, int], Dict[str, float]], float]:
                try:
                    parses = ParseMeter(meter, first.rasa_url, stack.rasa_token)
                    results = await measure(pools, meter, args.levels, args.seconds, parses, args.parses)
                    return results, parses.seconds
                finally:
                    for pool in pools.values():
                        await pool.close()

            results, parse_s = asyncio.run(run())
        finally:
            stock.stop()
            for started_stack in (stack, plain):
                if started_stack is not None:
                    started_stack.stop()
    text = render(results, args.levels, parse_s, started, args.seconds)
    out = paths.VAR / "bench" / "assistant_scale.md"
    out.write_text(text)
    print(text)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
