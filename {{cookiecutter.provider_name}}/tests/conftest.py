"""Fixtures shared by every test: the loopback model server and the plugin run over stdio."""

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dify_plugin  # noqa: F401  first: the SDK patches the standard library for gevent on import
import pytest

from scripts.check.plugin import PluginProcess

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sk-test-secret-4242"  # tests check that it never appears in an error message
# Dify's name for a model a test adds by hand (its model_uid names the server's model): no bake
# imports a predefined model of this name, which Dify would look up first (import_models_from).
HAND_ADDED = "hand-added-model"
# The suite talks to 127.0.0.1 only. The plugin honours proxy variables (Dify's daemon passes its
# own on), so a shell's HTTP_PROXY would send the suite's requests to that proxy: they are cleared
# here, and the tests about proxies set them themselves.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
for _name in [name for name in os.environ if name.lower() in PROXY_VARIABLES]:
    del os.environ[_name]
# The tests' own requests to an https loopback server, which check nothing: what the plugin
# trusts is what those tests are about.
CONTROL_TLS = ssl.create_default_context()
CONTROL_TLS.check_hostname, CONTROL_TLS.verify_mode = False, ssl.CERT_NONE


class FakeServer:
    """Handle on tests/fake_server.py running in its own process."""

    def __init__(self, certificate: Path | None = None) -> None:
        """Start it; with `certificate` (a PEM file holding the chain and its key) it serves https."""
        tls = ["--certificate", str(certificate)] if certificate else []
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "fake_server.py"), "--lifetime", "900", *tls],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self.port = int(self.process.stdout.readline())
        except ValueError:
            self.stop()
            raise
        self.url = f"{'https' if certificate else 'http'}://127.0.0.1:{self.port}"

    def control(self, command: str, payload: Any = None) -> Any:
        data = json.dumps(payload or {}).encode()
        request = urllib.request.Request(f"{self.url}/_control/{command}", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10, context=CONTROL_TLS) as response:
            return json.loads(response.read())

    def fault(self, path: str, **behaviour: Any) -> None:
        """Make the next request to `path` misbehave (`times` requests; only those for `model`, if given).

        Broken: `status` with `body` and `content_type`; `delay` seconds first; `drop` the
        connection; `cut_after` N stream events; `reply` scripts the model's answer. Hostile:
        `{api_key}` in a body or line is the key the request carried (a server echoing it);
        `lines` raw stream lines; `trickle` seconds between the bytes of the whole answer,
        headers included; `comments` seconds between keep-alive comments, forever; `endless`
        seconds between bursts of content events, forever; `line` bytes of one stream line;
        `size` bytes of a JSON body, `chunked` or with Content-Length; `encoding` gzip, deflate
        or raw-deflate for `size` and scripted bodies.
        """
        self.control("fault", {"path": path, **behaviour})

    def config(self, **settings: Any) -> None:
        """`api_key` the server requires; `describe` false hides GET /v1/models/{uid}; `mount` is
        where the API's routes are instead of /v1 ("" at the root); `listed` the ids its model list
        gives instead of every model's; `hold` N answers nothing until N requests wait at once
        (503 to all after `hold_timeout` s)."""
        self.control("config", settings)

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """The requests received since the reset, in arrival order; each has its place in the
        answer order as `answered`."""
        received = self.control("requests")
        return [r for r in received if path is None or r["path"] == path]

    def peak(self) -> int:
        """The most requests that waited for an answer at once since the reset."""
        return self.control("peak")["peak"]

    def closed_streams(self, wait: float = 5.0) -> list[float]:
        """How long each endless stream ran before its client closed the connection (seconds),
        once one has been closed or `wait` seconds have passed."""
        deadline = time.monotonic() + wait
        while not (closed := self.control("closed")) and time.monotonic() < deadline:
            time.sleep(0.05)
        return closed

    def stop(self) -> None:
        """SIGTERM, as a service manager stops a server; SIGKILL if it is still there after 10 s."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


@pytest.fixture(scope="session")
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(autouse=True)
def _fresh_server(request: pytest.FixtureRequest) -> None:
    """Every test starts with a well-behaved server and an empty request log."""
    if "server" in request.fixturenames:
        request.getfixturevalue("server").control("reset")


@pytest.fixture
def credentials(server: FakeServer):
    """credentials(uid, **extra) -> model credentials pointing at the loopback server."""

    def _credentials(uid: str, **extra: str) -> dict[str, str]:
        return {
            "server_url": server.url,
            "model_uid": uid,
            "request_timeout": "5",
            "max_retries": "0",
            **extra,
        }

    return _credentials


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let request_timeout go down to 0.2 s, below the form's 1 s floor, so that tests of time
    limits take a fraction of a second (in this process; a plugin over stdio keeps the floor)."""
    from models.server import limits

    monkeypatch.setattr(limits, "TIMEOUT_RANGE", (0.2, limits.TIMEOUT_RANGE[1]))


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The plugin processes of the suite: one shared by the stdio tests, one for scripts/check_server.py's
# tests. Both start with the session, so that their start-up (imports, over a second each) runs
# alongside collection instead of before the first test that needs them.
STARTING: dict[str, PluginProcess] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not session.config.option.collectonly:
        STARTING.update({name: PluginProcess(ready=False) for name in ("plugin", "check_plugin")})


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop at once the ones no selected test uses (`pytest -k rerank`, a single file)."""
    used = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    for name in [name for name in STARTING if name not in used]:
        STARTING.pop(name).stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    for unused in STARTING.values():
        unused.stop()
    STARTING.clear()


def started_plugin(name: str) -> PluginProcess:
    """The plugin process started for `name` with the session (a new one if it was taken)."""
    early = STARTING.pop(name, None)
    return early.wait_ready() if early else PluginProcess()


@pytest.fixture(scope="session")
def plugin() -> Iterator[PluginProcess]:
    running = started_plugin("plugin")
    yield running
    running.stop()
