"""Each baked plugin's own test suite passes offline, as a plugin author first runs it, and from a
script's background job: SIGINT ignored, no terminal, each file alone, the tests in reverse order."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NETWORK_NAMESPACE, SIX, offline_env

MATRIX = ["default", "all-six", *(f"only-{t}" for t in SIX), "both-methods", "blank-default", "blank-all-six"]
# A job a script starts in the background (`cmd &`) inherits SIGINT ignored, and has no terminal.
BACKGROUND_JOB = ["sh", "-c", "trap '' INT; exec \"$@\"", "background-job"]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
# A pytest plugin that runs the collected tests last to first.
REVERSED = """import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    items.reverse()
"""


def run_suite(plugin: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The plugin's own pytest as a background job of a script would run it, offline where possible."""
    return subprocess.run(
        [*NETWORK_NAMESPACE, *BACKGROUND_JOB, *PYTEST, *args],
        cwd=plugin,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # no controlling terminal
        capture_output=True,
        text=True,
        timeout=600,
        env=offline_env() | (env or {}),
    )


@pytest.mark.parametrize("name", MATRIX)
def test_generated_project_suite_passes_offline(name, bake):
    """Where the machine allows it, the suite runs in a network namespace with loopback only."""
    plugin = bake(name)
    done = run_suite(plugin)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 3, summary
    assert not re.search(r"\b\d+ (failed|errors?)\b", summary), summary


# The answer sets whose suites also run file by file and in reverse order.
ISOLATED = ["default", "all-six", "blank-all-six"]


@pytest.mark.parametrize("name", ISOLATED)
def test_each_generated_test_file_passes_on_its_own(name, bake):
    plugin = bake(name)
    files = sorted(path.relative_to(plugin).as_posix() for path in (plugin / "tests").glob("test_*.py"))

    failed = {}
    for file in files:
        done = run_suite(plugin, file)
        if done.returncode != 0:
            failed[file] = done.stdout[-3000:] + done.stderr[-1000:]

    assert len(files) >= 8
    assert not failed, "\n\n".join(f"{file} alone:\n{output}" for file, output in failed.items())


@pytest.mark.parametrize("name", ISOLATED)
def test_generated_suite_passes_in_reverse_order(name, bake, tmp_path):
    (tmp_path / "reverse_order.py").write_text(REVERSED, encoding="utf-8")

    done = run_suite(bake(name), "-p", "reverse_order", env={"PYTHONPATH": str(tmp_path)})

    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"\d+ passed", summary), summary


