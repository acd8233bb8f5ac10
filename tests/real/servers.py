"""Start and stop the real model servers the real tier runs the baked plugin against.

Each server runs on 127.0.0.1 on a port picked at run time, inside `timeout` (so it dies by
itself if the test run is killed) and in its own process group (so stopping it stops every
process it started). Startup logs go to a file whose tail is shown when something fails.
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LIFETIME = int(os.environ.get("CDMP_REAL_LIFETIME", str(50 * 60)))  # seconds a server may live
START_LIMIT = 300.0  # seconds a server may take to answer after it was started
CALL_LIMIT = 120.0  # seconds any one setup request may take (model launches included)

# The Dify model types each server runs a model for in this tier.
TYPES = ("llm", "text-embedding", "rerank")


@dataclass
class RealServer:
    """A running real server: where it is, its API key and the model it runs for each type.

    `credentials(model_type, **extra)` gives the model credentials a Dify user would save for
    that type's model; `models` maps Dify model types to the ids the server knows them by.
    """

    name: str
    version: str
    url: str  # as a user types it into Dify: scheme, host and port, no /v1
    api_key: str
    models: dict[str, str]
    process: subprocess.Popen = field(repr=False)
    log: Path = field(repr=False)
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. "tokenizer": whether it has POST /tokenize

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def credentials(self, model_type: str, **extra: str) -> dict[str, str]:
        return {
            "server_url": self.url,
            "model_uid": self.models[model_type],
            "api_key": self.api_key,
            "request_timeout": "120",
            "max_retries": "0",
            **extra,
        }

    def stop(self) -> None:
        stop_group(self.process)


def free_port() -> int:
    """A loopback port nothing listens on right now (the server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_bounded(command: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Start `command` under `timeout LIFETIME` in a new process group, output to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            ["timeout", "-k", "10", str(LIFETIME), *command],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
    if process.poll() is not None:
        _kill_group(process.pid, signal.SIGKILL)  # children may outlive the leader
        return
    _kill_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    _kill_group(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def http(
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    timeout: float = CALL_LIMIT,
) -> tuple[int, Any]:
    """One JSON request with the stdlib (no proxies); returns (status, parsed body or text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def start_on_free_port(command, path: str, log: Path, env, cwd: Path | None = None, limit: float = START_LIMIT):
    """Start `command(port)` on a free port and wait until `path` answers; returns (process, url).

    The port is free when picked but another process may take it first: then try another one.
    """
    for attempt in range(3):
        port = free_port()
        process = start_bounded(command(port), log, env, cwd)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(process, f"{url}{path}", log, limit)
            return process, url
        except RuntimeError:
            stop_group(process)
            if attempt == 2 or not re.search(r"address already in use|couldn't bind|bind", tail(log), re.I):
                raise
    raise AssertionError("unreachable")


def wait_until_up(process: subprocess.Popen, url: str, log: Path, limit: float = START_LIMIT) -> None:
    """Wait until `url` answers anything over HTTP; fail with the log's tail if the server dies."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}:\n{tail(log)}")
        try:
            http("GET", url, timeout=5)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    raise RuntimeError(f"{url} did not answer within {limit:.0f} s:\n{tail(log)}")


def must(answer: tuple[int, Any], what: str, log: Path) -> Any:
    status, body = answer
    if status >= 400:
        raise RuntimeError(f"{what} answered {status}: {str(body)[:500]}\n{tail(log)}")
    return body


# --- Xinference ---------------------------------------------------------------------------------

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
XINFERENCE_UIDS = {"llm": "smollm2-chat", "text-embedding": "minilm-embed", "rerank": "minilm-rerank"}


def start_xinference(venv: Path, models: Path, home: Path) -> RealServer:
    """Xinference with auth on, an admin, an API key and the three models launched."""
    home.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        XINFERENCE_HOME=str(home),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        XINFERENCE_MODEL_SRC="huggingface",
        XINFERENCE_ENABLE_VIRTUAL_ENV="0",  # engines run in this venv; no per-model installs
        NO_PROXY="127.0.0.1,localhost",
    )
    xinference_local = [str(venv / "bin" / "xinference-local"), "--host", "127.0.0.1", "--port"]
    process, url = start_on_free_port(lambda port: [*xinference_local, str(port)], "/v1/cluster/auth", log, env)
    try:
        token = _xinference_admin(url, log)
        key = must(http("POST", f"{url}/v1/admin/keys", {"name": "real-tier"}, token), "create key", log)
        api_key = _find_key(key)
        _register_and_launch(url, token, models, log)
        version = must(http("GET", f"{url}/v1/cluster/version", token=token), "version", log)
    except BaseException:
        stop_group(process)
        raise
    return RealServer(
        name="xinference",
        version=str(version.get("version", version) if isinstance(version, dict) else version),
        url=url,
        api_key=api_key,
        models=dict(XINFERENCE_UIDS),
        process=process,
        log=log,
        facts={"admin_token": token, "tokenizer": False},
    )


def _xinference_admin(url: str, log: Path) -> str:
    """Set up the first admin with the one-time setup token from the log; return a JWT."""
    deadline = time.monotonic() + 60
    found = None
    while found is None and time.monotonic() < deadline:
        found = re.search(r"[Ss]etup token\W+([A-Za-z0-9_\-]{8,})", log.read_text(errors="replace"))
        if found is None:
            time.sleep(1)
    if found is None:
        raise RuntimeError(f"no setup token in Xinference's log:\n{tail(log)}")
    password = secrets.token_urlsafe(16)
    setup = {"setup_token": found.group(1), "username": "admin", "password": password}
    must(http("POST", f"{url}/v1/admin/setup", setup), "admin setup", log)
    body = must(http("POST", f"{url}/token", {"username": "admin", "password": password}), "login", log)
    return body["access_token"]


def _find_key(body: Any) -> str:
    """The `xf-...` key in the answer to POST /v1/admin/keys, wherever the version puts it."""
    text = json.dumps(body)
    found = re.search(r'"(xf-[^"]+)"', text)
    if not found:
        raise RuntimeError(f"no API key in the answer: {text[:300]}")
    return found.group(1)


def _register_and_launch(url: str, token: str, models: Path, log: Path) -> None:
    gguf = models / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    llm_spec = {
        "version": 2,
        "context_length": 8192,
        "model_name": XINFERENCE_UIDS["llm"],
        "model_lang": ["en"],
        "model_ability": ["chat", "generate"],
        "model_family": "other",
        "model_specs": [
            {
                "model_format": "ggufv2",
                "model_size_in_billions": "0_135",
                "quantization": "Q4_1",
                "model_uri": f"file://{gguf.parent}",
                "model_file_name_template": "SmolLM2-135M-Instruct.{quantization}.gguf",
            }
        ],
        "chat_template": CHATML,
        "stop_token_ids": [2],
        "stop": ["<|im_end|>"],
    }
    embedding_spec = {
        "version": 2,
        "model_name": XINFERENCE_UIDS["text-embedding"],
        "dimensions": 384,
        "max_tokens": 256,
        "language": ["en"],
        "model_specs": [
            {"model_format": "pytorch", "model_uri": f"file://{models / 'minilm'}", "quantization": "none"}
        ],
    }
    rerank_spec = {
        "version": 2,
        "model_name": XINFERENCE_UIDS["rerank"],
        "language": ["en"],
        "type": "normal",
        "max_tokens": 256,
        "model_specs": [
            {"model_format": "pytorch", "model_uri": f"file://{models / 'rerank'}", "quantization": "none"}
        ],
    }
    for kind, spec in (("LLM", llm_spec), ("embedding", embedding_spec), ("rerank", rerank_spec)):
        must(
            http("POST", f"{url}/v1/model_registrations/{kind}", {"model": json.dumps(spec), "persist": True}, token),
            f"register {spec['model_name']}",
            log,
        )
    launches = [
        {
            "model_uid": XINFERENCE_UIDS["llm"],
            "model_name": XINFERENCE_UIDS["llm"],
            "model_type": "LLM",
            "model_engine": "llama.cpp",
            "model_format": "ggufv2",
            "model_size_in_billions": "0_135",
            "quantization": "Q4_1",
            "n_ctx": 2048,
        },
        {
            "model_uid": XINFERENCE_UIDS["text-embedding"],
            "model_name": XINFERENCE_UIDS["text-embedding"],
            "model_type": "embedding",
            "model_engine": "sentence_transformers",
        },
        {
            "model_uid": XINFERENCE_UIDS["rerank"],
            "model_name": XINFERENCE_UIDS["rerank"],
            "model_type": "rerank",
            "model_engine": "sentence_transformers",
        },
    ]
    for launch in launches:
        must(http("POST", f"{url}/v1/models", launch, token, timeout=240), f"launch {launch['model_uid']}", log)


# --- llama.cpp's llama-server in router mode ------------------------------------------------------

LLAMA_IDS = {"llm": "smollm2", "text-embedding": "minilm", "rerank": "minilm-rerank"}
LLAMA_CONTEXT = {"llm": 2048, "text-embedding": 512, "rerank": 512}  # the last two: llama.cpp's defaults


def start_llama(llama: Path, models: Path, gguf: Path, work: Path) -> RealServer:
    """One router `llama-server` on one port serving the chat, embedding and rerank models."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "server.log"
    preset = work / "models.ini"
    preset.write_text(
        "version = 1\n\n"
        "[*]\nthreads = 1\nparallel = 1\nload-on-startup = true\n\n"
        f"[{LLAMA_IDS['llm']}]\nmodel = {models / 'smollm2' / 'SmolLM2-135M-Instruct.Q4_1.gguf'}\n"
        f"jinja = true\nthreads = 2\nc = {LLAMA_CONTEXT['llm']}\n\n"
        f"[{LLAMA_IDS['text-embedding']}]\nmodel = {gguf / 'minilm-f32.gguf'}\nembeddings = true\n\n"
        f"[{LLAMA_IDS['rerank']}]\nmodel = {gguf / 'rerank-f32.gguf'}\nreranking = true\n"
    )
    api_key = "sk-llama-" + secrets.token_hex(12)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["LLAMA_CACHE"] = str(work / "hub-cache")  # nothing is downloaded; keep it out of ~ anyway
    server = [str(llama / "bin" / "llama-server"), "--host", "127.0.0.1", "--api-key", api_key]
    options = ["--models-preset", str(preset), "--models-max", "3", "--no-webui"]
    process, url = start_on_free_port(
        lambda port: [*server, "--port", str(port), *options], "/health", log, env, cwd=work, limit=60
    )
    try:
        _wait_models_loaded(url, api_key, log)
        version = must(http("GET", f"{url}/props", token=api_key), "props", log)
    except BaseException:
        stop_group(process)
        raise
    build = version.get("build_info", "") if isinstance(version, dict) else ""
    return RealServer(
        name="llama.cpp",
        version=str(build or "unknown"),
        url=url,
        api_key=api_key,
        models=dict(LLAMA_IDS),
        process=process,
        log=log,
        facts={"context": dict(LLAMA_CONTEXT), "tokenizer": True},
    )


def _wait_models_loaded(url: str, api_key: str, log: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    states: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = must(http("GET", f"{url}/v1/models", token=api_key, timeout=10), "list models", log)
        states = {m.get("id"): (m.get("status") or {}).get("value") for m in body.get("data", [])}
        if all(states.get(uid) == "loaded" for uid in LLAMA_IDS.values()):
            return
        time.sleep(1)
    raise RuntimeError(f"llama-server models not loaded: {states}\n{tail(log)}")
