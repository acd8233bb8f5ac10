{% set plan = cookiecutter | plan %}
"""Run the plugin exactly as the Dify daemon does: `python -m main`, JSON lines over stdio."""

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROVIDER = "{{ plan.provider }}"
TIMEOUT = 30.0  # seconds any single exchange with the plugin may take


class PluginProcess:
    """`python -m main` in local mode, driven over stdin/stdout as the Dify daemon drives it."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env["INSTALL_METHOD"] = "local"
        self.stderr = tempfile.TemporaryFile()
        self.stdout: list[bytes] = []  # every line written, heartbeats and logs included
        self.process = subprocess.Popen(
            [sys.executable, "-m", "main"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.registration = json.loads(self._next_line())

    def _read(self) -> None:
        for line in self.process.stdout:
            self.stdout.append(line)
            if line.strip():
                self.lines.put(line)

    def _next_line(self) -> bytes:
        try:
            return self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"the plugin wrote nothing for {TIMEOUT} s") from None

    def call(self, action: str, **data: Any) -> tuple[list[Any], dict[str, Any] | None]:
        """Send one request; return (streamed results, error or None) once the session ends."""
        session_id = uuid.uuid4().hex
        request = {
            "session_id": session_id,
            "event": "request",
            "data": {"type": "model", "action": action, "user_id": "tests", "provider": PROVIDER, **data},
        }
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        results, error = [], None
        while True:
            message = json.loads(self._next_line())
            if message.get("session_id") != session_id or message.get("event") != "session":
                continue  # heartbeats and logs
            kind, payload = message["data"]["type"], message["data"]["data"]
            if kind == "stream":
                results.append(payload)
            elif kind == "error":
                error = payload
            elif kind == "end":
                return results, error

    def output(self) -> str:
        """Everything the plugin wrote so far, on stdout and stderr."""
        self.stderr.seek(0)
        return b"".join([*self.stdout, self.stderr.read()]).decode("utf-8", "replace")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self.stderr.close()
