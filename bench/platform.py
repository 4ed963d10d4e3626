"""The assistant on this machine: turns per second, training, start, install.

* Rasa turns per second: straight to the REST channel, 10 concurrent
  conversations asking FAQs in a closed loop (the Rasa server's capacity).
* server start: action server + Rasa server from launch to both answering
  (:func:`bot.processes.start_bot_stack`, the stack this run started).
* training: ``rasa train`` of ``config.yml``/``domain.yml``/``data/`` into a
  temporary directory with a fresh ``RASA_CACHE_DIRECTORY`` (no cached
  components), timed. Not in quick mode.
* install: a fresh venv from pyenv's Python 3.10.13 and ``uv pip sync`` of
  ``requirements/lock.txt`` from PyPI with an empty ``UV_CACHE_DIR``, timed
  (download included), deleted afterwards. Not in quick mode.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List

from bot import paths
from bot.model_cache import training_env

from .bot_latency import direct_round
from .report import Row, check
from .system import System

TRAIN_TARGET_S = 180
INSTALL_TARGET_S = 300


def turns_per_second(system: System, quick: bool) -> Row:
    conversations, turns = (10, 3) if quick else (10, 20)
    rasa = system.rasa_url
    asyncio.run(direct_round(rasa, 2, 2))  # warm-up
    started = time.perf_counter()
    done = len(asyncio.run(direct_round(rasa, conversations, turns)))
    rate = done / (time.perf_counter() - started)
    return Row("Rasa turns per second (REST channel, 10 concurrent conversations)", f"{rate:.1f} turns/s",
               note=f"{done} turns; the assistant is one Rasa server process and one action server process.")


def training(system: System) -> Row:
    with tempfile.TemporaryDirectory(prefix="kara-bench-train-") as tmp:
        out = Path(tmp)
        cmd = [str(paths.VENV_BIN / "rasa"), "train", "--config", str(paths.CONFIG), "--domain",
               str(paths.DOMAIN), "--data", str(paths.DATA), "--out", str(out / "models"),
               "--fixed-model-name", "bench"]
        env = {**os.environ, **training_env(), "RASA_CACHE_DIRECTORY": str(out / "cache")}
        print("  training into a temporary directory (fresh cache) ...", flush=True)
        started = time.monotonic()
        with (out / "train.log").open("w") as log:
            # from the project root, as ./kara train runs it: config.yml names a component of actions/
            proc = subprocess.run(cmd, cwd=paths.ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=1800)
        seconds = time.monotonic() - started
        if proc.returncode != 0 or not (out / "models" / "bench.tar.gz").exists():
            raise RuntimeError(f"rasa train failed: {(out / 'train.log').read_text()[-2000:]}")
    return Row("Training time (rasa train, fresh cache)", f"{seconds:.0f} s", f"<= {TRAIN_TARGET_S // 60} min",
               check(seconds <= TRAIN_TARGET_S))


def install(system: System) -> Row:
    pyenv_root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
    python = Path(pyenv_root) / "versions" / "3.10.13" / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="kara-bench-install-") as tmp:
        venv, cache = Path(tmp) / "venv", Path(tmp) / "uv-cache"
        print("  installing the lock file into a fresh venv (empty uv cache) ...", flush=True)
        started = time.monotonic()
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
        proc = subprocess.run(
            ["uv", "pip", "sync", "-p", str(venv / "bin" / "python"), str(paths.ROOT / "requirements" / "lock.txt")],
            env={**os.environ, "UV_CACHE_DIR": str(cache)}, capture_output=True, text=True, timeout=1800,
        )
        seconds = time.monotonic() - started
        if proc.returncode != 0:
            raise RuntimeError(f"uv pip sync failed: {proc.stderr[-2000:]}")
        size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) / 2**20
        shutil.rmtree(venv, ignore_errors=True)
    return Row("Install time from a clean package cache (venv + uv pip sync of the lock)", f"{seconds:.0f} s",
               f"<= {INSTALL_TARGET_S // 60} min", check(seconds <= INSTALL_TARGET_S),
               note=f"Downloads from PyPI included ({size:.0f} MiB in the fresh uv cache); network-bound.")


def run(system: System, quick: bool) -> List[Row]:
    rows = [turns_per_second(system, quick)]
    assert system.bot_start_s is not None
    rows.append(Row("Assistant start (action server + Rasa server, to ready)", f"{system.bot_start_s:.1f} s",
                    note="Measured when this run started the assistant (model already trained)."))
    if quick:
        rows.append(Row("Training time (rasa train, fresh cache)", "skipped (--quick)",
                        f"<= {TRAIN_TARGET_S // 60} min"))
        rows.append(Row("Install time from a clean package cache", "skipped (--quick)",
                        f"<= {INSTALL_TARGET_S // 60} min"))
        return rows
    rows.append(training(system))
    rows.append(install(system))
    return rows
