"""The real-server tier: the baked plugin over the SDK's stdio runtime against real model servers.

Fixtures for tests in this folder:

- `real_server`: parametrized over the servers of the default plugin's model types ("xinference",
  "llama.cpp"; and "gateway", LiteLLM's proxy in front of the other real servers, in a case
  marked `@pytest.mark.gateway`); a
  servers.RealServer with `url`, `api_key`, `models` (Dify model type -> the id the server knows
  it by), `version`, and `credentials(model_type, **extra)` giving the model credentials a Dify
  user would save. llama.cpp runs each model on its own port: `url_for(model_type)` and
  `address(model_type)` give that model's URL and `127.0.0.1:PORT` (one URL for every type on
  the others). `xinference`, `llama_cpp` and `gateway` give one server each; `whisper`
  (faster-whisper-server), `piper` and `piper_ffmpeg` (local-tts-studio without and with an
  ffmpeg) are the speech servers. All are started once per session, on 127.0.0.1, on ports
  picked at run time, and stopped at the end of the session.
- `real_plugin`: the default plugin (llm, text-embedding, rerank), baked once, running as
  `python -m main` over stdio exactly as the Dify daemon runs it (its scripts/check/plugin.py);
  `real_plugin.call(action, **data)` returns (streamed results, error or None).
  `real_speech_plugin`: the same for a plugin baked with speech2text and tts.
- `validated(plugin, server, model_type, **extra)`: validates that model as Dify does and
  returns the credentials Dify would store.

A new real-server test is a function taking `real_server` and `real_plugin`, in a module here
that sets `pytestmark = pytest.mark.real`: `tests/run.sh` runs the `real` tests in one process
after the rest (so each server starts once per run), and `--fast` leaves them out. Everything the
servers need is built once into a cache outside the clone (tests/real/cache.py).
"""

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from real import cache, gateway, servers, speech

SERVERS = ("xinference", "llama.cpp", "gateway")  # `real_server`'s parameters in a case marked `gateway`
DIRECT_SERVERS = SERVERS[:2]  # ...and in any other case
SPEECH_SERVERS = ("faster-whisper-server", "piper-ffmpeg", "piper")  # ...and the speech tests' (test_real_speech.py)


_outcomes: dict[str, dict[str, str]] = {}  # case -> {server or "-": outcome}


def pytest_runtest_logreport(report):
    """Remember each real-tier case's outcome, by server, for the table printed at the end."""
    if "tests/real/" not in report.nodeid or (report.when != "call" and report.passed):
        return
    name, _, params = report.nodeid.split("::", 1)[1].partition("[")
    server = next((s for s in (*SERVERS, *SPEECH_SERVERS) if params.startswith(s)), "-")
    rest = params.removeprefix(server).strip("-]")
    case = f"{name}[{rest}]" if rest else name
    if hasattr(report, "wasxfail"):  # a finding (expect_finding); a strict one that passes is a failure
        outcome = "xfailed" if report.skipped else "xpassed"
    else:
        outcome = "skipped" if report.skipped else ("passed" if report.passed else "FAILED")
    cell = _outcomes.setdefault(case, {})
    if not cell.get(server, "").startswith("FAILED"):
        cell[server] = outcome


def pytest_terminal_summary(terminalreporter):
    if not _outcomes:
        return
    terminalreporter.section("real-server cases")
    for case, cells in _outcomes.items():
        row = "  ".join(f"{server}: {cells[server]}" for server in ("-", *SERVERS, *SPEECH_SERVERS) if server in cells)
        terminalreporter.write_line(f"{case}  {row}")


