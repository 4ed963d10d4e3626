#!/usr/bin/env bash
# Re-pin every dependency (run by hand after editing requirements/requirements.in).
# jax/jaxlib/ml-dtypes are left out on purpose: TensorFlow 2.12 lists jax as a
# dependency but only imports it inside a try/except for TF Lite, which Rasa
# never uses, and importing it costs minutes on a slow core (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile --python-version 3.10 --python-platform x86_64-manylinux_2_28 \
  --no-header \
  --no-emit-package jax --no-emit-package jaxlib --no-emit-package ml-dtypes \
  requirements/requirements.in -o requirements/lock.txt
