"""Benchmarks: each figure is a median over repeated runs, printed next to its floor measured
in the same run, with the ratio. Run with `bash benchmarks/run.sh` (options: --repeat N,
--only SECTIONS, --real cached|build|skip). Nothing here asserts a timing: it prints figures
and the targets beside them.
"""

import argparse
import json
import math
import os
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from loopback import sent_ns

TEMPLATE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COOKIECUTTER = str(BIN / "cookiecutter")
ROWS: list[tuple[str, str, str, str, str, str]] = []


def median_of(repeat: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeat))


def paired(repeat: int, floor: Callable[[], float], value: Callable[[], float]) -> tuple[float, float]:
    """Medians of `floor` and `value` run in turns, so that a change in the machine's load while
    they run weighs on both alike."""
    runs = [(floor(), value()) for _ in range(repeat)]
    return statistics.median(f for f, _ in runs), statistics.median(v for _, v in runs)


def row(name: str, value: float, floor: float | None, unit: str, target: str, limit: str = "") -> None:
    """One line of the table; `limit` says what was measured to limit it (CPU shares of one core)."""
    ratio = f"{value / floor:.2f}x" if floor else "-"
    floor_text = f"{floor:,.3f}" if floor is not None else "-"
    value_text = "-" if math.isnan(value) else f"{value:,.3f} {unit}"
    ROWS.append((name, value_text, f"{floor_text} {unit}" if floor is not None else "-", ratio, target, limit))
    print(f"  {name}: {value_text} (floor {floor_text}, {ratio}) {limit}", flush=True)


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


# -- bake -------------------------------------------------------------------------------------
def one_file_template(root: Path) -> Path:
    template = root / "floor-template"
    (template / "{{cookiecutter.name}}").mkdir(parents=True)
    (template / "cookiecutter.json").write_text('{"name": "floor"}\n')
    (template / "{{cookiecutter.name}}" / "README.md").write_text("# {{ cookiecutter.name }}\n")
    return template


def timed_bake(template: Path, out: Path, *answers: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([COOKIECUTTER, str(template), "--no-input", "-o", str(out), *answers], check=True, env=offline_env())
    return time.perf_counter() - start


def bake_parts(work: Path, repeat: int) -> str:
    """Where a default bake's time goes beyond the floor's, measured in this process: rendering
    the template's files, and the two hooks (each a new Python process)."""
    from cookiecutter.main import cookiecutter

    def bake(template: Path, hooks: bool) -> float:
        shutil.rmtree(work / "parts", ignore_errors=True)
        start = time.perf_counter()
        cookiecutter(str(template), no_input=True, output_dir=str(work / "parts"), accept_hooks=hooks)
        return time.perf_counter() - start

    bake(TEMPLATE, True)  # warm the file cache, as the CLI rows had it
    floor = median_of(repeat, lambda: bake(work / "floor-template", True))
    bare = median_of(repeat, lambda: bake(TEMPLATE, False))
    full = median_of(repeat, lambda: bake(TEMPLATE, True))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import cookiecutter.cli"], check=True)
    cli = time.perf_counter() - started
    return (
        f"in one process: rendering {bare - floor:.2f} s more than the floor, the two hooks {full - bare:.2f} s; "
        f"starting Python and importing cookiecutter {cli:.2f} s"
    )


def bench_bake(work: Path, repeat: int) -> None:
    print("bake (cookiecutter CLI, seconds)", flush=True)
    floor_template = one_file_template(work)
    meters = {name: Meter(cookiecutter=0) for name in ("floor", "default", "six")}
    with meters["floor"]:
        floor = median_of(repeat, lambda: timed_bake(floor_template, work / "floor-out"))
    with meters["default"]:
        default = median_of(repeat, lambda: timed_bake(TEMPLATE, work / "bake-default"))
    six = "model_types=llm,text-embedding,rerank,speech2text,tts,moderation"
    with meters["six"]:
        all_six = median_of(repeat, lambda: timed_bake(TEMPLATE, work / "bake-six", six))
    parts = bake_parts(work, repeat)
    floor_share = f"floor: {meters['floor'].text()}"
    row("bake default answers", default, floor, "s", "<= 1.5x", f"{meters['default'].text()}; {floor_share}; {parts}")
    row("bake all six types", all_six, floor, "s", "<= 1.5x", f"{meters['six'].text()}; {floor_share}")


# -- template suite ---------------------------------------------------------------------------
def bench_suite() -> None:
    print("template test suite without the real-server tier (one run, seconds)", flush=True)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "-m", "not real"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    print("  " + (done.stdout.strip().splitlines() or ["(no output)"])[-1])
    row("template suite wall time", elapsed, None, "s", "<= 120 s")


# -- plugin processes -------------------------------------------------------------------------
def minimal_plugin(root: Path) -> Path:
    """The floor: a plugin with nothing in it, started by the same main.py."""
    plugin = root / "minimal-plugin"
    (plugin / "_assets").mkdir(parents=True)
    (plugin / "_assets" / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    manifest = {
        "version": "0.0.1",
        "type": "plugin",
        "author": "bench",
        "name": "minimal",
        "label": {"en_US": "Minimal"},
        "description": {"en_US": "Minimal"},
        "icon": "icon.svg",
        "created_at": "2026-01-01T00:00:00Z",
        "resource": {"memory": 268435456},
        "plugins": {},
        "meta": {
            "version": "0.0.1",
            "arch": ["amd64"],
            "runner": {"language": "python", "version": "3.12", "entrypoint": "main"},
        },
    }
    (plugin / "manifest.yaml").write_text(json.dumps(manifest))
    (plugin / "main.py").write_text(
        "from dify_plugin import DifyPluginEnv, Plugin\n\nplugin = Plugin(DifyPluginEnv())\n\n"
        'if __name__ == "__main__":\n    plugin.run()\n'
    )
    return plugin


def time_to_registration(plugin: Path) -> float:
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "main"],
        cwd=plugin,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=offline_env() | {"INSTALL_METHOD": "local"},
    )
    line = process.stdout.readline()
    elapsed = time.perf_counter() - start
    process.kill()
    process.wait()
    assert line.startswith(b"{"), line[:200]
    return elapsed


