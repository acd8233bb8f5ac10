#!/usr/bin/env bash
# Print the benchmark table (see docs/performance.md). Options go to benchmarks/run.py,
# e.g. `bash benchmarks/run.sh --repeat 1 --only streams,embeddings`.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/venv.sh
exec .venv/bin/python benchmarks/run.py "$@"
