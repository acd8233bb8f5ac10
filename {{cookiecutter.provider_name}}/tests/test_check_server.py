{% set plan = cookiecutter | plan %}
{% set fakes = {
  "llm": ("chat-model", "/v1/chat/completions"),
  "text-embedding": ("embed-model", "/v1/embeddings"),
  "rerank": ("rerank-model", "/v1/rerank"),
  "speech2text": ("whisper", "/v1/audio/transcriptions"),
  "tts": ("tts-model", "/v1/audio/speech"),
  "moderation": ("moderation-model", "/v1/moderations"),
} %}
"""`python scripts/check_server.py` against the loopback server: one row per check, a fix line for
every kind of failure, exit status 1 on any failure, and never an API key in its output.

A few tests run the command in a subprocess, exactly as its user does. The others call its
`main()` with one plugin process started for this module: the same requests over the same stdio
runtime, without starting the plugin again for every case (and apart from the suite's shared
plugin, whose output other tests inspect).
"""

import io
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from checks import SERVERS_OWN_KEY, unreachable_server
from conftest import API_KEY, FakeServer, started_plugin

from models.server.vocabulary import FIELD, STATUS, Fault
{% if plan.has("llm") %}
from scripts.check import arguments
{% endif %}
from scripts.check.calls import CALLS
from scripts.check.command import main
from scripts.check.plugin import PluginProcess

ROOT = Path(__file__).resolve().parents[1]
CHOSEN = {{ plan.type_names | tojson }}
# Dify model type -> the loopback server's model of that type, and the path its call goes to.
UID = {
{% for type in plan.types %}
    "{{ type.name }}": "{{ fakes[type.name][0] }}",
{% endfor %}
}
CALL_PATH = {
{% for type in plan.types %}
    "{{ type.name }}": "{{ fakes[type.name][1] }}",
{% endfor %}
}
FIRST = CHOSEN[0]
# A type whose credentials must be refused for another chosen type's model (a server cannot tell
# what a moderation model is, so the plugin checks it by moderating).
WRONG_TYPE = next(((t, other) for t in CHOSEN if t != "moderation" for other in CHOSEN if other != t), None)


def check(*args: str, env: dict[str, str] | None = None, limit: float = 120) -> subprocess.CompletedProcess:
    """Run the command as an author does, with a clean environment plus `env`, for at most `limit` s."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_SERVER_")}
    return subprocess.run(
        [sys.executable, "scripts/check_server.py", *args],
        cwd=ROOT,
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=limit,
    )


@pytest.fixture(scope="module")
def check_plugin() -> Iterator[PluginProcess]:
    running = started_plugin("check_plugin")
    yield running
    running.stop()


def check_in(plugin: PluginProcess, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The command's exit status and output, run in this process with the suite's plugin."""
    out = io.StringIO()
    return main(list(args), environ=env or {}, out=out, plugin=plugin), out.getvalue()


def rows(output: str) -> list[dict[str, str]]:
    """The printed table: status, type, model, check, time, detail and the fix line under it."""
    table: list[dict[str, str]] = []
    for line in output.splitlines():
        if re.match(r"(ok|FAIL|todo) ", line):
            status, model_type, model, name, seconds, *detail = re.split(r" {2,}", line.strip(), maxsplit=5)
            row = {"status": status, "type": model_type, "model": model, "check": name, "time": seconds}
            table.append(row | {"detail": detail[0] if detail else "", "fix": ""})
        elif line.strip().startswith("fix: "):
            table[-1]["fix"] = line.strip().removeprefix("fix: ")
    return table


def test_the_command_documented_first_in_development_md_passes_against_a_working_server(server):
    guide = (ROOT / "DEVELOPMENT.md").read_text(encoding="utf-8")
    assert re.findall(r"^## (.+)$", guide, re.M)[0] == "Check the plugin against your own server"
    [command] = re.findall(r"^uv run --frozen python scripts/check_server\.py (.*)$", guide, re.M)
    words = shlex.split(command.replace("http://192.168.1.100:9997", server.url))
    args = [UID[words[i - 1][2:]] if word == "MODEL_UID" else word for i, word in enumerate(words)]

    done = check(*args)  # with this suite's Python, which has the locked dependencies

    assert done.returncode == 0, done.stdout + done.stderr
    table = rows(done.stdout)
    assert [row["status"] for row in table] == ["ok"] * len(table), done.stdout
    assert [(row["type"], row["model"]) for row in table] == [("provider", "-")] + [
        (t, UID[t]) for t in CHOSEN for _ in range(1 + len(CALLS[t]))
    ]
    assert all(re.fullmatch(r"\d+\.\d\ds", row["time"]) for row in table)
    for model_type in CHOSEN:  # one real call of each type reached the server
        assert server.requests(CALL_PATH[model_type]), model_type
    assert done.stdout.rstrip().endswith("all passed")
    assert "127.0.0.1 is that container" in done.stdout  # a loopback address will not work from Dify


