"""The test commands README.md gives are the ones CI and the workflow run, and they select what they say."""

import re
import subprocess
import sys

from conftest import TEMPLATE

PATHS = ["tests/real", "tests/test_commands.py"]  # the tier, and a test outside it


def readme_commands() -> dict[str, str]:
    """README's "Test commands" table: command -> what it runs."""
    text = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    section = text.split("### Test commands", 1)[1].split("\n#", 1)[0]
    return dict(re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", section, re.M))


def test_ci_runs_exactly_the_full_command_readme_gives():
    commands = readme_commands()
    full = [command for command, runs in commands.items() if "real-server tier (" in runs]
    assert full == ["bash tests/run.sh"], commands
    lines = [line for line in (TEMPLATE / ".ci" / "run").read_text().splitlines() if line and line[0] not in "#"]
    assert lines[-1] == full[0]


def test_the_fast_command_leaves_out_exactly_the_real_tier():
    assert "bash tests/run.sh --fast" in readme_commands()
    collected = {}
    for args in ([], ["-m", "not real"]):  # what tests/run.sh adds for --fast
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args, *PATHS],
            cwd=TEMPLATE,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        collected[bool(args)] = {line for line in done.stdout.splitlines() if "::" in line}
    assert collected[False] > collected[True] == {t for t in collected[False] if not t.startswith("tests/real/")}


def test_the_fast_command_works_on_a_single_file_outside_the_tier():
    """`bash tests/run.sh --fast tests/test_x.py` never loads tests/real, so `real` is registered centrally."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "not real", __file__],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert '-m "not real"' in (TEMPLATE / "tests" / "run.sh").read_text()
