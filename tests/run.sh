#!/usr/bin/env bash
# Run the template's test suite in its own Python 3.12 virtualenv (.venv).
#   bash tests/run.sh          the full suite, the real-server tier included (tests/real/: the
#                              baked plugin against real Xinference and llama.cpp; docs/real-servers.md)
#   bash tests/run.sh --fast   everything but the real-server tier: the inner loop
# Creates the venv and installs requirements-dev.txt on first use or when it changes. Other
# arguments go to pytest, e.g. `bash tests/run.sh --fast -k rerank`.
set -euo pipefail
cd "$(dirname "$0")/.."

source tests/venv.sh

fast=no
if [ "${1:-}" = "--fast" ]; then
  fast=yes
  shift
fi

if [ "$fast" = no ]; then
  # The real tier's servers and models, built into a cache outside the clone while the rest runs
  # (a no-op when they are there already); tests/real/cache.py waits for this build if needed.
  build_log="$(mktemp "${TMPDIR:-/tmp}/real-cache-build.XXXXXX")"
  .venv/bin/python tests/real/cache.py > "$build_log" 2>&1 &
  builder=$!
fi

# Everything but the real tier, on two workers.
status=0
.venv/bin/python -m pytest -n 2 -m "not real" "$@" || status=$?
if [ "$fast" = yes ]; then
  exit "$status"
fi
if ! wait "$builder"; then
  tail -n 40 "$build_log"
  echo "tests/run.sh: building the real servers failed; the whole log is $build_log" >&2
  exit 1
fi
rm -f "$build_log"

# The real tier in one process, so each server starts once; pytest's 5 means "nothing selected",
# e.g. `bash tests/run.sh tests/real` selects nothing for the first run.
real=0
.venv/bin/python -m pytest -p no:xdist -m real "$@" || real=$?
if [ "$status" = 5 ] && [ "$real" = 5 ]; then exit 5; fi
if [ "$status" != 0 ] && [ "$status" != 5 ]; then exit "$status"; fi
if [ "$real" != 0 ] && [ "$real" != 5 ]; then exit "$real"; fi
exit 0
