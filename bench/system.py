"""The real system, started once per benchmark run.

:class:`System` starts what the benchmarks ask for, at most once, and stops all
of it at the end (``with System(...) as system``):

* the assistant (action server + Rasa server) through
  :func:`bot.processes.start_bot_stack`, on the cached model of
  :func:`bot.model_cache.ensure_model` and a demo shop in a temporary SQLite
  file (its start time is one of the platform figures);
* gateways as real ``python -m handoff serve`` processes (the CLI), each on
  its own port and log, with PostgreSQL databases of their own (created here,
  dropped at the end) and, for several processes, a Redis key prefix of their
  own (deleted at the end; never FLUSHALL);
* agents through ``python -m handoff create-agent``;
* the timing proxy in front of Rasa (:mod:`bench.rasa_proxy`) for the
  handoff benchmark.

Benchmark gateways run without the per-connection rate limit
(``KARA_GATEWAY_RATE_PER_S=0``; the CLI has no flag for it): a benchmark
client sends faster than the default 10 frames/s a person could.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

from bot import paths
from bot.databases import create_database, drop_database
from bot.processes import (
    GATEWAY_PYTHON,
    BotStack,
    free_port,
    http_ok,
    listening_url,
    seed_shop,
    start_bot_stack,
    terminate,
)

#: the benchmark's helpers (idle clients, the Rasa timing proxy) run in the assistant's environment
PYTHON = str(paths.VENV_BIN / "python")
REDIS_URL = os.environ.get("KARA_BENCH_REDIS", "redis://127.0.0.1:6379/0")
CLOSED_RASA = "http://127.0.0.1:9"  # nothing listens: for gateways that never ask the bot
SECRET = "kara-bench-secret"
AGENT_PASSWORD = "bench-password"
NOFILE = 65536
#: what every benchmark gateway gets in its environment (see module docs; no
#: new-chat limit either: every benchmark client is on 127.0.0.1)
# Benchmarks queue chats at whatever hour they run: no out-of-hours answer (on by default).
GATEWAY_ENV = {"KARA_GATEWAY_RATE_PER_S": "0", "KARA_GATEWAY_NEW_CHATS_PER_ADDRESS": "0",
               "KARA_GATEWAY_OUT_OF_HOURS_TICKET": "0",
               "KARA_GATEWAY_AUTO_ASSIGN": "0"}  # the benchmarks' agents claim chats themselves


def raise_nofile(limit: int = NOFILE) -> int:
    """Raise this process's open-file limit as far as allowed; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (limit, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), max(hard, target)))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class GatewayProc:
    """A running ``python -m handoff serve``."""

    name: str
    proc: subprocess.Popen
    url: str
    log: Path
    db_url: str
    redis_url: Optional[str]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        terminate(self.proc, 15, group=True)


