#!/usr/bin/env bash
# Bake a plugin from this template into build/, replacing an earlier bake of the same name there.
#   bash bake.sh                                          the default plugin: build/xinference/
#   bash bake.sh provider_label="Acme AI" model_types=llm,rerank    your answers (docs/answers.md)
# The first run makes .venv-bake with cookiecutter from PyPI; baking needs Python 3.9 or newer
# (`python3` on PATH, or PYTHON=/path/to/python). The plugin itself runs on Python 3.12.
set -euo pipefail
cd "$(dirname "$0")"
echo "bake.sh: baking a plugin from this template into build/"

is_39_or_newer() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1; }

if ! [ -x .venv-bake/bin/cookiecutter ] || ! .venv-bake/bin/cookiecutter --version >/dev/null 2>&1; then
  python=""
  for candidate in "${PYTHON:-}" python3 python; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && is_39_or_newer "$candidate"; then
      python="$(command -v "$candidate")"
      break
    fi
  done
  if [ -z "$python" ]; then
    echo "bake.sh: no Python 3.9 or newer found; install one or set PYTHON=/path/to/python" >&2
    exit 2
  fi
  echo "bake.sh: first run: making .venv-bake with $python"
  rm -rf .venv-bake
  "$python" -m venv .venv-bake
  echo "bake.sh: installing cookiecutter into .venv-bake from PyPI"
  .venv-bake/bin/python -m pip install --quiet --disable-pip-version-check "cookiecutter>=2.1,<3"
fi

mkdir -p build
staging="$(mktemp -d build/.bake.XXXXXX)"
trap 'rm -rf "$staging"' EXIT
.venv-bake/bin/cookiecutter . --no-input --output-dir "$staging" "$@"
name="$(ls "$staging")"
rm -rf "build/$name"
mv "$staging/$name" "build/$name"
echo "bake.sh: baked build/$name/ (its README.md says how to run it and its tests)"
