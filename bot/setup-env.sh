#!/usr/bin/env bash
# Create or refresh the two Python environments from their locks (README "Two
# Python environments"), every package at its locked version, installed by uv
# with no resolution at all (so never any backtracking):
#   .venv          Python 3.10 (Rasa 3.6 needs < 3.11), requirements/lock.txt:
#                  the assistant, the action server, the CLI, the browser tests
#   .venv-gateway  Python 3.12, requirements/gateway-lock.txt: the gateway
#                  (handoff/) on current libraries, its tests, ruff and mypy
# Each is skipped when its lock has not changed since its last install.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9

find_python() {  # find_python 3.10
  local minor=$1 candidate
  for candidate in "$(pyenv root 2>/dev/null)"/versions/"$minor".*/bin/python"$minor" \
                   "$HOME"/.pyenv/versions/"$minor".*/bin/python"$minor" \
                   "$(command -v python"$minor" || true)"; do
    [ -x "$candidate" ] && { echo "$candidate"; return 0; }
  done
  return 1
}

ensure_uv() {
  if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    echo "==> installing uv $UV_VERSION"
    python3 -m pip install -q "uv==$UV_VERSION"
  fi
}

sync_env() {  # sync_env DIR LOCK PYTHON_MINOR WHY
  local dir=$1 lock=$2 minor=$3 why=$4 stamp want py
  stamp=$dir/.lock.sha256
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  py=$(find_python "$minor") || { echo "Python $minor is required ($why): install it with pyenv" >&2; exit 1; }
  ensure_uv
  echo "==> Python environment ($dir, $(wc -l < "$lock") lock lines) with $("$py" --version)"
  [ -x "$dir/bin/python" ] || uv venv -q -p "$py" "$dir"
  VIRTUAL_ENV=$dir uv pip sync -p "$dir/bin/python" "$lock"
  echo "$want" > "$stamp"
}

sync_env .venv requirements/lock.txt 3.10 "Rasa 3.6 needs < 3.11"
sync_env .venv-gateway requirements/gateway-lock.txt 3.12 "the gateway's libraries"
