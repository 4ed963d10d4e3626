#!/usr/bin/env bash
# Re-pin every dependency (run by hand after editing requirements/*.in).
# Two locks: the assistant's (Rasa 3.6, Python 3.10) and the gateway's
# (current libraries, Python 3.12); README "Two Python environments".
# jax/jaxlib/ml-dtypes are left out on purpose: TensorFlow 2.12 lists jax as a
# dependency but only imports it inside a try/except for TF Lite, which Rasa
# never uses, and importing it costs minutes on a slow core (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile --python-version 3.10 --python-platform x86_64-manylinux_2_28 \
  --no-header \
  --no-emit-package jax --no-emit-package jaxlib --no-emit-package ml-dtypes \
  requirements/requirements.in -o requirements/lock.txt
uv pip compile --python-version 3.12 --python-platform x86_64-manylinux_2_28 \
  --no-header requirements/gateway.in -o requirements/gateway-lock.txt
