#!/usr/bin/env bash
# Run the template's test suite in its own Python 3.12 virtualenv (.venv).
#   bash tests/run.sh          the full suite, the real-server tier included (tests/real/: the
#                              baked plugin against real Xinference and llama.cpp; see docs/real-servers.md)
#   bash tests/run.sh --fast   everything but the real-server tier: the inner loop
# Creates the venv and installs requirements-dev.txt on first use or when it changes. Other
# arguments go to pytest, e.g. `bash tests/run.sh --fast -k rerank`.
set -euo pipefail
cd "$(dirname "$0")/.."

source tests/venv.sh

select=()
if [ "${1:-}" = "--fast" ]; then
  shift
  select=(-m "not real")
fi
# loadgroup: the real tier is one xdist group, so one worker starts each server once.
exec .venv/bin/python -m pytest -n 2 --dist loadgroup ${select[@]+"${select[@]}"} "$@"
