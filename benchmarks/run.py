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
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-suite", action="store_true", help="leave out the template suite (about a minute)")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    with tempfile.TemporaryDirectory(prefix="dify-bench-") as tmp:
        work = Path(tmp)
        bench_bake(work, args.repeat)
        plugin = work / "bake-default" / "xinference"
        timed_bake(TEMPLATE, work / "bake-default")
        bench_start(work, plugin, args.repeat)
        bench_relay(plugin, args.repeat)
        if not args.skip_suite:
            bench_suite()
    print()
    header = ("measure", "median", "floor", "ratio", "target")
    widths = [max(len(str(r[i])) for r in [header, *ROWS]) for i in range(5)]
    for line in [header, tuple("-" * w for w in widths), *ROWS]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
