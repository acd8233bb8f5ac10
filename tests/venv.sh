# Sourced by tests/run.sh and benchmarks/run.sh: make .venv a Python 3.12 virtualenv with
# requirements-dev.txt installed (again only when that file changes). Run from the repo root.

is_312() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }

find_python312() {
  local candidate version
  for candidate in "${PYTHON312:-}" python3.12 python3 python; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && is_312 "$candidate"; then
      command -v "$candidate"
      return
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
      candidate="$(pyenv root)/versions/$version/bin/python3.12"
      if is_312 "$candidate"; then echo "$candidate"; return; fi
    done
  fi
  if command -v uv >/dev/null 2>&1 && candidate="$(uv python find 3.12 2>/dev/null)" && is_312 "$candidate"; then
    echo "$candidate"
    return
  fi
  echo "tests/run.sh: Python 3.12 not found; install it or set PYTHON312=/path/to/python3.12" >&2
  exit 2
}

if ! is_312 .venv/bin/python; then
  python312="$(find_python312)"
  echo "$0: making .venv with $python312"
  rm -rf .venv
  "$python312" -m venv .venv
fi

stamp=".venv/.requirements-dev.sha256"
wanted="$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("requirements-dev.txt", "rb").read()).hexdigest())')"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "$0: installing requirements-dev.txt into .venv from PyPI (cookiecutter, pytest, the dify_plugin SDK, ...)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$wanted" > "$stamp"
fi

