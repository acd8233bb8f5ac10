"""scripts/find_python.sh finds Python 3.12 as DEVELOPMENT.md promises: $PYTHON312, then PATH, then
pyenv, then uv; and says so in one line when there is none. Each case runs the script with a PATH
holding only what the case gives it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable  # the 3.12 this suite runs on
BASH = shutil.which("bash")


def tool(folder: Path, name: str, script: str) -> Path:
    """An executable `name` in `folder`: a shell script, or a link to a real program when `script` is a path."""
    path = folder / name
    if os.path.isabs(script):
        path.symlink_to(script)
    else:
        path.write_text(f"#!{BASH}\n{script}\n")
        path.chmod(0o755)
    return path


def find(folder: Path, **env: str) -> subprocess.CompletedProcess:
    for needed in ("grep", "sort"):  # what the script calls besides the candidates
        tool(folder, needed, shutil.which(needed))
    return subprocess.run(
        [BASH, str(ROOT / "scripts" / "find_python.sh")],
        env={"PATH": str(folder), "HOME": str(folder), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    tool(folder, "python3.12", "exit 1")  # a python3.12 that is not one: skipped
    return folder


def test_python312_set_in_the_environment_comes_first(bin_dir):
    done = find(bin_dir, PYTHON312=PYTHON)

    assert (done.returncode, done.stdout.strip()) == (0, PYTHON), done.stderr


def test_a_312_on_path_under_another_name(bin_dir):
    found = tool(bin_dir, "python3", PYTHON)

    done = find(bin_dir)

    assert (done.returncode, done.stdout.strip()) == (0, str(found)), done.stderr


def test_a_312_that_only_pyenv_knows(bin_dir, tmp_path):
    root = tmp_path / "pyenv"
    (root / "versions" / "3.12.1" / "bin").mkdir(parents=True)
    found = tool(root / "versions" / "3.12.1" / "bin", "python3.12", PYTHON)
    versions = "3.11.9\\n3.12.1\\nsystem\\n"
    tool(bin_dir, "pyenv", f'case "$1" in root) echo {root} ;; versions) printf "{versions}" ;; esac')

    done = find(bin_dir)

    assert (done.returncode, done.stdout.strip()) == (0, str(found)), done.stderr


def test_a_312_that_only_uv_knows(bin_dir):
    tool(bin_dir, "uv", f'[ "$*" = "python find 3.12" ] && echo {PYTHON}')

    done = find(bin_dir)

    assert (done.returncode, done.stdout.strip()) == (0, PYTHON), done.stderr


def test_no_312_anywhere_is_one_line_naming_the_variable(bin_dir):
    done = find(bin_dir)

    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "PYTHON312=" in done.stderr
