#!/usr/bin/env bash
# Create or refresh .venv from requirements/lock.txt: Python 3.10 (Rasa 3.6
# needs < 3.11), every package at its locked version, installed by uv with no
# resolution at all (so never any backtracking). Skipped when the lock has not
# changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
lock=requirements/lock.txt
stamp=.venv/.lock.sha256
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

find_python310() {
  for candidate in "$(pyenv root 2>/dev/null)"/versions/3.10.*/bin/python3.10 \
                   "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 \
                   "$(command -v python3.10 || true)"; do
    [ -x "$candidate" ] && { echo "$candidate"; return 0; }
  done
  return 1
}
py=$(find_python310) || { echo "Python 3.10 is required (Rasa 3.6 needs < 3.11): install it with pyenv" >&2; exit 1; }

if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "==> installing uv $UV_VERSION"
  python3 -m pip install -q "uv==$UV_VERSION"
fi
echo "==> Python environment (.venv, $(wc -l < "$lock") lock lines) with $("$py" --version)"
[ -x .venv/bin/python ] || uv venv -q -p "$py" .venv
VIRTUAL_ENV=.venv uv pip sync -p .venv/bin/python "$lock"
echo "$want" > "$stamp"