@pytest.fixture(scope="session")
def real_workdir():
    folder = Path(tempfile.mkdtemp(prefix="cdmp-real-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def real_models():
    return cache.models()


@pytest.fixture(scope="session")
def xinference(real_models, real_workdir):
    server = servers.start_xinference(cache.xinference(), real_models, real_workdir / "xinference")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llama_cpp(real_models, real_workdir):
    server = servers.start_llama(cache.llama_cpp(), real_models, cache.gguf_models(), real_workdir / "llama.cpp")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def speech_models():
    return cache.speech_models()


@pytest.fixture(scope="session")
def whisper(speech_models, real_workdir):
    server = speech.start_whisper(cache.speech(), speech_models, real_workdir / "whisper")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def piper(speech_models, real_workdir):
    server = speech.start_piper(cache.speech(), speech_models, real_workdir / "piper", ffmpeg=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def piper_ffmpeg(speech_models, real_workdir):
    server = speech.start_piper(cache.speech(), speech_models, real_workdir / "piper-ffmpeg", ffmpeg=True)
    yield server
    server.stop()


@pytest.fixture(scope="session", name="gateway")
def gateway_server(xinference, llama_cpp, whisper, piper_ffmpeg, real_workdir):
    """LiteLLM's proxy: llm and text-embedding to llama.cpp, rerank to Xinference, speech to the
    speech servers (tests/real/gateway.py)."""
    backends = {
        "llm": llama_cpp,
        "text-embedding": llama_cpp,
        "rerank": xinference,
        "speech2text": whisper,
        "tts": piper_ffmpeg,
    }
    server = gateway.start_litellm(cache.gateway(), backends, real_workdir / "gateway")
    yield server
    server.stop()


FIXTURES = {"xinference": "xinference", "llama.cpp": "llama_cpp", "gateway": "gateway"}


def pytest_generate_tests(metafunc):
    """`real_server` is each model server in turn, and the gateway too for a case marked
    `gateway`: one that proves what the servers alone do not (the gateway's routing of each type,
    its description of models, its refusal of a key); the rest would only repeat its backends."""
    if "real_server" in metafunc.fixturenames:
        names = SERVERS if metafunc.definition.get_closest_marker("gateway") else DIRECT_SERVERS
        metafunc.parametrize("real_server", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def real_server(request):
    return request.getfixturevalue(FIXTURES[request.param])


def stdio_plugin(plugin_dir: Path):
    """The plugin in `plugin_dir` running as `python -m main`, driven by its scripts/check/plugin.py."""
    spec = importlib.util.spec_from_file_location("real_stdio_plugin", plugin_dir / "scripts" / "check" / "plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    return module.PluginProcess()


@pytest.fixture(scope="session")
def real_plugin(bake):
    running = stdio_plugin(bake("default"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def real_speech_plugin(bake):
    running = stdio_plugin(bake("mixed-audio"))  # speech2text and tts (tests/conftest.py)
    yield running
    running.stop()


def needs_model_routing(server: servers.RealServer) -> None:
    """Skip a case about unknown model ids on a server that runs one model per port: llama.cpp's
    single-model server answers any model id with its one model (its router mode, which refuses
    unknown ids, needs the llama-server binary; docs/real-servers.md)."""
    if server.facts.get("one_model_per_port"):
        pytest.skip(f"{server.name} runs one model per port and answers any model id with it")


def key_refusal(server: servers.RealServer) -> int:
    """The status `server` answers a wrong API key with: 401, or its `facts["key_refusal"]`."""
    return server.facts.get("key_refusal", 401)


def expect_finding(request, server: servers.RealServer, topic: str) -> None:
    """Mark the running case as failing on `server` for the reason its `facts["findings"][topic]`
    records (a finding: what the plugin sent, what the server answered, which module). The mark is
    strict, so once the plugin is changed and the case passes, it fails until the finding is
    removed."""
    reason = server.facts.get("findings", {}).get(topic)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{server.name}: {reason}"))


def validated(plugin, server: servers.RealServer, model_type: str, **extra: str) -> dict:
    """Validate the server's model of `model_type` as Dify does; return the credentials Dify stores."""
    results, error = plugin.call(
        "validate_model_credentials",
        model_type=model_type,
        model=f"{model_type}-model",
        credentials=server.credentials(model_type, **extra),
    )
    assert error is None, error
    assert results and results[0]["result"] is True, results
    return results[0]["credentials"]