def test_the_api_key_is_sent_to_the_server_and_never_printed(server):
    server.control("config", {"api_key": API_KEY})
    server.fault(CALL_PATH[FIRST], status=500, body={"detail": f"upstream said {API_KEY}"}, times=2)

    env = {"MODEL_SERVER_API_KEY": API_KEY}
    done = check("--server-url", server.url, f"--{FIRST}", UID[FIRST], "-v", env=env)

    assert API_KEY not in done.stdout + done.stderr
    assert "API key: from $MODEL_SERVER_API_KEY (not shown)" in done.stdout
    assert rows(done.stdout)[0]["status"] == "ok"  # the server accepted the key
    assert "the server failed (500)" in done.stdout  # its answer repeating the key was printed, scrubbed
    assert {r["authorization"] for r in server.requests()} == {f"Bearer {API_KEY}"}


def test_a_password_in_the_server_url_is_never_printed(server, check_plugin):
    secret_url = server.url.replace("http://", "http://me:pass-word-42@")

    status, output = check_in(check_plugin, "--server-url", secret_url, f"--{FIRST}", "no-such-model", "-v")

    assert status == 1
    assert "pass-word-42" not in output
    assert "http://me:***@127.0.0.1" in output
    [row] = rows(output)  # the provider check already refuses the URL; no model is checked
    assert row["fix"].startswith("the plugin refuses server_url (--server-url): must not contain"), output


def spoil(case: str, server: FakeServer) -> tuple[list[str], dict[str, str], str]:
    """Arguments, environment and the expected fix line (a regex) for one kind of failure."""
    url, model_type, uid, env, extra = server.url, FIRST, UID[FIRST], {}, []
    port = server.port
    if case == "no api key":
        server.control("config", {"api_key": API_KEY})
        fix = r"the server answered 401: set the API key \(\$MODEL_SERVER_API_KEY or --api-key-file\)"
    elif case == "wrong api key":
        server.control("config", {"api_key": SERVERS_OWN_KEY})
        env = {"MODEL_SERVER_API_KEY": API_KEY}
        fix = r"the server answered 401 to the API key from \$MODEL_SERVER_API_KEY: check that key"
    elif case == "unknown uid":
        uid = "no-such-model"
        fix = rf"uid 'no-such-model' is not running; the server runs: .*{UID[FIRST]} \({FIRST}\)"
    elif case == "wrong model type":
        model_type, actual = WRONG_TYPE
        uid = UID[actual]
        fix = rf"uid '{uid}' is an? {actual} model, not {model_type}: check it with --{actual} {uid}, or give"
    elif case == "connection refused":
        url, port = unreachable_server()
        fix = rf"nothing listens on 127\.0\.0\.1:{port}: start the server or correct the port; .*127\.0\.0\.1"
    elif case == "unknown host":
        url = "http://no-such-host.invalid:9997"
        fix = r"the name 'no-such-host\.invalid' (does|did) not resolve"
    elif case == "path after the port":
        url += "/api"
        fix = rf"/api is not the API \(404\), http://127\.0\.0\.1:{port}/v1 is: set server_url to http://127\.0\.0\.1:{port}$"
    elif case == "web page":
        server.fault("/v1", status=200, body="<html>Sign in</html>", content_type="text/html", times=50)
        fix = r"/v1/models answers, but not with JSON: is 127\.0\.0\.1:\d+ the model server's API, not a web page\?"
    elif case == "slow server":
        # an embedding model's validation asks for one embedding too, to learn its dimension
        server.fault(CALL_PATH[FIRST], delay=3, times=2 if FIRST == "text-embedding" else 1)
        extra = ["--timeout", "1"]
        fix = r"the server accepted the connection but did not answer within 1 s"
    elif case == "server error":
        server.fault(CALL_PATH[FIRST], status=500, times=2)
        # Moderation and TTS are validated by a call of their own: the 500 comes while validating.
        validated_by_the_call = FIRST in ("moderation", "tts")
        suspect = "" if validated_by_the_call else rf"'{UID[FIRST]}' may not be an? {FIRST} model, or "
        fix = rf"the server failed \(500\): {suspect}the model crashed; its log says which"
    elif case == "value out of the form's range":
        extra = ["--set", "max_retries=7"]
        fix = r"^the plugin refuses max_retries \(--set max_retries=\.\.\.\): must be a whole number from 0 to \d+$"
    elif case == "call not offered":
        server.fault(CALL_PATH[FIRST], status=501, times=2)
        fix = rf"the server does not offer this call for '{UID[FIRST]}' \(501\): check that it is an? {FIRST} model"
    elif case == "rate limited":
        server.fault(CALL_PATH[FIRST], status=429, times=2)
        fix = r"the server answered 429 \(too many requests\)"
    else:
        raise ValueError(case)
    return ["--server-url", url, f"--{model_type}", uid, *extra], env, fix


