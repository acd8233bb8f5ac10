{% set plan = cookiecutter | plan %}
"""Run the plugin exactly as the Dify daemon does: `python -m main`, JSON lines over stdio.

The check drives the plugin with it, and so do the tests that go over stdio.
"""

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the plugin folder
PROVIDER = "{{ plan.provider }}"
TIMEOUT = 30.0  # seconds any single exchange with the plugin may take
# The daemon's bufio.Scanner refuses a line once the bytes before its newline fill its whole
# buffer, PLUGIN_RUNTIME_MAX_BUFFER_SIZE (models/server/daemon.py): it then kills the plugin.
DAEMON_LINE_BYTES = 5_242_880


class PluginSilent(AssertionError):
    """The plugin exited, or wrote nothing, before a deadline (`output`: what it wrote, if it never started)."""

    output = ""


class PluginProcess:
    """`python -m main` in local mode, driven over stdin/stdout as the Dify daemon drives it."""

    def __init__(
        self, *, ready: bool = True, env: dict[str, str] | None = None, argv: list[str] | None = None
    ) -> None:
        """Start the plugin (or `argv`), with `env` added to the environment; unless `ready` is
        False, also wait for its registration (see `wait_ready`).

        It connects to the server directly: this process's proxy variables are left out (the
        daemon's environment, not this shell's, decides in Dify); `env` may set them.
        """
        environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        environment.update(env or {}, INSTALL_METHOD="local")
        self.stderr = tempfile.TemporaryFile()
        self.stdout: list[bytes] = []  # every line written, heartbeats and logs included
        self.heartbeats: list[float] = []  # when each heartbeat line arrived (time.monotonic())
        self.process = subprocess.Popen(
            argv or [sys.executable, "-m", "main"],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.registration: dict[str, Any] | None = None
        self.refused_line = 0  # bytes of a line the daemon would have refused, if the plugin wrote one
        if ready:
            self.wait_ready()

    def wait_ready(self) -> "PluginProcess":
        """Wait for the line a plugin writes once started, its registration; PluginSilent if none comes."""
        if self.registration is None:
            try:
                self.registration = json.loads(self._next_line(time.monotonic() + TIMEOUT))
            except PluginSilent as silent:
                silent.output = self.output()
                self.stop()
                raise
        return self

    def _read(self) -> None:
        """Read stdout as the daemon does: Go's bufio.Scanner with its buffer capped at
        DAEMON_LINE_BYTES takes a line only if the line and its newline fit in the buffer (its
        Scan: "if len(s.buf) >= s.maxTokenSize ... ErrTooLong"), so DAEMON_LINE_BYTES - 1 bytes
        before the newline are the most; on a longer line the daemon kills the plugin, and so
        does this."""
        for line in self.process.stdout:
            if len(line) - line.endswith(b"\n") >= DAEMON_LINE_BYTES:
                self.refused_line = len(line) - line.endswith(b"\n")
                self.process.kill()
                break
            self.stdout.append(line)
            if line.startswith(b'{"event":"heartbeat"'):
                self.heartbeats.append(time.monotonic())
            if line.strip():
                self.lines.put(line)
        self.lines.put(None)  # end of output: the plugin exited

    def _next_line(self, deadline: float) -> bytes:
        wait = min(TIMEOUT, deadline - time.monotonic())
        try:
            line = self.lines.get(timeout=max(wait, 0.0))
        except queue.Empty:
            raise PluginSilent(f"the plugin wrote nothing for {wait:.0f} s") from None
        if line is None:
            self.lines.put(None)  # every later read sees the exit too
            if self.refused_line:
                raise PluginSilent(
                    f"the plugin wrote a line of {self.refused_line:,} bytes; the Dify daemon reads at most "
                    f"{DAEMON_LINE_BYTES - 1:,} (PLUGIN_RUNTIME_MAX_BUFFER_SIZE) and kills the plugin"
                )
            raise PluginSilent(f"the plugin exited with status {self.process.wait(timeout=10)}")
        return line

    def call(
        self, action: str, *, deadline: float | None = None, **data: Any
    ) -> tuple[list[Any], dict[str, Any] | None]:
        """Send one request; return (streamed results, error or None) once the session ends.

        `deadline` (a time.monotonic() value) bounds the whole exchange; without one, only
        silence longer than TIMEOUT ends it. Either way PluginSilent is raised.
        """
        session_id = uuid.uuid4().hex
        request = {
            "session_id": session_id,
            "event": "request",
            "data": {"type": "model", "action": action, "user_id": "tests", "provider": PROVIDER, **data},
        }
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise PluginSilent(f"the plugin exited with status {self.process.wait(timeout=10)}") from None
        parts: dict[str, list[Any]] = {"stream": [], "error": []}
        while True:
            limit = deadline if deadline is not None else time.monotonic() + TIMEOUT
            if time.monotonic() >= limit:
                raise PluginSilent(f"the plugin did not finish {action!r} in time")
            message = json.loads(self._next_line(limit))
            if message.get("session_id") == session_id and message.get("event") == "session":
                if message["data"]["type"] == "end":
                    return parts["stream"], next(iter(parts["error"]), None)
                parts.setdefault(message["data"]["type"], []).append(message["data"]["data"])
            # other lines: heartbeats, logs, other sessions

    def output(self) -> str:
        """Everything the plugin wrote so far, on stdout and stderr."""
        self.stderr.seek(0)
        return b"".join([*self.stdout, self.stderr.read()]).decode("utf-8", "replace")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self.stderr.close()
