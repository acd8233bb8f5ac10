#!/usr/bin/env bash
# Run the template's whole test suite in its own Python 3.12 virtualenv (.venv).
# Creates the venv and installs requirements-dev.txt on first use or when it changes.
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k rerank`.
set -euo pipefail
cd "$(dirname "$0")/.."

source tests/venv.sh

exec .venv/bin/python -m pytest -n 2 "$@"