FAILURES = [
    "no api key",
    "wrong api key",
    "unknown uid",
    *(["wrong model type"] if WRONG_TYPE else []),
    "connection refused",
    "unknown host",
    "path after the port",
    "web page",
    "slow server",
    "server error",
    "call not offered",
    "value out of the form's range",
    "rate limited",
]

SERVER_WIDE = {"no api key", "wrong api key", "connection refused", "unknown host"}


@pytest.mark.parametrize("case", FAILURES)
def test_each_kind_of_failure_prints_its_fix_and_exits_1(server, check_plugin, case):
    args, env, fix = spoil(case, server)

    status, output = check_in(check_plugin, *args, env=env)

    assert status == 1, output
    failed = [row for row in rows(output) if row["status"] == "FAIL"]
    assert failed, output
    assert any(re.search(fix, row["fix"]) for row in failed), output
    assert all(row["fix"] for row in failed), output
    assert "Traceback" not in output
    assert output.rstrip().endswith("FAILED")
    if case in SERVER_WIDE:  # every model would fail the same way: they are not checked
        assert [row["type"] for row in rows(output)] == ["provider"]
        assert "Models not checked: the server must pass the provider check first (1 given)." in output


{% if plan.has("llm") %}
def test_a_server_refusing_stream_options_passes_as_the_plugin_leaves_the_field_out(server, check_plugin):
    refusal = {"error": {"message": "Unrecognized request argument supplied: stream_options", "code": 400}}
    server.fault(CALL_PATH["llm"], status=400, body=refusal)

    status, output = check_in(check_plugin, "--server-url", server.url, "--llm", UID["llm"])

    assert status == 0, output
    assert [row["status"] for row in rows(output)] == ["ok"] * 4, output
    sent = [request["json"] for request in server.requests(CALL_PATH["llm"]) if request["json"].get("stream")]
    assert "stream_options" in sent[0] and "stream_options" not in sent[-1], sent


@pytest.mark.parametrize(
    ("family", "name", "detected"),
    [
        ("vllm", "vLLM", ["structured_output=yes", "context_size=32768"]),
        ("ollama", "Ollama", ["function_calling=yes", "thinking=switchable", "context_size=8192"]),
        ("lm-studio", "LM Studio", ["function_calling=yes", "vision=yes", "context_size=16384"]),
    ],
)
def test_the_check_names_the_server_family_it_recognised_and_what_it_detected(
    server, check_plugin, family, name, detected
):
    server.control("features", {"family": family})

    status, output = check_in(check_plugin, "--server-url", server.url, "--llm", UID["llm"], "-v")

    assert status == 0, output
    [validation] = [row for row in rows(output) if (row["type"], row["check"]) == ("llm", "credentials")]
    assert validation["detail"].startswith(f"accepted ({name} server); learned "), validation
    assert all(answer in validation["detail"] for answer in detected), validation


