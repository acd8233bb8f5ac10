"""The template repository's own code is held to the same standard as the code it generates."""

import re
import subprocess
import sys

import pytest
from conftest import TEMPLATE

PLUGIN_TEMPLATE = TEMPLATE / "{{cookiecutter.provider_name}}"

# Backups, merge and patch debris, editor swap files and OS metadata: never part of a plugin.
LEFTOVER = re.compile(
    r"""(
        \.(orig|rej|bak|backup|old|tmp|swp|swo|swn|patch|diff|pyc|pyo|log)$  # backups, patches, bytecode, logs
      | ~$ | ^\#.*\#$ | ^\.\#                                          # Emacs and other editors' copies and locks
      | ^\.DS_Store$ | ^\._ | ^Thumbs\.db$ | ^ehthumbs\.db$ | ^desktop\.ini$ | ^Icon\r$  # macOS and Windows metadata
      | ^\.(idea|vscode|vs)$ | \.(sublime-workspace|sublime-project|iml)$       # IDE settings
    )""",
    re.VERBOSE | re.IGNORECASE,
)
CACHES = {".ruff_cache", "__pycache__", ".pytest_cache", ".hypothesis", ".venv", ".mypy_cache", ".tox"}


def tracked_files() -> list[str]:
    done = subprocess.run(["git", "ls-files", "-z"], cwd=TEMPLATE, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("not a git checkout: only the working tree is checked")
    return [name for name in done.stdout.split("\0") if name]


def test_template_code_is_ruff_clean():
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
            cwd=TEMPLATE,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_template_tree_holds_no_leftovers_or_tool_caches():
    """Cookiecutter copies everything under the plugin template into every plugin, debris included."""
    leftovers = [
        p.relative_to(TEMPLATE).as_posix()
        for p in PLUGIN_TEMPLATE.rglob("*")
        if p.name in CACHES or LEFTOVER.search(p.name)
    ]
    assert not leftovers, f"remove before baking: {leftovers}"


def test_repository_tracks_no_leftovers():
    tracked = [name for name in tracked_files() if LEFTOVER.search(name.rsplit("/", 1)[-1])]
    assert not tracked, f"tracked backup, patch, editor or OS files: {tracked}"