def bench_start(work: Path, plugin: Path, repeat: int) -> None:
    print("plugin cold start to registration line (seconds)", flush=True)
    floor_plugin = minimal_plugin(work)
    floor_meter, meter = Meter(plugin=0), Meter(plugin=0)

    def floor_run() -> float:
        with floor_meter:
            return time_to_registration(floor_plugin)

    def run() -> float:
        with meter:
            return time_to_registration(plugin)

    floor, value = paired(repeat, floor_run, run)
    row("plugin start (default plugin)", value, floor, "s", "<= 1.05x", f"{meter.text()}; floor: {floor_meter.text()}")


def peak_rss_mb(pid: int) -> float:
    return rss_mb(pid, "VmHWM")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith(f"{field}:"))


# -- which process limits a row: CPU seconds each one spends while it runs ----------------------
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by process `pid`, by this process (None), by its
    child processes that ended (0), or by every process of the group -`pid` (a negative number:
    a real server and its workers)."""
    if pid is None or pid == 0:
        times = os.times()
        return times.user + times.system if pid is None else times.children_user + times.children_system
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat") if pid < 0 else [Path(f"/proc/{pid}/stat")]:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if pid > 0 or int(fields[2]) == -pid:  # fields[2]: the process group
            total += (int(fields[11]) + int(fields[12])) / TICK  # utime and stime
    return total


class Meter:
    """Share of one core each named process used during a `with` block (None: this process)."""

    def __init__(self, **pids: int | None) -> None:
        self.pids = pids
        self.shares: dict[str, float] = {}

    def __enter__(self) -> "Meter":
        self.start = time.perf_counter()
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.start
        for name, pid in self.pids.items():
            self.shares[name] = (cpu_seconds(pid) - self.before[name]) / wall

    def add(self, name: str, cpu: float, wall: float) -> None:
        self.shares[name] = cpu / wall

    def text(self) -> str:
        return ", ".join(f"{name} {share:.0%}" for name, share in self.shares.items())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


# -- the benchmark's loopback server ------------------------------------------------------------
class Loopback:
    """benchmarks/loopback.py in its own process."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(TEMPLATE / "benchmarks" / "loopback.py"), *args], stdout=subprocess.PIPE, text=True
        )
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"
        self.http = httpx.Client(timeout=60)

    def config(self, **settings: object) -> dict:
        """Change the settings; returns them with the most embedding requests in at once since the last call."""
        return self.http.post(f"{self.url}/_config", json=settings).json()

    def stop(self) -> None:
        self.http.close()
        self.process.kill()
        self.process.wait()


