"""Request bodies as JSON, encoded without holding the event loop.

httpx's `json=` encodes a body in one call: a 50 MB prompt holds the loop for about 0.3 s, and
every other call of the plugin with it. Here long strings are escaped LOOP_SLICE characters at a
time, with a yield between slices; the bytes are those httpx would send (UTF-8, compact).
"""

import json
from collections.abc import Iterator
from typing import Any

import gevent

from models.server import daemon

PIECE_BYTES = 64 * 1024  # the body goes to httpx in pieces of about this size


def as_content(kwargs: dict[str, Any]) -> dict[str, Any]:
    """httpx request arguments with `json=` replaced by the encoded body, in pieces, and its headers.

    In pieces: httpcore sends a body by slicing off what the socket took, copying the rest each
    time, which for one 50 MB piece holds the loop as long as encoding it at once did.
    """
    if "json" not in kwargs:
        return kwargs
    kwargs = dict(kwargs)
    pieces = json_pieces(kwargs.pop("json"))
    size = str(sum(map(len, pieces)))
    headers = {**(kwargs.get("headers") or {}), "Content-Type": "application/json", "Content-Length": size}
    return {**kwargs, "content": Paced(pieces), "headers": headers}


class Paced:
    """A body's pieces with a turn of the loop after each: a socket that never fills (a fast
    server on loopback) would otherwise let httpcore send a 50 MB body in one go. Iterable again
    for a request sent once more (transport.request)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            yield piece
            gevent.sleep(0)


def json_pieces(value: Any) -> list[bytes]:
    """`value` as compact UTF-8 JSON, as httpx encodes it (NaN refused), in pieces of about PIECE_BYTES."""
    parts: list[bytes] = []
    _encode(value, parts)
    pieces: list[bytes] = []
    pending: list[bytes] = []  # small parts, joined once they add up to PIECE_BYTES
    size = 0
    for part in parts:
        if len(part) < PIECE_BYTES // 4:
            pending.append(part)
            size += len(part)
            if size < PIECE_BYTES:
                continue
            part, pending, size = b"".join(pending), [], 0
        elif pending:
            pieces.append(b"".join(pending))
            pending, size = [], 0
        pieces.append(part)  # a slice of a long string, sent as it is: no copy of it is made
    return [*pieces, b"".join(pending)] if pending or not pieces else pieces


def _plain(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _encode(value: Any, parts: list[bytes]) -> None:
    if isinstance(value, str) and len(value) > daemon.LOOP_SLICE:
        parts.append(b'"')
        for start in range(0, len(value), daemon.LOOP_SLICE):
            parts.append(_plain(value[start : start + daemon.LOOP_SLICE])[1:-1])
            gevent.sleep(0)
        parts.append(b'"')
    elif isinstance(value, dict) and all(isinstance(key, str) for key in value):
        parts.append(b"{")
        for index, (key, item) in enumerate(value.items()):
            parts.append(b"," + _plain(key) + b":" if index else _plain(key) + b":")
            _encode(item, parts)
        parts.append(b"}")
    elif isinstance(value, (list, tuple)):
        parts.append(b"[")
        for index, item in enumerate(value):
            if index:
                parts.append(b",")
            _encode(item, parts)
        parts.append(b"]")
    else:
        parts.append(_plain(value))