{% endif %}
def test_without_models_it_checks_the_server_and_lists_what_it_runs(server, check_plugin):
    status, output = check_in(check_plugin, "--server-url", server.url)

    assert status == 0, output
    assert [row["type"] for row in rows(output)] == ["provider"]
    assert f"No model given: add --{FIRST} UID" in output
    assert f"{UID[FIRST]} ({FIRST})" in output


def test_the_check_says_where_the_api_is_and_finds_routes_at_the_servers_root(server, check_plugin):
    server.config(mount="")  # an API at the root, as Infinity and TEI serve it
    model = [f"--{FIRST}", UID[FIRST]]

    status, output = check_in(check_plugin, "--server-url", server.url, *model)

    assert status == 1, output
    assert f"API at: {server.url}/v1 (/v1 added to a URL without a path)" in output
    fix = f"{server.url}/v1 is not the API (404), {server.url} is: its routes are at the root: --set routes_at_root=yes"
    assert fix in [row["fix"] for row in rows(output)], output

    status, output = check_in(check_plugin, "--server-url", server.url, "--set", "routes_at_root=yes", *model)

    assert status == 0, output
    assert f"API at: {server.url} (the server's root, as routes_at_root=yes says)" in output


@pytest.mark.parametrize(
    ("spoiled", "fault"),
    [
        ({"api_key": "wrong"}, Fault(STATUS, status=401)),
        ({"max_retries": "7"}, Fault(FIELD, field="max_retries", rule="must be a whole number from 0 to 3")),
    ],
    ids=["status", "field"],
)
def test_the_plugins_errors_carry_their_fault_over_stdio(server, check_plugin, spoiled, fault):
    """What the check reads instead of the message: the fault noted on the error, in the traceback
    that the SDK sends with every error."""
    server.control("config", {"api_key": API_KEY})
    credentials = {"server_url": server.url, "model_uid": UID[FIRST], "api_key": API_KEY, **spoiled}

    _, error = check_plugin.call(
        "validate_model_credentials", model_type=FIRST, model=UID[FIRST], credentials=credentials
    )

    assert error is not None and error["error_type"] == "CredentialsValidateFailedError"
    assert Fault.found_in(error["args"]["traceback"]) == fault


def test_the_check_never_loads_the_sdk_into_its_own_process():
    """It drives the plugin over stdio; the SDK's gevent patching must stay in the plugin's process."""
    code = "import json, sys; import scripts.check.command; print(json.dumps([m.split('.')[0] for m in sys.modules]))"

    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "scripts" in loaded and not {"dify_plugin", "gevent", "httpx"} & loaded


def test_a_plugin_that_does_not_start_is_reported(server, tmp_path):
    broken = tmp_path / "dify_plugin"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('dify_plugin is broken here')\n")

    done = check("--server-url", server.url, f"--{FIRST}", UID[FIRST], env={"PYTHONPATH": str(tmp_path)})

    assert done.returncode == 1
    [row] = rows(done.stdout)
    assert (row["status"], row["check"]) == ("FAIL", "start")
    assert "dify_plugin is broken here" in row["detail"]
    assert "pip install -r requirements.txt" in row["fix"]
{% if plan.has("llm") %}


def test_a_call_that_outlasts_its_bound_is_cut_off(check_plugin, server, monkeypatch):
    """A word every 0.3 s for 3 s: no read times out, so only the check's own bound ends the call
    (request_timeout 1 s plus the margin for the plugin's own work, cut here from 5 s to 0.5 s)."""
    monkeypatch.setattr(arguments, "PLUGIN_MARGIN", 0.5)
    server.fault(CALL_PATH["llm"], reply={"content": " ".join(["word"] * 10)}, chunk_delay=0.3)

    status, output = check_in(check_plugin, "--server-url", server.url, "--llm", UID["llm"], "--timeout", "1")

    streamed = next(row for row in rows(output) if row["check"] == "chat, streamed")
    assert streamed["status"] == "FAIL"
    assert "no answer within 1.5 s" in streamed["fix"]
    assert 1.5 <= float(streamed["time"].removesuffix("s")) < 10
    assert status == 1
{% endif %}


