"""The baked default plugin under a mixed load over stdio, as the daemon drives it for weeks
(tests/soak.py): afterwards its descriptors, its memory and a probe call's latency are as before.

Short by default (SOAK_SECONDS, 20 s, in the fast tier); a long run: `SOAK_SECONDS=600 bash
tests/run.sh --fast -m soak -s`. The figures are printed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SOAK = Path(__file__).resolve().parent / "soak.py"
SECONDS = float(os.environ.get("SOAK_SECONDS", "20"))
# Idle keep-alive connections one pool keeps (KEEPALIVE in models/server/limits.py): a pool the
# probe does not use may hold them until its next call.
KEEPALIVE = 8
MEMORY_RATIO, MEMORY_SLACK_MIB = 1.1, 16  # allocator noise; a leak grows with the load instead
LATENCY_RATIO = 3  # the lowest of 4 medians of 10 calls of a few ms each, on a machine others share


@pytest.mark.soak
def test_a_mixed_load_leaves_the_plugin_as_it_found_it(bake):
    plugin = bake("default")
    declared = yaml.safe_load((plugin / "manifest.yaml").read_text(encoding="utf-8"))["resource"]["memory"]
    done = subprocess.run(
        [sys.executable, str(SOAK), str(SECONDS)],
        cwd=plugin,
        capture_output=True,
        text=True,
        timeout=SECONDS + 300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.splitlines()[-1])
    before, after = report["before"], report["after"]
    print(f"\nsoak: {json.dumps(report)}")

    assert report["alive"] and report["abandoned_ended"], report
    assert after["descriptors"] <= before["descriptors"] + KEEPALIVE, report
    assert after["rss_mib"] <= before["rss_mib"] * MEMORY_RATIO + MEMORY_SLACK_MIB, report
    assert after["probe_ms"] <= before["probe_ms"] * LATENCY_RATIO, report
    assert report["peak_rss_mib"] * 2**20 < declared, report  # the manifest's resource.memory