# -- the plugin, driven as the Dify daemon drives it -----------------------------------------------
class Daemon:
    """`python -m main` of a baked plugin in local mode, JSON lines over stdio, as the Dify daemon
    runs it. The caller's thread reads the plugin's output itself as it arrives (no reader thread
    handing lines over under the GIL), so that the reading side never makes the plugin wait on a
    full pipe; requests go out from one writer thread, so that sending many never blocks reading.
    """

    def __init__(self, plugin: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "main"],
            cwd=plugin,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=offline_env() | {"INSTALL_METHOD": "local"},
            bufsize=1 << 20,
        )
        self.outgoing: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._write, daemon=True).start()
        self.registration = self.message()

    def _write(self) -> None:
        while True:
            self.process.stdin.write(self.outgoing.get())
            self.process.stdin.flush()

    def send(self, action: str, requests: list[dict]) -> list[str]:
        """Send one request per item of `requests` (its data); returns their session ids."""
        sessions = [uuid.uuid4().hex for _ in requests]
        lines = [
            json.dumps(
                {
                    "session_id": session,
                    "event": "request",
                    "data": {"type": "model", "action": action, "user_id": "bench", "provider": "xinference"} | data,
                }
            ).encode()
            + b"\n"
            for session, data in zip(sessions, requests, strict=True)
        ]
        self.outgoing.put(b"".join(lines))
        return sessions

    def message(self) -> dict:
        """The next message the plugin writes (the plugin is killed if it writes none for 120 s)."""
        watchdog = threading.Timer(120, self.process.kill)
        watchdog.start()
        try:
            line = b""
            while not line.strip():
                line = self.process.stdout.readline()
                if not line:
                    raise RuntimeError("the plugin ended or wrote nothing for 120 s")
            return json.loads(line)
        finally:
            watchdog.cancel()

    def call(self, action: str, **data: object) -> tuple[list, dict | None]:
        """One request; (its streamed results, its error or None) once its session ends."""
        (session,) = self.send(action, [data])
        results, error = [], None
        while True:
            message = self.message()
            if message.get("session_id") != session or message.get("event") != "session":
                continue  # heartbeats and logs
            kind, payload = message["data"]["type"], message["data"]["data"]
            if kind == "stream":
                results.append(payload)
            elif kind == "error":
                error = payload
            elif kind == "end":
                return results, error

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


# -- streams ------------------------------------------------------------------------------------
def chat_credentials(url: str) -> dict[str, str]:
    return {
        "server_url": url,
        "model_uid": "chat-model",
        "request_timeout": "60",
        "max_retries": "0",
        "context_size": "8192",
        "max_tokens": "4096",
    }


CHAT = {
    "model_type": "llm",
    "model": "chat-model",
    "prompt_messages": [{"role": "user", "content": "go"}],
    "model_parameters": {},
    "stop": None,
    "tools": None,
    "stream": True,
}


def direct_stream(url: str) -> tuple[int, list[float]]:
    """One stream read with httpx as a client that uses each event would: (events, latencies in ms)."""
    latencies: list[float] = []
    payload = {"model": "chat-model", "messages": [{"role": "user", "content": "go"}], "stream": True}
    with httpx.Client(timeout=60) as client, client.stream("POST", f"{url}/v1/chat/completions", json=payload) as got:
        for line in got.iter_lines():
            if line.startswith("data:") and line != "data: [DONE]":
                event = json.loads(line[5:])
                received = time.monotonic_ns()
                content = (event.get("choices") or [{}])[0].get("delta", {}).get("content")
                if content:
                    latencies.append((received - sent_ns(content)) / 1e6)
    return len(latencies), latencies