TYPED_KEY = "sk-typed-on-the-command-line"
BAD_ARGUMENTS = {
    "api key flag": (["--api-key", TYPED_KEY], "--api-key: the key would stay in your shell"),
    "api key flag with =": ([f"--api-key={TYPED_KEY}"], "--api-key: the key would stay in your shell"),
    "api key by --set": (["--set", f"api_key={TYPED_KEY}"], "--set api_key: the key would stay"),
    "extra headers by --set": (
        ["--set", "extra_headers=" + json.dumps({"X-Gateway-Key": TYPED_KEY})],
        "--set extra_headers: a secret would stay in your shell history; put it in the file for --credentials",
    ),
    "unknown field": (["--set", "colour=blue"], "--set colour: not a field of this plugin's form (fields: "),
    "unknown flag": (["--no-such-flag", TYPED_KEY], "unknown argument --no-such-flag; "),
    "stray value": ([TYPED_KEY], "unknown argument a value with no option before it; "),
    "zero timeout": (["--timeout", "0"], "--timeout: must be a number of seconds between 0 and 3600"),
    "missing file": (["--credentials", "/no/such.json"], "--credentials /no/such.json: cannot read it"),
}


@pytest.mark.parametrize(("args", "message"), list(BAD_ARGUMENTS.values()), ids=list(BAD_ARGUMENTS))
def test_bad_arguments_get_one_line_and_exit_2_without_echoing_a_key(capsys, args, message):
    status = main(["--server-url", "http://127.0.0.1:9", *args], environ={})

    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.startswith(f"error: {message}"), err
    assert len(err.strip().splitlines()) == 1
    assert TYPED_KEY not in err


def test_an_unknown_option_lists_the_model_types_this_plugin_checks(capsys):
    status = main(["--server-url", "http://127.0.0.1:9", "--no-such-type", "x"], environ={})

    assert status == 2
    types = ", ".join(f"--{t}" for t in CHOSEN)
    assert capsys.readouterr().err.strip() == (
        f"error: unknown argument --no-such-type; this plugin's model types are {types} (see --help)"
    )


def test_a_missing_server_url_names_the_flag_and_the_variable(capsys):
    status = main([f"--{FIRST}", UID[FIRST]], environ={})

    assert status == 2
    assert capsys.readouterr().err.strip() == (
        "error: --server-url: must be an http:// or https:// URL with a host (got nothing); or set $MODEL_SERVER_URL"
    )


def test_extra_headers_from_the_credentials_file_reach_the_server_and_are_never_printed(
    server, check_plugin, tmp_path
):
    gateway_key = "gw-from-the-credentials-file"
    form = tmp_path / "credentials.json"
    headers = {"X-Gateway-Key": gateway_key}  # a JSON object in the file, as the form's text is one
    form.write_text(json.dumps({"server_url": server.url, "extra_headers": headers}))

    status, output = check_in(check_plugin, "--credentials", str(form), f"--{FIRST}", UID[FIRST])
    echo = {"detail": "no route for {header:X-Gateway-Key}"}
    server.fault(CALL_PATH[FIRST], status=404, body=echo, times=9)
    failed, failure = check_in(check_plugin, "--credentials", str(form), f"--{FIRST}", UID[FIRST], "-v")

    assert status == 0, output
    assert failed == 1, failure
    assert gateway_key not in output + failure
    assert {request["headers"].get("x-gateway-key") for request in server.requests()} == {gateway_key}


def test_credentials_come_from_files_and_the_environment_like_the_dify_form(server, check_plugin, tmp_path):
    server.control("config", {"api_key": API_KEY})
    form = tmp_path / "credentials.json"
    form.write_text(json.dumps({"server_url": server.url, "api_key": API_KEY, "request_timeout": "7"}))
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY + "\n")
    env = {"MODEL_SERVER_URL": server.url, "MODEL_SERVER_API_KEY": API_KEY}

    from_form = check_in(check_plugin, "--credentials", str(form), f"--{FIRST}", UID[FIRST])
    from_env = check_in(check_plugin, f"--{FIRST}", UID[FIRST], env=env)
    key_args = ["--api-key-file", str(key_file)]
    from_key_file = check_in(check_plugin, "--url", server.url, f"--{FIRST}", UID[FIRST], *key_args)

    for status, output in (from_form, from_env, from_key_file):
        assert status == 0, output
        assert API_KEY not in output
    assert "each call ends within 12 s" in from_form[1]  # request_timeout 7 from the file, plus 5
    assert f"API key: from {key_file} (not shown)" in from_key_file[1]
