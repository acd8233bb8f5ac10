"""Shared fixtures: the answer sets of the bake matrix, each baked once per session."""
# Never import dify_plugin in this process: it monkey-patches the stdlib with gevent, which
# breaks pytest-xdist. Everything that needs the SDK runs in a subprocess (tests/sdk_report.py).

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
ALL_TYPES = "llm,text-embedding,rerank,speech2text,tts,moderation"

DEFAULT_TYPES = ("llm", "text-embedding", "rerank")
SIX = ("llm", "text-embedding", "rerank", "speech2text", "tts", "moderation")
CUSTOM, PREDEF = ("customizable-model",), ("predefined-model",)


class AnswerSet:
    """Answers given to cookiecutter and what the baked plugin must then contain."""

    def __init__(self, answers: dict[str, str], types: tuple[str, ...], methods=CUSTOM, provider="xinference"):
        self.answers, self.types, self.methods, self.provider = answers, types, methods, provider


# The empty answer set is the plain `cookiecutter --no-input` bake.
ANSWER_SETS: dict[str, AnswerSet] = {
    "default": AnswerSet({}, DEFAULT_TYPES),
    **{f"only-{t}": AnswerSet({"model_types": t}, (t,)) for t in SIX},
    "all-six": AnswerSet({"model_types": ALL_TYPES}, SIX),
    "predefined": AnswerSet(
        {"configurate_method": "predefined-model", "model_types": "llm,text-embedding"},
        ("llm", "text-embedding"),
        PREDEF,
    ),
    "both-methods": AnswerSet({"configurate_method": "both", "model_types": ALL_TYPES}, SIX, PREDEF + CUSTOM),
    "mixed-yes-no": AnswerSet(
        {"with_llm": "no", "with_tts": "yes", "with_moderation": "y"}, ("text-embedding", "rerank", "tts", "moderation")
    ),
    "mixed-llm-rerank": AnswerSet(
        {"model_types": "rerank, llm", "provider_name": "my-llm_server"}, ("llm", "rerank"), provider="my-llm_server"
    ),
    "mixed-audio": AnswerSet(
        {"model_types": "speech2text,tts", "provider_name": "4paradigm", "provider_label": "4Paradigm"},
        ("speech2text", "tts"),
        provider="4paradigm",
    ),
    "marketplace": AnswerSet(
        {"repository_url": "https://github.com/acme/acme-dify-plugin", "contact": "ana@acme.example"}, DEFAULT_TYPES
    ),
    "blank-default": AnswerSet({"implementation": "blank"}, DEFAULT_TYPES),
    "blank-all-six": AnswerSet(
        {"implementation": "blank", "model_types": ALL_TYPES, "configurate_method": "both"}, SIX, PREDEF + CUSTOM
    ),
}


@pytest.fixture(scope="session")
def bake(cookies_session):
    """bake(name) -> path of the plugin baked from ANSWER_SETS[name], baked at most once."""
    baked: dict[str, Path] = {}

    def _bake(name: str) -> Path:
        if name not in baked:
            result = cookies_session.bake(extra_context=ANSWER_SETS[name].answers)
            assert result.exception is None, f"{name}: {result.exception}"
            assert result.exit_code == 0
            baked[name] = Path(result.project_path)
        return baked[name]

    return _bake


@pytest.fixture(scope="session")
def sdk_report():
    """sdk_report(plugin_dir) -> what the dify_plugin runtime loads from that plugin."""
    reports: dict[Path, dict] = {}

    def _report(plugin: Path) -> dict:
        if plugin not in reports:
            done = subprocess.run(
                [sys.executable, str(TEMPLATE / "tests" / "sdk_report.py")],
                cwd=plugin,
                capture_output=True,
                text=True,
                timeout=60,
                env=offline_env(),
            )
            assert done.returncode == 0, done.stderr[-3000:]
            reports[plugin] = json.loads(done.stdout)
        return reports[plugin]

    return _report


def registration(python: str | Path, plugin: Path, env: dict[str, str]) -> dict:
    """Start `python -m main` in `plugin` as Dify's daemon does; return the manifest it registers with."""
    process = subprocess.Popen(
        [str(python), "-m", "main"],
        cwd=plugin,
        env=env | {"INSTALL_METHOD": "local"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first_line = process.stdout.readline()
    finally:
        process.kill()
        _, stderr = process.communicate(timeout=30)
    assert first_line, f"{plugin.name} did not start: {stderr.decode(errors='replace')[-2000:]}"
    return json.loads(first_line)


def run_plugin_tests(plugin: Path, *args: str) -> subprocess.CompletedProcess:
    """The baked plugin's own pytest, offline, as its author runs it (none of this suite's pytest plugins)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *args],
        cwd=plugin,
        capture_output=True,
        text=True,
        timeout=600,
        env=offline_env(),
    )


def offline_env() -> dict[str, str]:
    """The environment for plugin processes: no proxies, nothing that could reach out."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _network_namespace_prefix() -> list[str]:
    """A command prefix that runs a program with loopback as its only network, if this machine allows it.

    `unshare -rn` creates a private network namespace (no route anywhere; `-r` makes it work
    without root where user namespaces are enabled); `ip link set lo up` gives it 127.0.0.1.
    """
    prefix = ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "offline"]
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return prefix if probe.returncode == 0 else []


NETWORK_NAMESPACE = _network_namespace_prefix()
