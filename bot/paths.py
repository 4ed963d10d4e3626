"""Where things live. Everything is relative to the repository root."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"  # runtime state: databases, logs (git-ignored)
MODELS = ROOT / "models"  # trained models, named by the hash of their inputs
VENV_BIN = ROOT / ".venv" / "bin"

CONFIG = ROOT / "config.yml"
DOMAIN = ROOT / "domain.yml"
DATA = ROOT / "data"
DEMO_SHOP = ROOT / "actions" / "shop" / "demo_shop.yml"