def relayed_streams(daemon: Daemon, credentials: dict, count: int) -> tuple[int, int, list[float], int]:
    """`count` streams through the plugin at once, as the daemon sends them: (chunks, errors,
    latencies in ms, stream messages the plugin wrote: fewer than chunks where it joined them)."""
    pending = set(daemon.send("invoke_llm", [CHAT | {"credentials": credentials}] * count))
    chunks = errors = messages = 0
    latencies: list[float] = []
    while pending:
        message = daemon.message()
        received = time.monotonic_ns()
        if message.get("session_id") not in pending or message.get("event") != "session":
            continue
        kind = message["data"]["type"]
        if kind == "stream":
            messages += 1
            content = message["data"]["data"]["delta"]["message"].get("content") or ""
            for word in content.split():  # events the plugin joined into one chunk: each one counts
                latencies.append((received - sent_ns(word)) / 1e6)
                chunks += 1
        elif kind == "error":
            errors += 1
        elif kind == "end":
            pending.discard(message["session_id"])
    return chunks, errors, latencies, messages


def bench_streams(plugin: Path, repeat: int) -> None:
    server = Loopback()
    daemon = Daemon(plugin)
    pids = {"server": server.process.pid, "plugin": daemon.process.pid, "bench": None}
    credentials = chat_credentials(server.url)
    try:
        chunks = 2000
        print(f"stream relay over stdio ({chunks:,} events as fast as the server writes them)", flush=True)
        server.config(chunks=chunks, interval_ms=0)
        floor_meter, relay_meter = Meter(**pids), Meter(**pids)

        def direct() -> float:
            with floor_meter:
                start = time.perf_counter()
                got, _ = direct_stream(server.url)
                elapsed = time.perf_counter() - start
            assert got == chunks, got
            return elapsed

        written = []

        def relayed() -> float:
            with relay_meter:
                start = time.perf_counter()
                got, errors, _, messages = relayed_streams(daemon, credentials, 1)
                elapsed = time.perf_counter() - start
            assert (got, errors) == (chunks, 0), (got, errors)
            written.append(messages)
            return elapsed

        floor, value = paired(repeat, direct, relayed)
        joined = f"{statistics.median(written):,.0f} messages for {chunks:,} events"
        limit = f"{relay_meter.text()}; {joined}"
        row("stream relay, chunks/s", chunks / value, chunks / floor, "chunks/s", "-", limit)
        added = (value - floor) / chunks * 1000
        row("stream relay, added ms per chunk", added, None, "ms", "<= 0.05 ms", f"floor: {floor_meter.text()}")

        per_stream, interval = 100, 20
        print(f"concurrent streams, {per_stream} events each, one every {interval} ms per stream", flush=True)
        server.config(chunks=per_stream, interval_ms=interval)
        for count in (1, 16, 128, 256):
            floor_runs, relay_runs = [], []  # (chunks/s, errors, latencies, messages) of each run
            for _ in range(min(repeat, 3)):  # in turns, as paired() does
                meter = Meter(server=server.process.pid)
                with meter:
                    done = subprocess.run(
                        [sys.executable, str(TEMPLATE / "benchmarks" / "direct.py"), server.url, str(count)],
                        capture_output=True,
                        text=True,
                        check=True,
                        env=offline_env(),
                    )
                floor_run = json.loads(done.stdout)
                meter.add("client", floor_run["cpu"], floor_run["wall"])
                floor_runs.append(
                    (floor_run["chunks"] / floor_run["wall"], floor_run["errors"], floor_run["latencies"])
                )
                relay_meter = Meter(**pids)
                with relay_meter:
                    start = time.perf_counter()
                    got, errors, latencies, messages = relayed_streams(daemon, credentials, count)
                    wall = time.perf_counter() - start
                relay_runs.append((got / wall, errors, latencies, messages, got))
            name = f"{count} streams"
            row(
                f"{name}: chunks/s",
                statistics.median(run[0] for run in relay_runs),
                statistics.median(run[0] for run in floor_runs),
                "chunks/s",
                ">= 0.9x" if count == 256 else "-",
                f"{relay_meter.text()}; {messages:,} messages; floor: {meter.text()} (shares, messages: last run)",
            )
            latencies = [latency for run in relay_runs for latency in run[2]]
            floor_latencies = [latency for run in floor_runs for latency in run[2]]
            for label, fraction in (("p50", 0.5), ("p99", 0.99)):
                base = percentile(floor_latencies, fraction)
                row(
                    f"{name}: {label} added latency",
                    percentile(latencies, fraction) - base,
                    None,
                    "ms",
                    "-",
                    f"floor {label} {base:.2f} ms",
                )
            received = sum(run[4] for run in relay_runs)
            row(
                f"{name}: errors",
                sum(run[1] for run in relay_runs),
                sum(run[1] for run in floor_runs),
                "errors",
                "0",
                f"chunks {received:,} of {count * per_stream * len(relay_runs):,}, all runs",
            )
    finally:
        daemon.stop()
        server.stop()


