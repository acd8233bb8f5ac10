"""What the Dify daemon accepts from this plugin: every message is one line on stdout, within
the daemon's line limit, and some line at least every DAEMON_SILENCE_LIMIT seconds.

Answers that grow with their input are sized here before the SDK writes them: embeddings are
written with float32 precision and sent at most `vectors_per_answer` at a time; rerank results
keep the best-ranked documents that fit. Streamed answers are bounded where they are read: a
chat chunk by one stream line (MAX_LINE_BYTES, 1 MiB), a piece of audio by one read of the
network or of the inflater (64 KiB, 128 KiB as the SDK's hex). `guard_stdio` (called by main.py) is the last line of
defence: a line the daemon would refuse becomes an error for its call, and the process ends
when the daemon closes stdin, which the SDK's reader would otherwise spin on.
"""

import json
import os
import re
import select
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

import gevent
from dify_plugin.errors.model import InvokeBadRequestError
from gevent import monkey

# The daemon reads the plugin's stdout with Go's bufio.Scanner, its buffer capped at
# PLUGIN_RUNTIME_MAX_BUFFER_SIZE (default 5,242,880 bytes: dify-plugin-daemon,
# internal/types/app/config.go; the scanner: internal/core/local_runtime/instance.go). A line
# and its newline must fit in that buffer: 5,242,879 bytes before the newline is the most it
# reads; a longer line ends the scan, and the daemon kills the plugin with every call in flight.
DAEMON_LINE_BYTES = 5_242_880
# A plugin silent on stdout for longer than this is killed (MAX_HEARTBEAT_INTERVAL, same file).
# The SDK writes a heartbeat every 10 s (HEARTBEAT_INTERVAL) from a greenlet, so no greenlet may
# hold the event loop for long: the plugin's own loops yield every LOOP_SLICE items.
DAEMON_SILENCE_LIMIT = 120.0
LOOP_SLICE = 16_384  # characters or numbers handled between two yields to the event loop
# Room kept in a line for everything but the numbers or texts (event, session id, model name, usage).
ENVELOPE_BYTES = 64 * 1024
# The most bytes one float32-precise number takes in the SDK's JSON, with its comma: 19 characters
# (e.g. -9876543210000000.0: 9 digits at 1e15) + 1; tests/test_daemon_limits.py tries every exponent.
FLOAT_BYTES = 20
# An embedding's dimension when validation has not learned it: the largest common models'
# (Qwen3-Embedding-8B and NV-Embed-v2 have 4,096) twice over.
UNKNOWN_DIMENSION = 8192
STDIN_CHECK = 1.0  # seconds between two looks at whether the daemon closed stdin


def text_bytes(text: str) -> int:
    """Bytes of `text` as a JSON string in the SDK's output (UTF-8; pydantic escapes as json does)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def vectors_per_answer(dimension: int | None) -> int:
    """How many embeddings of `dimension` numbers fit in one answer, whatever their values."""
    room = DAEMON_LINE_BYTES - 1 - ENVELOPE_BYTES
    return max(1, room // ((dimension or UNKNOWN_DIMENSION) * FLOAT_BYTES + 2))


def check_vectors(vectors: list[list[float]]) -> None:
    """InvokeBadRequestError unless `vectors` fit in one answer whatever their values (the
    model's dimension changed since validation, or was never learned)."""
    most = sum(len(vector) * FLOAT_BYTES + 2 for vector in vectors)
    if most > DAEMON_LINE_BYTES - 1 - ENVELOPE_BYTES:
        dimension = max(map(len, vectors))
        raise InvokeBadRequestError(
            f"{len(vectors)} embeddings of {dimension} numbers can take {most:,} bytes, more than one answer "
            f"to Dify's daemon holds ({DAEMON_LINE_BYTES - 1:,} bytes); this model takes at most "
            f"{vectors_per_answer(dimension)} texts at once: save its credentials again so that the plugin learns that"
        )


def compact(vectors: list[list[float]]) -> list[list[float]]:
    """`vectors` with each number kept to float32 precision (9 significant digits), which every
    value a float32 model produces survives exactly: 21.5 bytes a number in the SDK's JSON
    become 13.9 for a normalised 4,096-dimension vector. Yields to the loop as it goes."""
    out = []
    for vector in vectors:
        numbers: list[float] = []
        for start in range(0, len(vector), LOOP_SLICE):
            numbers += [float(f"{x:.9g}") for x in vector[start : start + LOOP_SLICE]]
            gevent.sleep(0)
        out.append(numbers)
    return out


def best_that_fit[T](ranked: Iterable[T], text_of: Any) -> list[T]:
    """The leading items of `ranked` (best first) whose texts fit in one answer together."""
    room = DAEMON_LINE_BYTES - 1 - ENVELOPE_BYTES
    kept = []
    for item in ranked:
        room -= text_bytes(text_of(item)) + 64  # the text and its index, score and keys
        if room < 0:
            break
        kept.append(item)
    return kept


# -- the process: stdout lines and stdin's end (local install only, where stdio is the protocol)

SESSION = re.compile(r'\{"event":"session","session_id":(null|"(?:[^"\\]|\\.)*")')


def refusal(line: str, size: int) -> str:
    """What is written instead of a `size`-byte line the daemon would refuse: an error for its session."""
    message = (
        f"the answer to this call was {size:,} bytes as one line, over the "
        f"{DAEMON_LINE_BYTES - 1:,} bytes the Dify daemon reads (PLUGIN_RUNTIME_MAX_BUFFER_SIZE); "
        "ask for less at once: fewer texts or documents, a lower max_tokens, or a streamed answer"
    )
    session = SESSION.match(line[:300])
    if session is None:
        return json.dumps(
            {"event": "log", "data": {"level": "ERROR", "message": message, "timestamp": time.time()}}
        )
    error = {"error_type": "InvokeBadRequestError", "message": message, "args": {"description": message}}
    return json.dumps(
        {
            "event": "session",
            "session_id": json.loads(session.group(1)),
            "data": {"type": "error", "data": error},
        },
        separators=(",", ":"),
    )


class LineGuard:
    """sys.stdout for the SDK: passes every write through, except a line the daemon would refuse."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._open = 0  # bytes written since the last newline

    def write(self, data: str) -> int:
        lines = data.split("\n")
        for index, line in enumerate(lines):
            size = len(line) if line.isascii() else len(line.encode("utf-8", "surrogatepass"))
            if self._open + size >= DAEMON_LINE_BYTES:
                lines[index], size = refusal(line, self._open + size), 0
            self._open = 0 if index < len(lines) - 1 else self._open + size
        self._out.write("\n".join(lines))
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)


def end_when_stdin_closes() -> None:
    """Exit once the daemon has closed stdin and everything in it was read: the SDK's reader
    gets b"" from then on and retries at once, forever, at 100% CPU."""
    poll = monkey.get_original("select", "poll")()
    poll.register(sys.stdin.fileno(), select.POLLIN)
    while True:
        events = poll.poll(0)
        if events and events[0][1] & select.POLLHUP and not events[0][1] & select.POLLIN:
            sys.stdout.flush()
            os._exit(0)
        gevent.sleep(STDIN_CHECK)


def guard_stdio() -> None:
    """Keep every stdout line within the daemon's limit, and end the process with stdin."""
    sys.stdout = LineGuard(sys.stdout)  # type: ignore[assignment]
    gevent.spawn(end_when_stdin_closes)
