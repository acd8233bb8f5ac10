"""Each baked plugin's own test suite passes offline, as a plugin author first runs it."""

import re
import subprocess
import sys

import pytest
from conftest import NETWORK_NAMESPACE, SIX, offline_env

MATRIX = ["default", "all-six", *(f"only-{t}" for t in SIX), "blank-default", "blank-all-six"]


@pytest.mark.parametrize("name", MATRIX)
def test_generated_project_suite_passes_offline(name, bake):
    """Where the machine allows it, the suite runs in a network namespace with loopback only."""
    plugin = bake(name)
    done = subprocess.run(
        [*NETWORK_NAMESPACE, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
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


def test_generated_suites_really_run_without_network():
    """Guards the test above: on Linux CI the namespace must exist, so "offline" is enforced."""
    if sys.platform != "linux":
        pytest.skip("network namespaces are Linux-only; elsewhere the suites run with the host network")
    assert NETWORK_NAMESPACE, "unshare -rn with `ip` is unavailable: install util-linux and iproute2"
    done = subprocess.run(
        [*NETWORK_NAMESPACE, sys.executable, "-c", "import socket; print([n for _, n in socket.if_nameindex()])"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['lo']", done.stdout  # loopback is the only interface