# -- embeddings ---------------------------------------------------------------------------------
def direct_embed(url: str, texts: list[str], batch: int, model: str, api_key: str = "", at_once: int = 1) -> float:
    """A direct client: `at_once` batches at a time (1: one after the other), each answer parsed;
    returns seconds."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    batches = [texts[at : at + batch] for at in range(0, len(texts), batch)]
    start = time.perf_counter()
    with httpx.Client(timeout=120, headers=headers) as client:

        def embed(inputs: list[str]) -> None:
            got = client.post(f"{url}/v1/embeddings", json={"model": model, "input": inputs})
            got.raise_for_status()
            assert len(got.json()["data"]) == len(inputs)

        if at_once == 1:
            for inputs in batches:
                embed(inputs)
        else:
            with ThreadPoolExecutor(at_once) as pool:
                list(pool.map(embed, batches))
    return time.perf_counter() - start


def relayed_embed(daemon: Daemon, credentials: dict, texts: list[str], model: str) -> float:
    start = time.perf_counter()
    results, error = daemon.call(
        "invoke_text_embedding",
        model_type="text-embedding",
        model=model,
        credentials=credentials,
        texts=texts,
        input_type="document",
    )
    assert error is None, error
    assert len(results[0]["embeddings"]) == len(texts)
    return time.perf_counter() - start


def embedding_rows(
    name: str,
    daemon: Daemon,
    url: str,
    credentials: dict,
    texts: list[str],
    target: str,
    repeat: int,
    pids: dict,
    api_key: str = "",
    settle: Callable[[], str] = lambda: "",
) -> None:
    batch = int(credentials["max_chunks"])
    model = credentials["model_uid"]
    at_once = int(credentials.get("parallel_requests") or 2)  # the plugin's default
    floor_meter, relay_meter = Meter(**pids), Meter(**pids)

    def floor_run() -> float:
        with floor_meter:
            return direct_embed(url, texts, batch, model, api_key)

    def relay_run() -> float:
        with relay_meter:
            return relayed_embed(daemon, credentials, texts, model)

    relay_run()  # warm: connections, the plugin's tokenizer probe
    floor, value = paired(repeat, floor_run, relay_run)
    extra = settle()
    # What `at_once` requests in flight give at best: a direct client sending them so.
    best = median_of(max(1, repeat // 2), lambda: direct_embed(url, texts, batch, model, api_key, at_once))
    row(
        f"embeddings, {name}",
        len(texts) / value,
        len(texts) / floor,
        "texts/s",
        target,
        f"{relay_meter.text()}{extra}; floor: {floor_meter.text()}; "
        f"a direct client {at_once} at once: {len(texts) / best:,.0f} texts/s",
    )


def bench_embeddings(plugin: Path, repeat: int, real: str) -> None:
    daemon = Daemon(plugin)
    texts = [f"short text number {i}" for i in range(2000)]
    server = Loopback()
    pids = {"server": server.process.pid, "plugin": daemon.process.pid, "bench": None}
    credentials = {
        "server_url": server.url,
        "model_uid": "embed-model",
        "request_timeout": "60",
        "max_retries": "0",
        "max_chunks": "32",
        "context_size": "512",
    }
    parallel, serial = {"serial": False}, {"serial": True}
    try:
        for name, settings, target, count, extra in (
            ("parallel-capacity loopback, 20 ms a request", parallel | {"embed_ms": 20}, ">= 1.5x", 2000, {}),
            ("serialised loopback, 20 ms a request", serial | {"embed_ms": 20}, ">= 0.9x", 2000, {}),
            ("parallel-capacity loopback, 100 ms a request", parallel | {"embed_ms": 100}, ">= 1.5x", 512, {}),
            (
                "parallel-capacity loopback, 20 ms a request, parallel_requests 4",
                parallel | {"embed_ms": 20},
                "-",
                2000,
                {"parallel_requests": "4"},
            ),
            ("instant loopback (the relay's own cost)", parallel | {"embed_ms": 0}, "-", 2000, {}),
        ):
            print(f"embedding {count:,} short texts, 384 dimensions, 32 a request: {name}", flush=True)
            server.config(**settings)
            embedding_rows(
                name,
                daemon,
                server.url,
                credentials | extra,
                texts[:count],
                target,
                repeat,
                pids,
                settle=lambda: f"; in flight at most {server.config()['peak']}",
            )
    finally:
        server.stop()
    try:
        bench_real_embeddings(daemon, repeat, real)
    finally:
        daemon.stop()


def bench_real_embeddings(daemon: Daemon, repeat: int, real: str) -> None:
    """The same against the real servers of tests/real (docs/real-servers.md), if their cache is built."""
    sys.path.append(str(TEMPLATE / "tests"))  # last: the plugin's tests/conftest.py stays the one imported
    from real import cache, servers

    if real == "skip":
        row("embeddings, real servers", math.nan, None, "texts/s", "-", "left out (--real skip)")
        return
    if real == "cached":

        def only_finished(name: str, make: Callable[[Path], None]) -> Path:
            folder = cache.cache_root() / name
            if not (folder / ".complete").exists():
                raise FileNotFoundError(folder)
            return folder

        cache.entry = only_finished
    texts = [f"short text number {i}" for i in range(256)]  # about 3 s a run on these CPU servers
    work = Path(tempfile.mkdtemp(prefix="dify-bench-real-"))
    starts = {
        "llama.cpp": lambda: servers.start_llama(
            cache.llama_cpp(), cache.models(), cache.gguf_models(), work / "llama"
        ),
        "xinference": lambda: servers.start_xinference(cache.xinference(), cache.models(), work / "xinference"),
    }
    try:
        for name, start in starts.items():
            print(f"embedding {len(texts)} short texts on real {name}, 32 a request", flush=True)
            try:
                server = start()
            except FileNotFoundError as missing:
                row(
                    f"embeddings, real {name}",
                    math.nan,
                    None,
                    "texts/s",
                    "-",
                    f"skipped: the real tier's cache is missing {missing} (build: --real build)",
                )
                continue
            try:
                credentials = server.credentials("text-embedding", max_chunks="32")
                pids = {"server": -server.process.pid, "plugin": daemon.process.pid, "bench": None}
                embedding_rows(
                    f"real {name} {server.version}"[:60],
                    daemon,
                    server.url_for("text-embedding"),
                    credentials,
                    texts,
                    "-",
                    min(repeat, 3),
                    pids,
                    api_key=server.api_key,
                )
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- the SDK's share of every relay row ------------------------------------------------------------
def bench_sdk(repeat: int) -> None:
    """The SDK's cost of writing an answer to the daemon (benchmarks/sdk_cost.py), which no plugin
    can change, against `json.dumps` of the same content."""
    texts, dims = 2000, 384
    print(f"the SDK writing answers to the daemon: one of {texts:,} x {dims} embeddings, stream chunks", flush=True)
    done = subprocess.run(
        [sys.executable, str(TEMPLATE / "benchmarks" / "sdk_cost.py"), str(texts), str(dims), str(repeat)],
        capture_output=True,
        text=True,
        check=True,
    )
    cost = json.loads(done.stdout)
    row(
        f"SDK: one answer of {texts:,} x {dims} embeddings to its stdout line",
        cost["embedding_sdk"] * 1000,
        cost["embedding_dumps"] * 1000,
        "ms",
        "- (floor: json.dumps)",
        f"line {cost['embedding_bytes'] / 1e6:.1f} MB; reading it back (json.loads) "
        f"{cost['embedding_loads'] * 1000:.0f} ms",
    )
    row("SDK: one stream chunk to its stdout line", cost["chunk_sdk"] * 1000, cost["chunk_dumps"] * 1000, "ms", "-")


# -- hostile and overloaded servers (issue 9) -----------------------------------------------------
def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def call_many(daemon: Daemon, action: str, requests: list[dict]) -> tuple[int, float]:
    """Send every request to the plugin at once, as the daemon does; (errors, seconds to the last end)."""
    start = time.perf_counter()
    pending = set(daemon.send(action, requests))
    errors = 0
    while pending:
        message = daemon.message()
        session = message.get("session_id")
        if session in pending and message.get("event") == "session":
            kind = message["data"]["type"]
            errors += kind == "error"
            if kind == "end":
                pending.discard(session)
    return errors, time.perf_counter() - start


def bench_hostile(plugin: Path) -> None:
    """Reliability figures of the default plugin, run over stdio as the Dify daemon runs it."""
    from conftest import FakeServer  # the plugin's own fake server

    server = FakeServer()
    daemon = Daemon(plugin)
    pid = daemon.process.pid
    base = {"server_url": server.url, "model_uid": "embed-model", "request_timeout": "30", "max_retries": "0"}
    try:
        print("credential churn: 1,000 distinct API keys, one provider check each", flush=True)
        keys = [{"credentials": base | {"api_key": f"sk-bench-{n}"}} for n in range(1000)]
        # In batches of 8 at a time: all at once, the SDK's thread pool itself would grow to 1,000 workers.
        batches = [keys[start : start + 8] for start in range(0, len(keys), 8)]
        for number, batch in enumerate(batches):
            assert call_many(daemon, "validate_provider_credentials", batch)[0] == 0
            if number == 7:  # 64 credential sets: every pool slot used, and evicted
                warm_fds, warm_rss = descriptors(pid), rss_mb(pid)
        row("open descriptors after 1,000 credential sets", descriptors(pid), warm_fds, "fds", "flat (floor: after 64)")
        row("RSS after 1,000 credential sets", rss_mb(pid), warm_rss, "MiB", "flat (floor: after 64)")

        print("a 300 MB answer, refused", flush=True)
        for name, how in (("plain", {"chunked": True}), ("gzip bomb, 0.3 MB on the wire", {"encoding": "gzip"})):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # restart the peak from the current RSS
            before = rss_mb(pid)
            server.fault("/v1/models", size=300 * 1024 * 1024, **how)
            _, error = daemon.call("validate_provider_credentials", credentials=base)
            assert error and "32 MiB" in error["message"], error
            row(f"peak RSS refusing 300 MB ({name})", peak_rss_mb(pid), before, "MiB", "<= RSS + 3 x 32 MiB")

        print("a server trickling one byte every 0.5 s, request_timeout 2 s", flush=True)
        for path, action, data in (
            (
                "/v1/embeddings",
                "invoke_text_embedding",
                {"model_type": "text-embedding", "texts": ["hi"], "input_type": "document"},
            ),
            (
                "/v1/chat/completions",
                "invoke_llm",
                {
                    "model_type": "llm",
                    "prompt_messages": [{"role": "user", "content": "hi"}],
                    "model_parameters": {},
                    "stop": None,
                    "tools": None,
                    "stream": True,
                },
            ),
        ):
            model = "embed-model" if "embed" in path else "chat-model"
            server.fault(path, trickle=0.5)
            start = time.perf_counter()
            _, error = daemon.call(
                action, model=model, credentials=base | {"model_uid": model, "request_timeout": "2"}, **data
            )
            elapsed = time.perf_counter() - start
            assert error and "request_timeout = 2 s" in error["message"], error
            row(f"seconds to the error, trickled {action}", elapsed, 2.0, "s", "~ request_timeout (floor)")

        print("256 concurrent embedding calls on one credential set (held until all arrive)", flush=True)
        embed = {
            "model_type": "text-embedding",
            "model": "embed-model",
            "credentials": base,
            "texts": ["hi"],
            "input_type": "document",
        }
        server.control("reset")
        server.config(hold=256, hold_timeout=60)
        errors, elapsed = call_many(daemon, "invoke_text_embedding", [embed] * 256)
        server.control("reset")
        _, single = call_many(daemon, "invoke_text_embedding", [embed])
        row("256 concurrent calls: errors", errors, None, "errors", "0")
        row("256 concurrent calls: wall time", elapsed, single, "s", "- (floor: one call)")
    finally:
        daemon.stop()
        server.stop()


# -- first run: bake, install as DEVELOPMENT.md says, the plugin's own tests green --------------
def bench_first_run(work: Path) -> None:
    """Seconds from `cookiecutter` to a green `uv run --frozen pytest`, in a fresh .venv (uv's cache warm)."""
    print("bake to a green plugin test run, fresh venv, DEVELOPMENT.md's uv commands (one run)", flush=True)
    uv = str(BIN / "uv")
    env = offline_env() | {"UV_PYTHON": sys.executable, "UV_NO_PROGRESS": "1"}
    out = work / "first-run"
    steps = {}
    start = time.perf_counter()
    steps["bake"] = timed_bake(TEMPLATE, out)
    plugin = out / "xinference"
    for name, command in (("uv sync", [uv, "sync", "--frozen"]), ("pytest", [uv, "run", "--frozen", "pytest", "-q"])):
        begun = time.perf_counter()
        done = subprocess.run(command, cwd=plugin, env=env, capture_output=True, text=True)
        steps[name] = time.perf_counter() - begun
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    total = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1]  # pytest's: "N passed in S s"
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items()) + f" ({summary})"
    # The floor: what any plugin on this SDK pays, a fresh venv from the same lock and the SDK imported.
    shutil.rmtree(plugin / ".venv")
    begun = time.perf_counter()
    for command in ([uv, "sync", "--frozen"], [uv, "run", "--frozen", "python", "-c", "import dify_plugin"]):
        subprocess.run(command, cwd=plugin, env=env, capture_output=True, check=True)
    floor = time.perf_counter() - begun
    row("bake to green plugin tests (fresh venv)", total, floor, "s", "-", f"{parts}; floor: venv + import dify_plugin")


