#!/usr/bin/env bash
# Print the path of a Python 3.12, the version Dify's plugin daemon runs this plugin with:
# $PYTHON312 if set, then python3.12, python3 or python on PATH, then pyenv's 3.12 versions, then
# uv's (`uv python find 3.12`). Exits 2 with one line naming PYTHON312 if there is none.
#   "$(bash scripts/find_python.sh)" -m venv .venv
set -euo pipefail

is_312() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }

for candidate in "${PYTHON312:-}" python3.12 python3 python; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && is_312 "$candidate"; then
    command -v "$candidate"
    exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
    candidate="$(pyenv root)/versions/$version/bin/python3.12"
    if is_312 "$candidate"; then echo "$candidate"; exit 0; fi
  done
fi
if command -v uv >/dev/null 2>&1 && candidate="$(uv python find 3.12 2>/dev/null)" && is_312 "$candidate"; then
  echo "$candidate"
  exit 0
fi
echo "scripts/find_python.sh: Python 3.12 not found on PATH, in pyenv or in uv; install it or set PYTHON312=/path/to/python3.12" >&2
exit 2
