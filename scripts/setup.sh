#!/usr/bin/env bash
# Create .venv and install supportbot (and, with "dev", the test tools; with "server",
# llama-cpp-python's OpenAI-compatible server for LLM_BACKEND=openai, deploy/README.md). Idempotent.
# torch is pinned in pyproject.toml to the CPU build; llama-cpp-python compiles from source the
# first time (5-15 minutes on 2 cores) and pip caches the wheel, so later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extra=""
[ "${1:-}" = "dev" ] && extra="[dev]"
[ "${1:-}" = "server" ] && extra="[server]"
step() { printf 'setup: %s\n' "$*" >&2; }

if [ ! -x .venv/bin/python ]; then
  step "creating .venv with $("$PY" --version 2>&1)"
  "$PY" -m venv .venv
fi
if .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  step "updating the install in .venv (seconds)"
else
  step "installing supportbot${extra} into .venv — the first time, llama-cpp-python compiles" \
       "from source: 5-15 minutes on 2 cores with little output (pip caches the wheel)"
fi
started=$SECONDS
if [ "${1:-}" = "dev" ] && [ ! -x /usr/bin/chromium ]; then
  # the web console's browser tests (tests/e2e) drive Debian's chromium; Playwright cannot
  # download browsers here
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing chromium with apt-get (the browser tests use it; a minute or two)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  else
    step "chromium is missing and this is not root with apt: the browser tests will be" \
         "skipped (install Debian's chromium to run them)"
  fi
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${extra}"
step "done in $((SECONDS - started)) s"