def test_the_background_job_really_ignores_sigint():
    """Guards the tests above: the suites run as a job whose SIGINT is ignored, as `cmd &` in a script."""
    code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    done = subprocess.run([*BACKGROUND_JOB, sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr


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


# Every fault the issue lists, as the test ids that inject it in the default plugin's own suite.
FAULT_KINDS = {
    "connection refused": "test_llm.py::test_connection_refused_is_a_connection_error[streaming]",
    "connect timeout": "test_server.py::test_a_connect_timeout_is_a_connection_error_stating_the_timeout",
    "read timeout": "test_llm.py::test_a_server_slower_than_the_timeout_is_a_connection_error_within_the_timeout",
    "401": "test_llm.py::test_http_errors_map_to_difys_errors_by_cause[401-InvokeAuthorizationError-streaming]",
    "403": "test_rerank.py::test_http_errors_map_to_difys_errors_by_cause[403-InvokeAuthorizationError]",
    "404 unknown model": "test_text_embedding.py::test_http_errors_map_to_difys_errors_by_cause[404-",
    "429": "test_llm.py::test_http_errors_map_to_difys_errors_by_cause[429-InvokeRateLimitError-blocking]",
    "500": "test_llm.py::test_http_errors_map_to_difys_errors_by_cause[500-",
    "503": "test_rerank.py::test_http_errors_map_to_difys_errors_by_cause[503-",
    "non-JSON body": "test_llm.py::test_malformed_answers_are_clear_dify_errors[non-json body]",
    "JSON error body without the expected keys": "test_llm.py::test_malformed_answers_are_clear_dify_errors[error body",
    "malformed SSE line": "test_llm.py::test_malformed_answers_are_clear_dify_errors[malformed sse line]",
    "stream cut mid-way": "test_llm.py::test_malformed_answers_are_clear_dify_errors[stream cut mid-way]",
    "empty choices": "test_llm.py::test_malformed_answers_are_clear_dify_errors[empty choices]",
    "wrong key (validation)": "test_llm.py::test_validation_failure_names_the_server_and_never_the_key[wrong api",
    # Hostile and overloaded servers (issue 9).
    "key echoed on a 200": "test_hostile.py::test_a_key_the_server_echoes_never_reaches_the_error[200 of an",
    "key echoed in an SSE error event": "test_hostile.py::test_a_key_echoed_in_a_stream_never_reaches_the_error[error",
    "secrets over stdio": "test_hostile.py::test_no_secret_reaches_dify_over_stdio",
    "password in server_url": "test_hostile.py::test_an_unusable_server_url_is_a_dify_error_naming_the_field[password",
    "key no header can carry": "test_hostile.py::test_a_key_with_a_line_break_is_a_dify_error_naming_the_field",
    "trickling server": "test_hostile.py::test_a_trickling_server_cannot_stretch_a_call_past_request_timeout",
    "SSE comments only": "test_hostile.py::test_a_stream_without_events_ends_after_request_timeout[keep-alive",
    "endless stream": "test_hostile.py::test_a_stream_far_past_max_tokens_is_ended_with_a_clear_error",
    "trickled credential check": "test_hostile.py::test_a_credential_check_ends_within_request_timeout_however",
    "huge body": "test_hostile.py::test_refusing_a_300_mb_answer_keeps_the_plugins_memory_bounded[300 MB body]",
    "gzip bomb": "test_hostile.py::test_refusing_a_300_mb_answer_keeps_the_plugins_memory_bounded[300 MB gzip",
    "huge stream line": "test_hostile.py::test_a_stream_line_over_the_limit_is_refused",
    "plain JSON answer to a stream": "test_hostile.py::test_a_stream_answered_with_something_else_names_what_came",
    "credential churn": "test_hostile.py::test_credential_churn_keeps_descriptors_and_memory_flat",
    "256 concurrent calls": "test_hostile.py::test_256_concurrent_calls_on_one_credential_set_all_complete",
}


def test_default_plugin_suite_injects_every_fault_kind(bake):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=bake("default"),
        capture_output=True,
        text=True,
        timeout=120,
        env=offline_env(),
    )
    collected = [line.removeprefix("tests/") for line in done.stdout.splitlines() if "::" in line]
    missing = [kind for kind, test_id in FAULT_KINDS.items() if not any(c.startswith(test_id) for c in collected)]
    assert not missing, f"no fault-injection test for: {missing}"
    fault_tests = [c for c in collected if re.search(r"error|timeout|refused|malformed|cut|validation_failure", c)]
    print(f"{len(FAULT_KINDS)} fault kinds, {len(fault_tests)} fault-injection tests in the default plugin")
    assert len(fault_tests) >= 60


# Words that name each model type in the plugin's code (its folder, its name, its fake models).
TYPE_WORDS = {
    "speech2text": ("speech2text", "transcription", "whisper", "audio2text"),
    "tts": ("tts", "audio/speech", "text2audio"),
    "moderation": ("moderation",),
}


SHARED_CODE = ["tests/fake_server.py", "tests/test_hostile.py", "models/features.py", "models/server/**/*.py"]


@pytest.mark.parametrize("pattern", SHARED_CODE)
def test_default_plugin_code_mentions_no_model_type_that_was_not_chosen(bake, pattern):
    paths = sorted(bake("default").glob(pattern))
    assert paths, f"no file matches {pattern}"
    text = "".join(path.read_text(encoding="utf-8").lower() for path in paths)

    mentioned = {kind: word for kind, words in TYPE_WORDS.items() for word in words if word in text}
    assert not mentioned, f"{pattern} mentions unchosen model types: {mentioned}"
