"""Every plugin the suite bakes packages exactly the files it needs, with the packager it pins."""

import re
import subprocess
import sys

import pytest
import yaml
from conftest import ANSWER_SETS, NETWORK_NAMESPACE, offline_env


@pytest.mark.parametrize("name", list(ANSWER_SETS))
def test_package_listing_and_plugin_files_hold_for_every_variant(name, bake):
    """Runs the baked plugin's own tests/test_package.py and tests/test_plugin_files.py."""
    done = subprocess.run(
        [*NETWORK_NAMESPACE, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
        + ["tests/test_package.py", "tests/test_plugin_files.py"],
        cwd=bake(name),
        capture_output=True,
        text=True,
        timeout=300,
        env=offline_env(),
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", done.stdout) and " failed" not in done.stdout, done.stdout[-2000:]


def test_release_pins_the_cli_whose_packaging_rules_the_listing_follows(bake):
    plugin = bake("default")
    described = re.search(r"dify-plugin-daemon (\d+\.\d+\.\d+)", (plugin / "tests" / "test_package.py").read_text())
    release = yaml.safe_load((plugin / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    assert described and release["env"]["DIFY_CLI_VERSION"] == described.group(1)
