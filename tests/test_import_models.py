"""`import_models_from`: a bake against a running server writes one predefined model per model of
the chosen types, which the SDK loads and the plugin's own suite covers; a server that cannot be
imported stops the bake with one line and leaves no folder. Runs the real `cookiecutter` command
against the fake server of a baked plugin (tests/fake_server.py, standard library only)."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import SIX, TEMPLATE, run_plugin_tests

FOLDER = {t: t.replace("-", "_") for t in SIX}
# The models tests/fake_server.py runs, by the type its Xinference-style description gives.
SERVED = {
    "llm": {"chat-model", "vision-model", "generate-model", "qwen3-model", "omni-model"},
    "text-embedding": {"embed-model", "vl-embed-model"},
    "rerank": {"rerank-model", "vl-rerank-model"},
    "speech2text": {"whisper"},
    "tts": {"tts-model"},
    "moderation": {"moderation-model"},
}
KEY = "sk-import-secret-5151"


@pytest.fixture(scope="module")
def fake_server(bake):
    """The fake server of a plugin baked with all six types, on 127.0.0.1: its URL."""
    plugin = bake("both-methods")
    process = subprocess.Popen(
        [sys.executable, "tests/fake_server.py", "--lifetime", "600"], cwd=plugin, stdout=subprocess.PIPE, text=True
    )
    try:
        yield f"http://127.0.0.1:{int(process.stdout.readline())}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def control(url: str, command: str, payload: dict | None = None) -> None:
    request = urllib.request.Request(
        f"{url}/_control/{command}", data=json.dumps(payload or {}).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()


def bake_cli(out: Path, *answers: str, key: str = "") -> subprocess.CompletedProcess:
    config = out.parent / "config.yaml"
    config.write_text(
        yaml.safe_dump({"cookiecutters_dir": str(out.parent / "cc"), "replay_dir": str(out.parent / "r")})
    )
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "MODEL_SERVER_API_KEY"}
    env |= {"MODEL_SERVER_API_KEY": key} if key else {}
    command = [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--no-input", "--output-dir", str(out)]
    command += ["--config-file", str(config), *answers]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("model_type", SIX)
def test_a_bake_imports_each_model_of_the_chosen_type(fake_server, tmp_path, sdk_report, model_type):
    control(fake_server, "reset")
    done = bake_cli(tmp_path / "out", f"model_types={model_type}", f"import_models_from={fake_server}")
    assert done.returncode == 0, done.stderr
    plugin = tmp_path / "out" / "xinference"
    folder = plugin / "models" / FOLDER[model_type]
    files = [p for p in folder.glob("*.yaml") if p.name != "_position.yaml"]
    assert {yaml.safe_load(p.read_text(encoding="utf-8"))["model"] for p in files} == SERVED[model_type]
    report = sdk_report(plugin)["providers"]["xinference"]  # each file validated by the SDK's AIModelEntity
    assert report["configurate_methods"] == ["predefined-model", "customizable-model"]
    assert sorted(report["predefined_models"]) == sorted(SERVED[model_type])
    assert sorted(report["position"][FOLDER[model_type]]) == sorted(SERVED[model_type])
    own = run_plugin_tests(plugin, "tests/test_plugin_files.py", "tests/test_refresh_models.py", "-k", "stdio or yaml")
    assert own.returncode == 0, own.stdout[-3000:]


@pytest.mark.parametrize(
    "case, expected",
    [
        ("unreachable", "got no answer"),
        ("refused key", "answered 401 (the API key was refused)"),
        ("empty list", "lists no models"),
    ],
)
def test_a_server_that_cannot_be_imported_stops_the_bake_and_leaves_nothing(fake_server, tmp_path, case, expected):
    control(fake_server, "reset")
    url = fake_server
    if case == "unreachable":
        url = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback here
    if case == "refused key":
        control(fake_server, "config", {"api_key": "the-right-key"})
    if case == "empty list":
        control(fake_server, "config", {"listed": []})
    done = bake_cli(tmp_path / "out", f"import_models_from={url}", key=KEY)
    control(fake_server, "reset")
    assert done.returncode == 1
    [line] = (done.stdout + done.stderr).splitlines()  # asked before any file exists: no hook traceback
    assert line.startswith("error: import_models_from: ") and expected in line, line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert KEY not in done.stdout + done.stderr
