"""docs/troubleshooting.md's remote-debugging table quotes what the SDK really prints.

A baked plugin runs `python -m main` with `INSTALL_METHOD=remote`, as its author does with a
wrong `.env`: no key, a port where nothing listens, a host name that does not resolve, and a
listener that reads the key and closes the connection (what the daemon does with a key it
refuses). What each run prints must hold the lines the page quotes for that mistake.
"""

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import TEMPLATE, offline_env

PAGE = (TEMPLATE / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
LINUX = sys.platform.startswith("linux")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
REFUSED_DEADLINE_SECONDS = 60  # for the plugin to start and reconnect twice, on a loaded machine


def row(mistake: str) -> str:
    """The table row whose first cell starts with `mistake`."""
    (found,) = [line for line in PAGE.splitlines() if line.startswith(f"| {mistake}")]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_plugin(plugin: Path, url: str, key: str) -> subprocess.Popen:
    env = offline_env() | {"INSTALL_METHOD": "remote", "REMOTE_INSTALL_URL": url, "REMOTE_INSTALL_KEY": key}
    return subprocess.Popen(
        [sys.executable, "-m", "main"],
        cwd=plugin,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_plugin(plugin: Path, url: str, key: str) -> tuple[int, str]:
    process = start_plugin(plugin, url, key)
    try:
        output, _ = process.communicate(timeout=120)
    finally:
        stop(process)
    return process.returncode, ANSI.sub("", output)


@pytest.fixture(scope="module")
def plugin(bake) -> Path:
    return bake("default")


def test_a_missing_key_ends_with_the_quoted_error(plugin):
    status, output = run_plugin(plugin, f"127.0.0.1:{free_port()}", "")
    quoted = "ValueError: Missing remote install key"
    assert status == 1 and output.rstrip().endswith(quoted), output[-2000:]
    assert quoted in row("`REMOTE_INSTALL_KEY` empty")


@pytest.mark.parametrize(
    ("mistake", "host", "error", "linux_text"),
    [
        ("Nothing listens at the port", "127.0.0.1", "ConnectionRefusedError", "[Errno 111] Connection refused"),
        (
            "The host name does not resolve",
            "no-such-host.invalid",
            "socket.gaierror",
            "[Errno -2] Name or service not known",
        ),
    ],
)
def test_an_unreachable_address_fails_three_times_then_exits(plugin, mistake, host, error, linux_text):
    port = free_port()
    status, output = run_plugin(plugin, f"{host}:{port}", "any-key")
    assert status == 1, output[-2000:]
    assert output.count(f"Failed to connect to {host}:{port}\n") == 3, output[-2000:]
    ending = f"{error}: {linux_text}" if LINUX else f"{error}: "
    assert output.rstrip().splitlines()[-1].startswith(ending), output[-2000:]
    documented = row(mistake)
    assert "`Failed to connect to <host>:<port>` three times" in documented
    assert f"`{error}: {linux_text}`" in documented and "exit status 1" in documented


def test_a_refused_key_makes_the_plugin_reconnect_without_end(plugin):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(1)
    keys: list[bytes] = []  # what each connection sent before it was closed
    lines: dict[str, int] = {}  # each line the plugin printed, and how often
    done = threading.Event()

    def refuse_every_key() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                try:
                    keys.append(connection.recv(4096).split(b"\n")[0])
                except OSError:
                    pass

    def read(process: subprocess.Popen) -> None:
        for line in process.stdout:  # read all the time, so that the plugin never waits on a full pipe
            line = ANSI.sub("", line.rstrip("\n"))
            if len(lines) < 1000 or line in lines:
                lines[line] = lines.get(line, 0) + 1

    listening = threading.Thread(target=refuse_every_key, daemon=True)
    listening.start()
    process = start_plugin(plugin, f"127.0.0.1:{listener.getsockname()[1]}", "wrong-key")
    reading = threading.Thread(target=read, args=(process,), daemon=True)
    reading.start()
    try:
        deadline = time.monotonic() + REFUSED_DEADLINE_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            if len(keys) >= 3 and lines.get("Failed to write data", 0) >= 2:
                break  # reconnected twice after its key was refused: enough seen
            time.sleep(0.2)
        still_running = process.poll() is None
    finally:
        stop(process)
        done.set()
        listening.join(timeout=10)
        reading.join(timeout=10)
        listener.close()
    assert still_running, f"the plugin exited: {list(lines)[-40:]}"
    assert len(keys) >= 3 and set(keys[:3]) == {b'{"type":"handshake","data":{"key":"wrong-key"}}'}, keys[:3]
    assert lines.get("Failed to write data", 0) >= 2, list(lines)[:40]
    endings = {"BrokenPipeError: [Errno 32] Broken pipe", "ConnectionResetError: [Errno 104] Connection reset by peer"}
    if LINUX:
        assert endings & set(lines), list(lines)[:40]
    documented = row("The key is refused")
    assert "`Failed to write data`" in documented and "never exits" in documented
    assert all(f"`{ending}`" in documented for ending in endings)
