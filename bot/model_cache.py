"""Train the Rasa model only when its inputs change.

The model is stored as ``models/<fingerprint>.tar.gz`` where the fingerprint is
a hash of ``config.yml``, ``domain.yml`` and every file under ``data/`` (and the
Rasa version). A second ``ensure_model()`` with the same inputs returns at once.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, List

from bot import paths


def model_inputs() -> List[Path]:
    """The files whose content decides the trained model, in a stable order."""
    data_files = sorted(p for p in paths.DATA.rglob("*") if p.is_file())
    return [paths.CONFIG, paths.DOMAIN, *data_files]


def fingerprint(files: Iterable[Path] | None = None) -> str:
    """A short hash of the training inputs' names and contents."""
    digest = hashlib.sha256()
    digest.update(_rasa_version().encode())
    for path in files if files is not None else model_inputs():
        digest.update(str(path.relative_to(paths.ROOT)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(fp: str | None = None) -> Path:
    return paths.MODELS / f"{fp or fingerprint()}.tar.gz"


def ensure_model(quiet: bool = False) -> Path:
    """Return the model for the current inputs, training it first if needed."""
    target = model_path()
    if target.exists():
        if not quiet:
            print(f"model up to date: {target.relative_to(paths.ROOT)}", flush=True)
        return target
    paths.MODELS.mkdir(exist_ok=True)
    print(f"training the model (inputs changed) -> {target.name} ...", flush=True)
    started = time.monotonic()
    log = paths.VAR / "logs" / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(paths.VENV_BIN / "rasa"), "train",
        "--config", str(paths.CONFIG), "--domain", str(paths.DOMAIN),
        "--data", str(paths.DATA), "--out", str(paths.MODELS),
        "--fixed-model-name", target.name[: -len(".tar.gz")],
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=paths.ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **training_env()})
        _wait_with_progress(proc, "training", started)
    if proc.returncode != 0 or not target.exists():
        sys.stderr.write(log.read_text()[-4000:])
        raise RuntimeError(f"rasa train failed (exit {proc.returncode}); log: {log}")
    print(f"trained in {time.monotonic() - started:.0f} s", flush=True)
    return target


def training_env() -> dict:
    """Environment that keeps TensorFlow quiet and off the GPU search."""
    return {"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONWARNINGS": "ignore",
            "RASA_TELEMETRY_ENABLED": "false"}


def _wait_with_progress(proc: subprocess.Popen, what: str, started: float) -> None:
    """Print a heartbeat every 15 s so a long step never looks hung."""
    while True:
        try:
            proc.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            print(f"  ... still {what} ({time.monotonic() - started:.0f} s)", flush=True)


def _rasa_version() -> str:
    """Rasa's version as the assistant's lock pins it: the same answer from
    both environments (the gateway's has no Rasa installed), so a test run in
    either finds the model the other trained."""
    for line in (paths.ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if line.startswith("rasa=="):
            return line.split("==", 1)[1].strip()
    return "unknown"
