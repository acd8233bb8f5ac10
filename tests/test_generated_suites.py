"""Each baked plugin's own test suite passes offline, as a plugin author first runs it."""

import re
import subprocess
import sys

import pytest
from conftest import SIX, offline_env

MATRIX = ["default", "all-six", *(f"only-{t}" for t in SIX), "blank-default", "blank-all-six"]


@pytest.mark.parametrize("name", MATRIX)
def test_generated_project_suite_passes_offline(name, bake):
    plugin = bake(name)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=plugin,
        capture_output=True,
        text=True,
        timeout=300,
        env=offline_env(),
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 3, summary
    assert not re.search(r"\b\d+ (failed|errors?)\b", summary), summary
