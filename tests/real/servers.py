"""Start and stop the real model servers the real tier runs the baked plugin against.

Each server runs on 127.0.0.1 on a port picked at run time, inside `timeout` (so it dies by
itself if the test run is killed) and in its own process group (so stopping it stops every
process it started). Startup logs go to a file whose tail is shown when something fails.
"""

import json
import os
import re
import secrets
import shutil
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
    A server that runs each model on its own port (llama.cpp here) has one URL per type in
    `urls`; `url` is then the chat model's, the one a provider-level check uses.
    """

    name: str
    version: str
    url: str  # as a user types it into Dify: scheme, host and port, no /v1
    api_key: str
    models: dict[str, str]
    process: subprocess.Popen = field(repr=False)
    log: Path = field(repr=False)
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. "tokenizer": whether it has POST /tokenize
    urls: dict[str, str] = field(default_factory=dict)  # model type -> its URL, where that differs from `url`

    def url_for(self, model_type: str) -> str:
        """The URL a Dify user saves for that type's model."""
        return self.urls.get(model_type, self.url)

    def address(self, model_type: str) -> str:
        """`127.0.0.1:PORT` of that type's model, as the plugin's messages name it."""
        return self.url_for(model_type).removeprefix("http://")

    def credentials(self, model_type: str, **extra: str) -> dict[str, str]:
        return {
            "server_url": self.url_for(model_type),
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
    """Start `command` under `timeout LIFETIME` in a new process group, output to `log`.

    `timeout` is found on this process's PATH, so `env` may give the server a PATH of its own.
    """
    with open(log, "ab") as out:
        return subprocess.Popen(
            [shutil.which("timeout") or "timeout", "-k", "10", str(LIFETIME), *command],
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
    """Start `command(port)` on a free port and wait until `path` answers; returns (process, url)."""
    process, [url] = start_on_free_ports(lambda ports: command(*ports), 1, path, log, env, cwd, limit)
    return process, url


def start_on_free_ports(command, count, path, log, env, cwd=None, limit: float = START_LIMIT, want=None):
    """Start `command(ports)` on `count` free ports and wait until `path` answers on each (with
    status `want`, if given); returns (process, urls).

    A port is free when picked but another process may take it first: then try other ones.
    """
    for attempt in range(3):
        ports = [free_port() for _ in range(count)]
        process = start_bounded(command(ports), log, env, cwd)
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            for url in urls:
                wait_until_up(process, f"{url}{path}", log, limit, want)
            return process, urls
        except RuntimeError:
            stop_group(process)
            if attempt == 2 or not re.search(r"address already in use|couldn't bind|bind", tail(log), re.I):
                raise
    raise AssertionError("unreachable")


def wait_until_up(process: subprocess.Popen, url: str, log: Path, limit: float = START_LIMIT, want=None) -> None:
    """Wait until `url` answers over HTTP (with status `want`, if given: llama.cpp's /health says
    503 while its model loads); fail with the log's tail if the server dies."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}:\n{tail(log)}")
        try:
            status, _ = http("GET", url, timeout=5)
            if want in (None, status):
                return
        except (urllib.error.URLError, OSError):
            pass
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


# --- llama.cpp's server, from the xllamacpp wheel: one per model, each on its own port ------------

LLAMA_IDS = {"llm": "smollm2", "text-embedding": "minilm", "rerank": "minilm-rerank"}
LLAMA_KINDS = {"llm": "chat", "text-embedding": "embedding", "rerank": "rerank"}
LLAMA_CONTEXT = {"llm": 2048, "text-embedding": 512, "rerank": 512}  # the last two: MiniLM's own
LLAMA_THREADS = {"llm": 2, "text-embedding": 1, "rerank": 1}
LAUNCHER = Path(__file__).with_name("llama_server.py")


def start_llama(venv: Path, models: Path, gguf: Path, work: Path) -> RealServer:
    """llama.cpp's server for the chat, embedding and rerank models, each on its own port."""
    files = {
        "llm": models / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf",
        "text-embedding": gguf / "minilm-f32.gguf",
        "rerank": gguf / "rerank-f32.gguf",
    }
    specs = {
        model_type: {
            "alias": LLAMA_IDS[model_type],
            "path": str(files[model_type]),
            "kind": LLAMA_KINDS[model_type],
            "context": LLAMA_CONTEXT[model_type],
            "threads": LLAMA_THREADS[model_type],
        }
        for model_type in TYPES
    }
    return start_llama_models(venv, specs, work)


def start_llama_models(venv: Path, specs: dict[str, dict[str, Any]], work: Path) -> RealServer:
    """tests/real/llama_server.py in the xllamacpp venv, serving `specs` (Dify model type -> the
    model's alias, path, kind, context, threads and optional chat_template), API key on."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "server.log"
    api_key = "sk-llama-" + secrets.token_hex(12)
    spec_file = work / "spec.json"  # holds the key: owner-only, like a config file would be
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["LLAMA_CACHE"] = str(work / "hub-cache")  # nothing is downloaded; keep it out of ~ anyway

    def command(ports: list[int]) -> list[str]:
        models = [{**spec, "port": port} for spec, port in zip(specs.values(), ports, strict=True)]
        spec_file.touch(mode=0o600)
        spec_file.write_text(json.dumps({"api_key": api_key, "models": models}))
        return [str(venv / "bin" / "python"), str(LAUNCHER), str(spec_file)]

    process, urls = start_on_free_ports(command, len(specs), "/health", log, env, cwd=work, want=200)
    try:
        launcher = _wait_ready(process, log)
        props = must(http("GET", f"{urls[0]}/props", token=api_key), "props", log)
    except BaseException:
        stop_group(process)
        raise
    build = props.get("build_info", "unknown") if isinstance(props, dict) else "unknown"
    by_type = dict(zip(specs, urls, strict=True))
    return RealServer(
        name="llama.cpp",
        version=f"{launcher} ({build})",  # e.g. "xllamacpp 2026.10.11549 (b0-unknown)"
        url=urls[0],
        api_key=api_key,
        models={model_type: spec["alias"] for model_type, spec in specs.items()},
        process=process,
        log=log,
        facts={
            "context": {model_type: spec["context"] for model_type, spec in specs.items()},
            "tokenizer": True,
            "one_model_per_port": True,  # and each answers any model id with its one model
        },
        urls=by_type,
    )


def _wait_ready(process: subprocess.Popen, log: Path, limit: float = 30.0) -> str:
    """`xllamacpp VERSION` from the launcher's `ready:` line, printed once every server listens."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = re.search(r"^ready: (xllamacpp \S+)$", log.read_text(errors="replace"), re.M)
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"the llama.cpp launcher never said it was ready:\n{tail(log)}")
