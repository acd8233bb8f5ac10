#!/usr/bin/env bash
# Run the template's test suite in its own Python 3.12 virtualenv (.venv).
#   bash tests/run.sh          the full suite, the real-server tier included (tests/real/: the
#                              baked plugin against real Xinference and llama.cpp; docs/real-servers.md),
#                              then the time each phase took (tests/phases.sh), also when one fails
#   bash tests/run.sh --fast   everything but the real-server tier: the inner loop
# Creates the venv and installs requirements-dev.txt on first use or when it changes. Other
# arguments go to pytest, e.g. `bash tests/run.sh --fast -k rerank`.
set -euo pipefail
cd "$(dirname "$0")/.."

fast=no
if [ "${1:-}" = "--fast" ]; then
  fast=yes
  shift
fi

source tests/phases.sh
if [ "$fast" = no ]; then trap phase_summary EXIT; fi

phase_begin "venv (.venv, requirements-dev.txt)"
source tests/venv.sh
phase_end

if [ "$fast" = no ]; then
  # The real tier's servers and models, built into a cache outside the clone while the rest runs
  # (a no-op when they are there already); tests/real/cache.py waits for this build if needed.
  build_log="$(mktemp "${TMPDIR:-/tmp}/real-cache-build.XXXXXX")"
  phase_later "real cache (tests/real/cache.py, background)" "$build_log.time"
  (
    SECONDS=0 built=0
    .venv/bin/python tests/real/cache.py > "$build_log" 2>&1 || built=$?
    echo "$SECONDS $([ "$built" = 0 ] && echo ok || echo "failed (exit $built)")" > "$build_log.time"
    exit "$built"
  ) &
  builder=$!
fi

# Everything but the real tier, on two workers.
status=0
phase_begin "fast suite (pytest -n 2 -m \"not real\")"
.venv/bin/python -m pytest -n 2 -m "not real" "$@" || status=$?
phase_end "exit $status"
if [ "$fast" = yes ]; then
  exit "$status"
fi
phase_begin "waiting for the real cache after the fast suite"
if ! wait "$builder"; then
  phase_end failed
  tail -n 40 "$build_log"
  echo "tests/run.sh: building the real servers failed; the whole log is $build_log" >&2
  exit 1
fi
phase_end
rm -f "$build_log"

# The real tier in one process, so each server starts once; pytest's 5 means "nothing selected",
# e.g. `bash tests/run.sh tests/real` selects nothing for the first run.
real=0
phase_begin "real tier (pytest -m real, one process)"
.venv/bin/python -m pytest -p no:xdist -m real "$@" || real=$?
phase_end "exit $real"
if [ "$status" = 5 ] && [ "$real" = 5 ]; then exit 5; fi
if [ "$status" != 0 ] && [ "$status" != 5 ]; then exit "$status"; fi
if [ "$real" != 0 ] && [ "$real" != 5 ]; then exit "$real"; fi
exit 0
