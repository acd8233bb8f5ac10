"""Benchmarks: each figure is a median over repeated runs, printed next to its floor measured
in the same run, with the ratio. Run with `bash benchmarks/run.sh` (options: --repeat N,
--skip-suite). Nothing here asserts a timing: it prints figures and the targets beside them.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

TEMPLATE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COOKIECUTTER = str(BIN / "cookiecutter")
ROWS: list[tuple[str, str, str, str, str]] = []


def median_of(repeat: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeat))


def row(name: str, value: float, floor: float | None, unit: str, target: str) -> None:
    ratio = f"{value / floor:.2f}x" if floor else "-"
    floor_text = f"{floor:,.3f}" if floor is not None else "-"
    ROWS.append((name, f"{value:,.3f} {unit}", f"{floor_text} {unit}" if floor is not None else "-", ratio, target))
    print(f"  {name}: {value:,.3f} {unit} (floor {floor_text}, {ratio})", flush=True)


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


def bench_bake(work: Path, repeat: int) -> None:
    print("bake (cookiecutter CLI, seconds)", flush=True)
    floor_template = one_file_template(work)
    floor = median_of(repeat, lambda: timed_bake(floor_template, work / "floor-out"))
    default = median_of(repeat, lambda: timed_bake(TEMPLATE, work / "bake-default"))
    six = "model_types=llm,text-embedding,rerank,speech2text,tts,moderation"
    all_six = median_of(repeat, lambda: timed_bake(TEMPLATE, work / "bake-six", six))
    row("bake default answers", default, floor, "s", "<= 1.5x")
    row("bake all six types", all_six, floor, "s", "<= 1.5x")


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
    floor = median_of(repeat, lambda: time_to_registration(floor_plugin))
    value = median_of(repeat, lambda: time_to_registration(plugin))
    row("plugin start (default plugin)", value, floor, "s", "<= 1.1x")


def peak_rss_mb(pid: int) -> float:
    return rss_mb(pid, "VmHWM")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith(f"{field}:"))


def bench_relay(plugin: Path, repeat: int) -> None:
    sys.path.insert(0, str(plugin / "tests"))
    from conftest import FakeServer  # the baked plugin's own loopback server and stdio harness
    from stdio_plugin import PluginProcess

    os.chdir(plugin)
    server = FakeServer()
    running = PluginProcess()
    try:
        credentials = {
            "server_url": server.url,
            "model_uid": "chat-model",
            "request_timeout": "30",
            "max_retries": "0",
            "context_size": "8192",
            "max_tokens": "4096",
        }
        chunks = 2000
        reply = {"content": " ".join(f"w{i}" for i in range(chunks - 1))}
        payload = {"model": "chat-model", "messages": [{"role": "user", "content": "go"}], "stream": True}

        def direct() -> float:
            server.fault("/v1/chat/completions", reply=reply)
            start = time.perf_counter()
            with (
                httpx.Client() as client,
                client.stream("POST", f"{server.url}/v1/chat/completions", json=payload) as response,
            ):
                count = sum(1 for line in response.iter_lines() if line.startswith("data:"))
            assert count >= chunks, count
            return time.perf_counter() - start

        def relayed() -> float:
            server.fault("/v1/chat/completions", reply=reply)
            start = time.perf_counter()
            results, error = running.call(
                "invoke_llm",
                model_type="llm",
                model="chat-model",
                credentials=credentials,
                prompt_messages=[{"role": "user", "content": "go"}],
                model_parameters={},
                stop=None,
                tools=None,
                stream=True,
            )
            assert error is None and len(results) >= chunks - 1, (error, len(results))
            return time.perf_counter() - start

        print("stream relay over stdio (2,000 chunks)", flush=True)
        floor = median_of(repeat, direct)
        value = median_of(repeat, relayed)
        row("stream relay, chunks/s", chunks / value, chunks / floor, "chunks/s", "-")
        row("stream relay, added ms per chunk", (value - floor) / chunks * 1000, None, "ms", "<= 0.5 ms")

        print("embedding 10,000 short texts", flush=True)
        texts = [f"short text number {i}" for i in range(10_000)]
        max_chunks = 32
        emb_credentials = {
            "server_url": server.url,
            "model_uid": "embed-model",
            "request_timeout": "30",
            "max_retries": "0",
            "max_chunks": str(max_chunks),
            "context_size": "512",
        }

        def direct_embed() -> float:
            start = time.perf_counter()
            with httpx.Client() as client:
                for i in range(0, len(texts), max_chunks):
                    client.post(
                        f"{server.url}/v1/embeddings", json={"model": "embed-model", "input": texts[i : i + max_chunks]}
                    ).raise_for_status()
            return time.perf_counter() - start

        def relayed_embed() -> float:
            server.control("reset")
            start = time.perf_counter()
            results, error = running.call(
                "invoke_text_embedding",
                model_type="text-embedding",
                model="embed-model",
                credentials=emb_credentials,
                texts=texts,
                input_type="document",
            )
            assert error is None, error
            assert len(results[0]["embeddings"]) == len(texts)
            return time.perf_counter() - start

        floor = median_of(repeat, direct_embed)
        value = median_of(repeat, relayed_embed)
        requests = len(server.requests("/v1/embeddings"))
        row("embeddings, texts/s", len(texts) / value, len(texts) / floor, "texts/s", ">= 0.8x")
        row("embeddings, HTTP requests", requests, -(-len(texts) // max_chunks), "requests", "= ceil(N/max_chunks)")
        row("plugin peak memory (VmHWM)", peak_rss_mb(running.process.pid), None, "MiB", "-")
    finally:
        running.stop()
        server.stop()


# -- hostile and overloaded servers (issue 9) -----------------------------------------------------
def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def call_many(running, action: str, requests: list[dict]) -> tuple[int, float]:
    """Send every request to the plugin at once, as the daemon does; (errors, seconds to the last end)."""
    start = time.perf_counter()
    pending = {}
    for data in requests:
        session = uuid.uuid4().hex
        pending[session] = None
        message = {
            "session_id": session,
            "event": "request",
            "data": {"type": "model", "action": action, "user_id": "bench", "provider": "xinference", **data},
        }
        running.process.stdin.write(json.dumps(message).encode() + b"\n")
    running.process.stdin.flush()
    errors = 0
    while pending:
        message = json.loads(running.lines.get(timeout=120))
        session = message.get("session_id")
        if session in pending and message.get("event") == "session":
            kind = message["data"]["type"]
            errors += kind == "error"
            if kind == "end":
                del pending[session]
    return errors, time.perf_counter() - start


def bench_hostile(plugin: Path) -> None:
    """Reliability figures of the default plugin, run over stdio as the Dify daemon runs it."""
    sys.path.insert(0, str(plugin / "tests"))
    from conftest import FakeServer
    from stdio_plugin import PluginProcess

    os.chdir(plugin)
    server = FakeServer()
    running = PluginProcess()
    pid = running.process.pid
    base = {"server_url": server.url, "model_uid": "embed-model", "request_timeout": "30", "max_retries": "0"}
    try:
        print("credential churn: 1,000 distinct API keys, one provider check each", flush=True)
        keys = [{"credentials": base | {"api_key": f"sk-bench-{n}"}} for n in range(1000)]
        # In batches of 8 at a time: all at once, the SDK's thread pool itself would grow to 1,000 workers.
        batches = [keys[start : start + 8] for start in range(0, len(keys), 8)]
        for number, batch in enumerate(batches):
            assert call_many(running, "validate_provider_credentials", batch)[0] == 0
            if number == 7:  # 64 credential sets: every pool slot used, and evicted
                warm_fds, warm_rss = descriptors(pid), rss_mb(pid)
        row("open descriptors after 1,000 credential sets", descriptors(pid), warm_fds, "fds", "flat (floor: after 64)")
        row("RSS after 1,000 credential sets", rss_mb(pid), warm_rss, "MiB", "flat (floor: after 64)")

        print("a 300 MB answer, refused", flush=True)
        for name, how in (("plain", {"chunked": True}), ("gzip bomb, 0.3 MB on the wire", {"encoding": "gzip"})):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # restart the peak from the current RSS
            before = rss_mb(pid)
            server.fault("/v1/models", size=300 * 1024 * 1024, **how)
            _, error = running.call("validate_provider_credentials", credentials=base)
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
            _, error = running.call(
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
        errors, elapsed = call_many(running, "invoke_text_embedding", [embed] * 256)
        server.control("reset")
        _, single = call_many(running, "invoke_text_embedding", [embed])
        row("256 concurrent calls: errors", errors, None, "errors", "0")
        row("256 concurrent calls: wall time", elapsed, single, "s", "- (floor: one call)")
    finally:
        running.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-suite", action="store_true", help="leave out the template suite (about a minute)")
    parser.add_argument("--only-hostile", action="store_true", help="only the reliability figures (issue 9)")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    with tempfile.TemporaryDirectory(prefix="dify-bench-") as tmp:
        work = Path(tmp)
        if not args.only_hostile:
            bench_bake(work, args.repeat)
        plugin = work / "bake-default" / "xinference"
        timed_bake(TEMPLATE, work / "bake-default")
        if not args.only_hostile:
            bench_start(work, plugin, args.repeat)
            bench_relay(plugin, args.repeat)
        bench_hostile(plugin)
        if not args.skip_suite and not args.only_hostile:
            bench_suite()
    print()
    header = ("measure", "median", "floor", "ratio", "target")
    widths = [max(len(str(r[i])) for r in [header, *ROWS]) for i in range(5)]
    for line in [header, tuple("-" * w for w in widths), *ROWS]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
