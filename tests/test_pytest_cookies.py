"""docs/non-interactive.md's pytest-cookies test file, run as a CI engineer runs it: from a repository of their own.

The repository is a folder outside this one holding what the page says to write (its
`pyproject.toml` line and its test file, extracted from the page) next to a copy of the
template, and the file runs under pytest-cookies with the command the page gives. Without the
page's one line, the same file fails for the reason the page gives, so the line stays needed
and no more than that.
"""

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from conftest import TEMPLATE
from test_ecosystem import IGNORED

PAGE = TEMPLATE / "docs" / "non-interactive.md"
SECTION = "## Testing the template in your CI"
# A block whose first line is "# <path>" is a file the reader writes, at that path.
FILE_BLOCK = re.compile(r"^```(?:python|toml)\n# (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
RUN = re.compile(r"Run it with `(pytest[^`]*)`")
CLONE = "cookiecutter-dify-model-plugin"
REQUIREMENTS = (TEMPLATE / "requirements-dev.txt").read_text(encoding="utf-8")
OLDEST_COOKIECUTTER = "2.1.1"


def section() -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end >= 0 else len(text)]


def documented_files() -> dict[str, str]:
    return {name: f"# {name}\n{body}" for name, body in FILE_BLOCK.findall(section())}


def users_pytest(repo: Path, bin_dir: Path = Path(sys.executable).parent) -> subprocess.CompletedProcess:
    """The page's command, with the pytest in `bin_dir` (this suite's by default), none of this suite's config."""
    command = RUN.search(section()).group(1).split()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("PYTEST", "COOKIECUTTER"))}
    return subprocess.run(
        [str(bin_dir / command[0]), *command[1:]],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def users_repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("users-repo")
    shutil.copytree(TEMPLATE, repo / CLONE, ignore=IGNORED)
    for name, text in documented_files().items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    return repo


def test_the_page_gives_one_config_line_and_one_test_file():
    files = documented_files()
    assert sorted(files) == ["pyproject.toml", "tests/test_dify_model_plugin_template.py"]
    settings = [line for line in files["pyproject.toml"].splitlines()[1:] if line.strip()]
    assert settings == ["[tool.pytest.ini_options]", f'pythonpath = ["{CLONE}"]']


def test_the_documented_test_file_passes_in_a_repository_of_its_own(users_repo):
    done = users_pytest(users_repo)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # default, 3 methods x 2 implementations, blank, 7 bad answers
    assert re.search(r"\b15 passed in ", done.stdout.splitlines()[-1]), done.stdout[-1000:]


def test_the_documented_test_file_passes_with_the_oldest_supported_cookiecutter(users_repo, tmp_path):
    """A user's own virtualenv: pytest-cookies as this suite pins it, with cookiecutter 2.1 (README: 2.1 to 2.7)."""
    pinned = next(line for line in REQUIREMENTS.splitlines() if line.startswith("pytest-cookies=="))
    home = tmp_path / "venv"
    venv.create(home, with_pip=True)
    subprocess.run(
        [home / "bin" / "python", "-m", "pip", "install", "-q", pinned, f"cookiecutter=={OLDEST_COOKIECUTTER}"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    done = users_pytest(users_repo, home / "bin")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r"\b15 passed in ", done.stdout.splitlines()[-1]), done.stdout[-1000:]


def test_without_the_config_line_every_bake_fails_for_the_reason_the_page_gives(users_repo, tmp_path):
    (tmp_path / CLONE).symlink_to(users_repo / CLONE)
    shutil.copytree(users_repo / "tests", tmp_path / "tests")
    done = users_pytest(tmp_path)
    assert done.returncode == 1
    assert re.search(r"\b15 failed in ", done.stdout.splitlines()[-1]), done.stdout[-1000:]
    assert "No module named 'cookiecutter_dify_model_plugin'" in done.stdout
    assert "No module named 'cookiecutter_dify_model_plugin'" in section()