SECTIONS = ("bake", "start", "streams", "embeddings", "sdk", "hostile", "first-run", "suite")
DEFAULT = SECTIONS[:-1]  # the template suite takes about 15 minutes on this machine: only on request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only", default=",".join(DEFAULT), help=f"comma-separated sections: {', '.join(SECTIONS)} (all but suite)"
    )
    parser.add_argument(
        "--real",
        choices=("cached", "build", "skip"),
        default="cached",
        help="real servers for the embedding rows: only if tests/real's cache is built (default), build it, or skip",
    )
    parser.add_argument("--only-hostile", action="store_true", help="the same as --only hostile")
    args = parser.parse_args()
    only = {"hostile"} if args.only_hostile else set(args.only.split(","))
    unknown = only - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown section {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")
    # Started in the background (`cmd &`), this process and its children would ignore Ctrl+C;
    # the plugin's own tests send it to their fake server, as a user at a terminal does.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # 256 streams: 512 sockets and more
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(4096, hard)), hard))  # the hard limit stays
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="dify-bench-") as tmp:
        work = Path(tmp)
        plugin = work / "bake-default" / "xinference"
        timed_bake(TEMPLATE, work / "bake-default")
        # The plugin's fake server (tests/conftest.py), and the plugin folder its imports start from
        # (scripts.check.plugin), as the plugin's pytest configuration has it.
        sys.path[:0] = [str(plugin / "tests"), str(plugin)]
        sections: dict[str, Callable[[], None]] = {
            "bake": lambda: bench_bake(work, args.repeat),
            "start": lambda: bench_start(work, plugin, args.repeat),
            "streams": lambda: bench_streams(plugin, args.repeat),
            "embeddings": lambda: bench_embeddings(plugin, args.repeat, args.real),
            "sdk": lambda: bench_sdk(args.repeat),
            "hostile": lambda: bench_hostile(plugin),
            "first-run": lambda: bench_first_run(work),
            "suite": bench_suite,
        }
        failed = []
        for name in SECTIONS:
            if name in only:
                try:
                    sections[name]()
                except Exception as error:  # the table of the other sections is still printed
                    failed.append(name)
                    traceback.print_exc()
                    message = " ".join(str(error).split())[:200]
                    row(f"section {name}", math.nan, None, "", "-", f"FAILED: {type(error).__name__}: {message}")
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    header = ("Measure", "Median", "Floor", "Ratio", "Target", "Limit (share of one core while it ran)")
    for line in [header, tuple("---" for _ in header), *ROWS]:
        print("| " + " | ".join(str(cell) for cell in line) + " |")
    if failed:
        sys.exit(f"benchmarks/run.py: sections that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
