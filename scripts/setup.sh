#!/usr/bin/env bash
# Create .venv and install supportbot (and, with "dev", the test tools). Idempotent.
# torch is pinned in pyproject.toml to the CPU build; llama-cpp-python compiles once (~3 min)
# and pip caches the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
extra=""
[ "${1:-}" = "dev" ] && extra="[dev]"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${extra}"
