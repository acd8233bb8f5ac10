"""The default plugin's live check (`python scripts/check_server.py`, the first command of its
DEVELOPMENT.md) against the real servers: an all-green table, and for each usual mistake the
matching fix line and exit status 1. Each run prints its table (`pytest -s` shows them).
"""

import os
import re
import subprocess
import sys

import pytest

from real.servers import free_port

# Real servers: `tests/run.sh` runs these in one process, after the rest, so each starts once.
pytestmark = pytest.mark.real

TIMEOUT = "120"  # seconds per call: CPU-only models on a busy machine are slow


def check(plugin, *args: str, key: str = "") -> subprocess.CompletedProcess:
    """The command as DEVELOPMENT.md gives it, with the key in MODEL_SERVER_API_KEY."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_SERVER_") and "proxy" not in k.lower()}
    if key:
        env["MODEL_SERVER_API_KEY"] = key
    done = subprocess.run(
        [sys.executable, "scripts/check_server.py", *args, "--timeout", TIMEOUT],
        cwd=plugin,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(f"\n$ python scripts/check_server.py {' '.join(args)}\n{done.stdout}{done.stderr}")
    return done


def rows(output: str) -> list[tuple[str, str]]:
    """(result, model type) of each row of the table."""
    return re.findall(r"^(ok|FAIL|todo) +(\S+) +\S+ +.+? +\d+\.\d\ds", output, re.M)


# The rows scripts/check_server.py prints for each model type it checks, after the provider's row.
ROWS = {"llm": 3, "text-embedding": 2, "rerank": 2}


def by_url(server) -> dict[str, list[str]]:
    """The server's model types, grouped by the URL each is saved with (llama.cpp: one per type)."""
    groups: dict[str, list[str]] = {}
    for model_type in filter(ROWS.__contains__, server.models):  # the default plugin's types
        groups.setdefault(server.url_for(model_type), []).append(model_type)
    return groups


def test_the_live_check_prints_an_all_green_table(real_server, bake):
    for url, types in by_url(real_server).items():
        args = [arg for model_type in types for arg in (f"--{model_type}", real_server.models[model_type])]

        done = check(bake("default"), "--server-url", url, *args, key=real_server.api_key)

        assert done.returncode == 0, done.stdout + done.stderr
        expected = [("ok", "provider"), *[("ok", t) for t in types for _ in range(ROWS[t])]]
        assert rows(done.stdout) == expected
        assert done.stdout.rstrip().endswith(f"{len(expected)} ok: all passed")
        assert real_server.api_key not in done.stdout + done.stderr


def mistake(case: str, server) -> tuple[list[str], str, str]:
    """The arguments, the API key and the fix line expected (a regex) for one mistake."""
    url, llm, key = server.url, server.models["llm"], server.api_key
    if case == "wrong key":
        fix = r"the server answered 401 to the API key from \$MODEL_SERVER_API_KEY: check that key"
        return ["--server-url", url, "--llm", llm], "sk-not-the-key-of-this-server", fix
    if case == "wrong uid":
        fix = rf"uid '{llm}-typo' is not running; the server runs: .*\b{re.escape(llm)}\b"
        return ["--server-url", url, "--llm", f"{llm}-typo"], key, fix
    if case == "wrong type":
        embed, embed_url = server.models["text-embedding"], server.url_for("text-embedding")
        # The list names the llm models where the server says types (Xinference), else every model
        # on that URL (llama.cpp's embedding server: only the embedding model).
        shown = llm if server.url_for("llm") == embed_url else embed
        fix = (
            rf"uid '{embed}' is a text-embedding model, not llm: check it with --text-embedding {embed}, "
            rf"or give an llm model \(the server runs: .*\b{re.escape(shown)}\b"
        )
        return ["--server-url", embed_url, "--llm", embed], key, fix
    if case == "dead port":
        port = free_port()
        fix = rf"nothing listens on 127\.0\.0\.1:{port}: start the server or correct the port"
        return ["--server-url", f"http://127.0.0.1:{port}", "--llm", llm], key, fix
    if case == "path after the port":
        return ["--server-url", f"{url}/api", "--llm", llm], key, rf"set server_url to {re.escape(url)}$"
    raise ValueError(case)


@pytest.mark.parametrize("case", ["wrong key", "wrong uid", "wrong type", "dead port", "path after the port"])
def test_each_mistake_prints_its_fix_line_and_exits_1(real_server, bake, case):
    args, key, fix = mistake(case, real_server)

    done = check(bake("default"), *args, key=key)

    assert done.returncode == 1, done.stdout + done.stderr
    fixes = re.findall(r"^ +fix: (.*)$", done.stdout, re.M)
    assert any(re.search(fix, line) for line in fixes), done.stdout
    assert len(fixes) == sum(result == "FAIL" for result, _ in rows(done.stdout)), done.stdout
    assert real_server.api_key not in done.stdout + done.stderr
