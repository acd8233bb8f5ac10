{% set plan = cookiecutter | plan %}
"""`python scripts/check_server.py` on the unfinished plugin: each check says what is left to fill in.

Once a method is filled in, its row turns ok (or FAIL with a fix) against a real server.
"""

import re
import subprocess
import sys
from pathlib import Path

from checks import unreachable

ROOT = Path(__file__).resolve().parents[1]
# Model type -> (its folder, the calls the check makes besides validating credentials).
CHOSEN = {
{% for type in plan.types %}
    "{{ type.name }}": ("{{ type.folder }}", {{ 2 if type.name == "llm" else 1 }}),
{% endfor %}
}


def test_every_unfinished_method_is_reported_with_the_file_to_fill_in():
    url = unreachable()["server_url"]  # the stubs never connect; nothing listens there anyway
    args = [arg for model_type in CHOSEN for arg in (f"--{model_type}", "my-model")]

    done = subprocess.run(
        [sys.executable, "scripts/check_server.py", "--server-url", url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    statuses = re.findall(r"^(ok|FAIL|todo) ", done.stdout, re.M)
    assert statuses == ["todo"] * (1 + sum(1 + calls for _, calls in CHOSEN.values())), done.stdout
    fixes = re.findall(r"^ +fix: (.*)$", done.stdout, re.M)
    expected = [r"fill in validate_provider_credentials in provider/{{ plan.provider }}\.py \(line \d+\)"]
    for folder, calls in CHOSEN.values():
        expected.append(rf"fill in validate_credentials in models/{folder}/{folder}\.py \(line \d+\)")
        expected += [rf"fill in _invoke in models/{folder}/{folder}\.py \(line \d+\)"] * calls
    assert len(fixes) == len(expected), done.stdout
    assert all(re.fullmatch(pattern, fix) for pattern, fix in zip(expected, fixes, strict=True)), done.stdout
    assert "not implemented yet: FAILED" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
