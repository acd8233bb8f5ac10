"""The time per phase that `bash tests/run.sh` (and so CI's `.ci/run`) prints at its end
(tests/phases.sh): every phase, the background cache build, the total, also when a phase fails."""

import re
import subprocess

from conftest import TEMPLATE

PHASES = TEMPLATE / "tests" / "phases.sh"


def run(tmp_path, body: str) -> subprocess.CompletedProcess:
    """`body` in a bash script that times its phases as tests/run.sh does."""
    script = tmp_path / "script.sh"
    script.write_text(f"set -euo pipefail\nsource {PHASES}\ntrap phase_summary EXIT\n{body}\n")
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path)


def rows(output: str) -> dict[str, tuple[str, str]]:
    """Phase name -> (seconds, result) from the summary."""
    summary = output.split("time per phase", 1)[1]
    found = re.findall(r"^  (.+?) +(\d+|-) s  (.+)$", summary, re.M)
    return {name: (seconds, result) for name, seconds, result in found}


def test_each_phase_the_background_build_and_the_total_are_listed(tmp_path):
    (tmp_path / "build.time").write_text("412 ok\n")

    phases = 'phase_later "cache" build.time\nphase_begin venv\nphase_end\n'
    done = run(tmp_path, phases + 'phase_begin "fast suite"\nsleep 1\nphase_end "exit 0"')

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("time per phase (load average ")
    found = rows(done.stdout)
    assert list(found) == ["venv", "fast suite", "cache", "total"]
    assert found["fast suite"][1] == "exit 0" and int(found["fast suite"][0]) >= 1
    assert found["cache"] == ("412", "ok")
    assert found["total"][1] == "exit 0"
    assert not (tmp_path / "build.time").exists()  # read once, then removed


def test_a_failing_phase_is_listed_as_stopped_and_the_exit_status_is_kept(tmp_path):
    done = run(tmp_path, 'phase_begin venv\nphase_end\nphase_begin "fast suite"\nexit 3\nphase_end')

    assert done.returncode == 3
    found = rows(done.stdout)
    assert found["venv"][1] == "ok"
    assert found["fast suite"][1] == "stopped (exit 3)"
    assert found["total"][1] == "exit 3"


def test_a_command_failing_under_set_e_is_listed_too(tmp_path):
    done = run(tmp_path, 'phase_begin "real tier"\nfalse\nphase_end')

    assert done.returncode == 1
    assert rows(done.stdout)["real tier"][1] == "stopped (exit 1)"


def test_a_background_phase_that_has_not_ended_says_so(tmp_path):
    done = run(tmp_path, 'phase_later "cache" never-written.time')

    assert done.returncode == 0
    assert rows(done.stdout)["cache"] == ("-", "not finished")


def test_the_full_command_prints_the_summary_and_the_fast_one_does_not():
    script = (TEMPLATE / "tests" / "run.sh").read_text()
    assert "source tests/phases.sh" in script
    assert 'if [ "$fast" = no ]; then trap phase_summary EXIT; fi' in script