@dataclass
class System:
    quick: bool = False
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kara-bench-")))
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    bot_stack: Optional[BotStack] = None
    #: seconds from launching the action server and Rasa server to both answering
    bot_start_s: Optional[float] = None
    gateways: List[GatewayProc] = field(default_factory=list)
    databases: List[str] = field(default_factory=list)
    redis_prefixes: List[str] = field(default_factory=list)
    proxy: Optional[subprocess.Popen] = None
    proxy_url: Optional[str] = None
    #: which gateway is measured: its Python and its source tree (the
    #: gateway's environment and this tree; bench.compare also runs an older one)
    gateway_python: str = str(GATEWAY_PYTHON)
    gateway_root: Path = paths.ROOT
    #: record py-spy profiles of the gateways while they are measured
    profile: bool = False
    profiles: List[Path] = field(default_factory=list)
    #: Rasa processes of the assistant; more than one share a tracker store
    #: on a PostgreSQL database of this run, as deployed (README, "Assistant at scale")
    rasa_processes: int = 1

    def __enter__(self) -> "System":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the assistant ------------------------------------------------------

    def bot(self) -> BotStack:
        """The action server + Rasa server (started on first use, timed)."""
        if self.bot_stack is None:
            from bot.model_cache import ensure_model, model_path

            if not model_path().exists():
                print("  (no cached model: ./kara train trains it once)", flush=True)
            model = ensure_model(quiet=True)
            shop = f"sqlite:///{self.tmp / 'shop.db'}"
            seed_shop(shop)
            print("  starting action server + Rasa server ...", flush=True)
            started = time.monotonic()
            tracker_db = self.database() if self.rasa_processes > 1 else None
            self.bot_stack = start_bot_stack(model, shop, self.tmp / "bot-logs", timeout=300,
                                             processes=self.rasa_processes, tracker_db_url=tracker_db)
            self.bot_start_s = time.monotonic() - started
            print(f"  assistant ready in {self.bot_start_s:.1f} s", flush=True)
        return self.bot_stack

    @property
    def rasa_url(self) -> str:
        """The assistant for a gateway's ``--rasa-url``: every Rasa process, comma-separated."""
        return ",".join(self.bot().rasa_urls)

    # -- databases ---------------------------------------------------------

    def database(self) -> str:
        """A fresh PostgreSQL database (dropped at the end); SQLAlchemy URL."""
        name, url = create_database("kbench")
        self.databases.append(name)
        return url

    def yardstick(self, module: str, *args: str) -> "tuple[subprocess.Popen[bytes], int]":
        """A bare server of ``bench/`` (``python -m bench.<module> --port P --loop L``
        and ``args``) in the gateways' environment, on their event loop, once it
        prints that it listens; and its port. The caller terminates it."""
        from handoff.config import GatewayConfig

        port = free_port()
        loop = os.environ.get("KARA_GATEWAY_LOOP") or GatewayConfig.loop
        proc = subprocess.Popen([self.gateway_python, "-m", f"bench.{module}", "--port", str(port), "--loop", loop,
                                 *args], cwd=self.gateway_root, stdout=subprocess.PIPE, start_new_session=True)
        assert proc.stdout is not None
        if not proc.stdout.readline().strip().endswith(b" listening"):
            proc.kill()
            raise RuntimeError(f"bench.{module} did not start")
        return proc, port

    def redis_prefix(self) -> str:
        prefix = f"kbench:{self.run_id}:{len(self.redis_prefixes)}"
        self.redis_prefixes.append(prefix)
        return prefix

    # -- gateways ----------------------------------------------------------

    def gateway(self, name: str, *, db_url: str, rasa_url: str = CLOSED_RASA,
                redis_url: Optional[str] = None, redis_prefix: Optional[str] = None,
                extra: Optional[List[str]] = None, nofile: bool = False,
                timeout: float = 60, launcher: Optional[List[str]] = None) -> GatewayProc:
        """``python -m handoff serve`` on a free port, until it says it listens.

        ``launcher`` replaces ``python -m handoff`` (``bench.memtrace`` wraps it)."""
        port = free_port()
        cmd = [*(launcher or [self.gateway_python, "-m", "handoff"]), "serve", "--host", "127.0.0.1",
               "--port", str(port),
               "--rasa-url", rasa_url, "--db-url", db_url, "--secret", SECRET, *(extra or [])]
        if redis_url:
            cmd += ["--redis-url", redis_url, "--redis-prefix", redis_prefix or self.redis_prefix()]
        log = self.tmp / f"gateway-{name}.log"
        out = log.open("ab")
        preexec = (lambda: raise_nofile()) if nofile else None  # noqa: E731 (ulimit -n for the child)
        proc = subprocess.Popen(
            cmd, cwd=self.gateway_root, stdout=subprocess.PIPE, stderr=out,
            env={**os.environ, "PYTHONPATH": str(self.gateway_root), **GATEWAY_ENV,
                 **({"KARA_RASA_TOKEN": self.bot_stack.rasa_token} if self.bot_stack else {})},
            preexec_fn=preexec, start_new_session=True,
        )
        url = listening_url(proc, timeout)
        if url is None:
            terminate(proc, 0)
            raise RuntimeError(f"gateway {name} did not start\n{log.read_text()[-3000:]}")

        def drain(stream=proc.stdout, sink=out) -> None:  # keep its stdout pipe from filling
            for chunk in iter(lambda: stream.readline(), b""):
                sink.write(chunk)

        threading.Thread(target=drain, daemon=True).start()
        gw = GatewayProc(name, proc, url, log, db_url, redis_url)
        self.gateways.append(gw)
        return gw

    def create_agent(self, db_url: str, username: str, name: str) -> None:
        """``python -m handoff create-agent`` (password :data:`AGENT_PASSWORD`)."""
        subprocess.run(
            [self.gateway_python, "-m", "handoff", "create-agent", username, "--name", name,
             "--password", AGENT_PASSWORD, "--db-url", db_url],
            cwd=self.gateway_root, check=True, stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(self.gateway_root)},
        )

    # -- timing proxy in front of Rasa -------------------------------------

    def rasa_proxy(self) -> str:
        """URL of :mod:`bench.rasa_proxy` forwarding to the Rasa server."""
        if self.proxy_url is None:
            port = free_port()
            log = (self.tmp / "rasa-proxy.log").open("ab")
            self.proxy = subprocess.Popen(
                [PYTHON, "-m", "bench.rasa_proxy", "--port", str(port), "--upstream", self.rasa_url],
                cwd=paths.ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONPATH": str(paths.ROOT)},
            )
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while not http_ok(url + "/_bench/health"):
                if self.proxy.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Rasa timing proxy did not start")
                time.sleep(0.2)
            self.proxy_url = url
        return self.proxy_url

    # -- profiling ---------------------------------------------------------

    @contextmanager
    def profiled(self, gateways: Sequence[GatewayProc], label: str) -> Iterator[None]:
        """With ``--profile``: ``py-spy record`` each gateway while the block runs
        (raw collapsed stacks in ``var/bench/profile-<label>-<gateway>.txt``; ``--gil``:
        only the thread holding the GIL is sampled, i.e. where Python spends CPU)."""
        if not self.profile:
            yield
            return
        if not shutil.which("py-spy"):
            print("  --profile: py-spy is not installed (pip install py-spy); measuring without it", flush=True)
            yield
            return
        out_dir = paths.VAR / "bench"
        out_dir.mkdir(parents=True, exist_ok=True)
        spies = []
        for gw in gateways:
            out = out_dir / f"profile-{label}-{gw.name}.txt"
            spy = subprocess.Popen(
                ["py-spy", "record", "--pid", str(gw.pid), "--format", "raw",
                 "--rate", os.environ.get("KARA_BENCH_PYSPY_RATE", "200"), "--gil", "--nonblocking", "-o", str(out)],
                stdout=subprocess.DEVNULL, stderr=(self.tmp / "py-spy.log").open("ab"), start_new_session=True,
            )
            spies.append((spy, out))
        time.sleep(1.0)  # py-spy attaches
        try:
            yield
        finally:
            for spy, _out in spies:
                if spy.poll() is None:
                    spy.send_signal(signal.SIGINT)
            for spy, out in spies:
                try:
                    spy.wait(30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    spy.wait(5)
                if out.exists():
                    self.profiles.append(out)

    # -- the end -----------------------------------------------------------

    def stop_gateway(self, gw: GatewayProc) -> None:
        gw.stop()
        if gw in self.gateways:
            self.gateways.remove(gw)

    def close(self) -> None:
        for gw in list(self.gateways):
            gw.stop()
        self.gateways.clear()
        if self.proxy is not None and self.proxy.poll() is None:
            try:
                os.killpg(self.proxy.pid, signal.SIGTERM)
                self.proxy.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.proxy.kill()
        if self.bot_stack is not None:
            self.bot_stack.stop()
            self.bot_stack = None
        for name in self.databases:
            try:
                drop_database(name)
            except Exception as exc:  # pragma: no cover - cleanup best effort
                print(f"  (could not drop benchmark database {name}: {exc})", file=sys.stderr)
        self.databases.clear()
        if self.redis_prefixes:
            try:
                import redis

                client = redis.Redis.from_url(REDIS_URL)
                for prefix in self.redis_prefixes:
                    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
                    for i in range(0, len(keys), 500):
                        client.delete(*keys[i:i + 500])
                client.close()
            except Exception as exc:  # pragma: no cover
                print(f"  (could not delete benchmark Redis keys: {exc})", file=sys.stderr)
        if os.environ.get("KARA_BENCH_KEEP_TMP"):
            print(f"  (kept {self.tmp})")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
