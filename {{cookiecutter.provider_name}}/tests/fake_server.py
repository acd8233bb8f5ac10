{% set plan = cookiecutter | plan %}
"""A small OpenAI/Xinference-style model server for the tests, on 127.0.0.1 only.

Run as its own process (`python tests/fake_server.py`, which prints its port; one Ctrl+C or
SIGTERM stops it) so the plugin, in-process or over stdio, talks to a real socket. It behaves like a real
server where that matters: TCP_NODELAY, a listen backlog for hundreds of clients at once,
chunked streams, the error bodies real servers send. Tests steer it through `/_control/*`:
scripted faults for the next matching requests (see `FakeServer.fault` in conftest.py for the
hostile ones), a required API key, model features (`/_control/features`; `family` makes it answer
as vLLM, SGLang, Ollama, LM Studio, LocalAI or LiteLLM do, see fake_families.py; `typed` makes each
model answer only its own type's requests), the list of requests
it received (each with the order it was answered in) and how many waited for an answer at once.
"""

import argparse
{% if plan.has("text-embedding") or plan.has("rerank") %}
import base64
import binascii
{% endif %}
import email.parser
import functools
{% if plan.has("text-embedding") or plan.has("rerank") %}
import hashlib
{% endif %}
import json
import re
import signal
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import fake_families

# uid -> Xinference's description of a running model (GET /v1/models/{uid}), per model type below.
MODELS: dict[str, dict[str, Any]] = {}
# (method, path) -> the function answering it, per model type below.
ROUTES: dict[tuple[str, str], Callable[..., None]] = {}
MIB = 1024 * 1024


class State:
    """What tests can change: faults, the required key, held requests, model features, and the
    request log."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.epoch = 0  # resets so far: requests from before the last one are not counted
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.faults: list[dict[str, Any]] = []
            self.api_key: str | None = None
            self.describe = True  # False: behave like a server without GET /v1/models/{uid}
            self.mount = "/v1"  # where the API's routes are: "" at the root, "/api/v1" under a gateway
            self.listed: list[str] | None = None  # the model list's ids, if not every model's
            self.hold: threading.Barrier | None = None  # answer nothing until this many requests wait
            self.requests: list[dict[str, Any]] = []
            self.epoch += 1
            self.answers = 0  # answers started since the reset
            self.waiting = 0  # requests received since the reset and not answered yet
            self.peak = 0  # the most of them at once
            self.features: dict[str, Any] = {}  # what the feature sections below read, by name
            self.closed: list[float] = []  # seconds an endless stream ran before its client closed it

    def take_fault(self, path: str, body: Any) -> dict[str, Any] | None:
        """The first fault for `path` (and, if it names one, for the model in the request body)."""
        model = body.get("model") if isinstance(body, dict) else None
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.get("path", "")) and fault.get("model", model) == model:
                    fault["times"] = fault.get("times", 1) - 1
                    if fault["times"] <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


STATE = State()


def form_fields(content_type: str, raw: bytes) -> dict[str, str]:
    """A multipart form's fields: text values as sent, files as "<filename>, <size> bytes"."""
    message = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields = {}
    for part in message.get_payload() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        fields[name] = f"{filename}, {len(data)} bytes" if filename else data.decode("utf-8", "replace")
    return fields


WBITS = {"gzip": 31, "deflate": 15, "raw-deflate": -15}  # zlib's names for the Content-Encodings


def compress(data: bytes, encoding: str) -> bytes:
    """`data` in a Content-Encoding: gzip, deflate (zlib) or raw-deflate (deflate without its
    header); any other name sends `data` as it is, labelled with that name."""
    if encoding not in WBITS:
        return data
    packer = zlib.compressobj(6, zlib.DEFLATED, WBITS[encoding])
    return packer.compress(data) + packer.flush()


@functools.cache
def huge_json(size: int, encoding: str | None) -> list[bytes]:
    """A JSON object of `size` bytes (mostly spaces) in pieces of 1 MiB, gzip- or zlib-compressed
    if asked. Compressed, each piece ends with a full flush, so one packed piece can be repeated:
    300 MB of spaces take 0.3 MB on the wire and a few milliseconds to build."""
    head, tail, block = b'{"data": "', b'"}', b" " * MIB
    pieces = [head, *[block] * ((size - len(head) - len(tail)) // MIB)]
    pieces += [b" " * (size - len(tail) - sum(map(len, pieces))), tail]
    if not encoding:
        return pieces
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    packed: dict[int, bytes] = {}
    gzip = encoding == "gzip"
    check = 0 if gzip else 1  # CRC-32 for gzip, Adler-32 for zlib
    out = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" if gzip else b"\x78\x9c"]
    for piece in pieces:
        if id(piece) not in packed:
            packed[id(piece)] = packer.compress(piece) + packer.flush(zlib.Z_FULL_FLUSH)
        out.append(packed[id(piece)])
        check = zlib.crc32(piece, check) if gzip else zlib.adler32(piece, check)
    trailer = struct.pack("<II", check, size & 0xFFFFFFFF) if gzip else struct.pack(">I", check)
    return [*out, packer.flush(), trailer]


class Trickle:
    """A file that sends what is written one byte at a time, `interval` seconds apart."""

    def __init__(self, wfile: Any, interval: float) -> None:
        self.wfile, self.interval = wfile, interval

    def write(self, data: bytes) -> int:
        for byte in range(len(data)):
            self.wfile.write(data[byte : byte + 1])
            self.wfile.flush()
            time.sleep(self.interval)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wfile, name)  # flush, close, closed


def mounted(path: str) -> str:
    """The path as the routes below know it (under /v1), for a server whose API is at STATE.mount;
    a path outside the mount is one no route answers."""
    mount = STATE.mount
    if mount == "/v1" or path.startswith("/_control/"):
        return path
    return "/v1" + path[len(mount) :] if path.startswith(mount + "/") else "/not-mounted" + path


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY, as uvicorn and other real servers set it
    fault: dict[str, Any] | None = None  # the scripted fault for the request being answered
    entry: dict[str, Any] | None = None  # the request being answered, in the log, until answered
    epoch = 0  # the server's epoch when it arrived
    packer: Any = None  # compresses the chunks of the answer being sent, if the fault asks

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    # -- plumbing -----------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _echo(self, text: str) -> str:
        """`text` with {api_key} replaced by the key this request carried, and {header:<name>} by
        that header's value: a server echoing them."""
        key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        text = re.sub(r"\{header:([\w-]+)\}", lambda m: self.headers.get(m.group(1)) or "", text)
        return text.replace("{api_key}", key)

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        text = (
            body.decode() if isinstance(body, bytes) else body if isinstance(body, str) else json.dumps(body)
        )
        data = self._echo(text).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        encoding = (self.fault or {}).get("encoding")
        if encoding:
            data = compress(data, encoding)
            self.send_header("Content-Encoding", "deflate" if encoding == "raw-deflate" else encoding)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_chunked(self, content_type: str, packed: bool = False) -> None:
        """Start a chunked answer, compressed chunk by chunk if the fault asks for an `encoding`
        (unless `packed`: the chunks come compressed already)."""
        encoding = (self.fault or {}).get("encoding")
        self.packer = None
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        if encoding:
            self.send_header("Content-Encoding", "deflate" if encoding == "raw-deflate" else encoding)
            if not packed:
                self.packer = zlib.compressobj(6, zlib.DEFLATED, WBITS[encoding])
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if self.packer:
            data = self.packer.compress(data) + self.packer.flush(zlib.Z_SYNC_FLUSH)
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunked(self) -> None:
        if self.packer:
            rest = self.packer.flush()
            self.wfile.write(f"{len(rest):x}\r\n".encode() + rest + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        """Drop the connection without finishing the answer."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _sse(self, events: list[Any], fault: dict[str, Any] | None) -> None:
        self._start_chunked("text/event-stream")
        cut_after = (fault or {}).get("cut_after")
        for index, event in enumerate(events):
            if cut_after is not None and index >= cut_after:
                self._cut()
                return
            line = event if isinstance(event, str) else json.dumps(event)
            self._chunk(self._echo(f"data: {line}\n\n").encode())
            if (fault or {}).get("chunk_delay"):
                time.sleep(fault["chunk_delay"])
        self._chunk(b"data: [DONE]\n\n")
        self._end_chunked()

    # -- hostile answers ------------------------------------------------------------------
    def _hostile(self, fault: dict[str, Any]) -> bool:
        """Answer as a broken or hostile server would, if `fault` says how; False if it does not."""
        if "lines" in fault:  # raw stream lines: error events, malformed lines, comments
            self._start_chunked("text/event-stream")
            for line in fault["lines"]:
                self._chunk(self._echo(line + "\n").encode())
            self._end_chunked()
            return True
        if "comments" in fault:  # keep-alive comments, never an event
            self._start_chunked("text/event-stream")
            while True:
                self._chunk(b": keep-alive\n\n")
                time.sleep(fault["comments"])
        if "endless" in fault:  # content events that never stop while the client reads them
            self._start_chunked("text/event-stream")
            event = {"choices": [{"index": 0, "delta": {"content": "more "}}]}
            chunk = f"data: {json.dumps(event)}\n\n".encode() * 16
            started = time.monotonic()
            try:
                while True:
                    self._chunk(chunk)
                    time.sleep(fault["endless"])
            except OSError:  # the client closed the connection: a real server stops generating here
                with STATE.lock:
                    STATE.closed.append(time.monotonic() - started)
                self.close_connection = True
                return True
        if "line" in fault:  # one stream line of this many bytes, never ended
            self._start_chunked("text/event-stream")
            self._chunk(b'data: {"choices": [{"index": 0, "delta": {"content": "')
            for _ in range(fault["line"] // MIB):
                self._chunk(b"x" * MIB)
            self._end_chunked()
            return True
        if "size" in fault:  # a body of this many bytes (after decompression)
            content_type = fault.get("content_type", "application/json")
            pieces = huge_json(fault["size"], fault.get("encoding"))
            if fault.get("chunked", True):
                self._start_chunked(content_type, packed=True)
                for piece in pieces:
                    self._chunk(piece)
                self._end_chunked()
                return True
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            if fault.get("encoding"):
                self.send_header("Content-Encoding", fault["encoding"])
            self.send_header("Content-Length", str(sum(len(piece) for piece in pieces)))
            self.end_headers()
            for piece in pieces:
                self.wfile.write(piece)
            return True
        return False

    # -- dispatch -----------------------------------------------------------------------
    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            self._answered()  # a dropped connection answers nothing

    def send_response(self, code: int, message: str | None = None) -> None:
        self._answered()  # before the first byte: the client cannot send its next request sooner
        super().send_response(code, message)

    def _answered(self) -> None:
        """Count the request being handled as answered (once), and note its place in the answer order."""
        if self.entry is None:
            return
        with STATE.lock:
            if self.epoch == STATE.epoch:
                STATE.waiting -= 1
                self.entry["answered"] = STATE.answers
                STATE.answers += 1
        self.entry = None

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET", b"")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST", self._body())

    def _handle(self, method: str, raw: bytes) -> None:
        received = self.path.split("?")[0]
        self.fault = None
        if received.startswith("/_control/"):
            return self._control(received, raw)
        path = mounted(received)
        content_type = self.headers.get("Content-Type", "")
        body: Any = None
        if raw and content_type.startswith("application/json"):
            body = json.loads(raw)
        with STATE.lock:
            self.entry = {
                "method": method,
                "path": received,
                "json": body,
                "size": len(raw),
                "content_type": content_type,
                "authorization": self.headers.get("Authorization"),
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "accept_encoding": self.headers.get("Accept-Encoding"),
                "client_port": self.client_address[1],  # equal across requests = a reused connection
                "form": form_fields(content_type, raw) if content_type.startswith("multipart/") else None,
            }
            STATE.requests.append(self.entry)
            self.epoch = STATE.epoch
            STATE.waiting += 1
            STATE.peak = max(STATE.peak, STATE.waiting)
            hold = STATE.hold
        if hold is not None:
            try:
                hold.wait()
            except threading.BrokenBarrierError:
                return self._send(503, {"detail": "not enough requests arrived at once"})
        if STATE.api_key and self.headers.get("Authorization") != f"Bearer {STATE.api_key}":
            return self._send(401, {"detail": "Could not validate credentials"})
        self.fault = fault = STATE.take_fault(path, body)
        if fault:
            if fault.get("trickle"):
                self.wfile = Trickle(self.wfile, fault["trickle"])
                self.close_connection = True
            time.sleep(fault.get("delay", 0))
            if fault.get("drop"):
                return self._cut()
            if "status" in fault:
                body_out = fault.get("body", {"detail": f"scripted {fault['status']}"})
                return self._send(fault["status"], body_out, fault.get("content_type", "application/json"))
            if self._hostile(fault):
                return None
        family = STATE.features.get("family")
        found = fake_families.answer(family, method, path, body, MODELS) if family else None
        if found:
            return self._send(*found)
        form = (self.entry.get("form") if self.entry else None) or {}
        uid = body.get("model") if isinstance(body, dict) else form.get("model")
        if STATE.features.get("typed") and not serves(uid, path):
            return self._send(400, {"detail": f"Model {uid} does not serve {path}"})
        route = ROUTES.get((method, path))
        if route:
            return route(self, body, raw, fault)
        if method == "GET" and path.startswith("/v1/models/"):
            return self._describe(path.removeprefix("/v1/models/"))
        if (method, path) == ("GET", "/v1/models"):
            listed = list(MODELS) if STATE.listed is None else STATE.listed
            data = [{"id": uid, "object": "model"} for uid in listed]
            return self._send(200, {"object": "list", "data": data})
        return self._send(404, {"detail": "Not Found"})

    def _control(self, path: str, raw: bytes) -> None:
        command = json.loads(raw) if raw else {}
        if path == "/_control/reset":
            STATE.reset()
        elif path == "/_control/fault":
            with STATE.lock:
                STATE.faults.append(command)
        elif path == "/_control/features":
            with STATE.lock:
                STATE.features.update(command)
        elif path == "/_control/config":
            STATE.api_key = command.get("api_key", STATE.api_key)
            STATE.describe = command.get("describe", STATE.describe)
            STATE.mount = command.get("mount", STATE.mount)
            STATE.listed = command.get("listed", STATE.listed)
            if command.get("hold"):
                STATE.hold = threading.Barrier(command["hold"], timeout=command.get("hold_timeout", 30))
        elif path == "/_control/requests":
            with STATE.lock:
                return self._send(200, STATE.requests)
        elif path == "/_control/closed":
            with STATE.lock:
                return self._send(200, STATE.closed)
        elif path == "/_control/peak":
            with STATE.lock:
                return self._send(200, {"peak": STATE.peak, "waiting": STATE.waiting})
        return self._send(200, {"ok": True})

    def _describe(self, uid: str) -> None:
        if not STATE.describe or STATE.features.get("family"):
            return self._send(404, {"detail": "Not Found"})
        if uid not in MODELS:
            return self._send(400, {"detail": f"Model not found in the model list, uid: {uid}"})
        self._send(200, {"model_name": uid, "model_family": "fake", **MODELS[uid]})
{% if plan.has("llm") or plan.has("text-embedding") or plan.has("rerank") %}


# -- llama.cpp's description of its model, which validation reads ---------------------------
def props(handler: Handler, body: Any, raw: bytes, fault: Any) -> None:
    """The `props` feature a test set, else llama.cpp's 404 as any other server answers."""
    answer = STATE.features.get("props")
    if answer is None:
        error = {"code": 404, "message": "File Not Found", "type": "not_found_error"}
        return handler._send(404, {"error": error})
    handler._send(200, answer)


ROUTES[("GET", "/props")] = props
{% endif %}
{% if plan.has("text-embedding") or plan.has("rerank") %}


# -- images, for the models with a "vision" ability -----------------------------------------
def image_bytes(url: str) -> bytes | None:
    """The bytes of a base64 data URI of a PNG, JPEG or GIF image, else None."""
    if not url.startswith("data:image/") or ";base64," not in url:
        return None
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")) else None


def item_key(item: Any) -> str | None:
    """What a text or image input is compared by: its text, or its image's digest."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get("text"), str):
        return item["text"]
    data = image_bytes(item.get("image", "")) if isinstance(item, dict) else None
    return f"image:{hashlib.sha256(data).hexdigest()[:16]}" if data else None


def input_keys(handler: Handler, model: Any, items: list[Any]) -> list[str] | None:
    """The keys of `items`; None once it answered 400, as servers do for an input they cannot
    read or an image for a model without the "vision" ability."""
    keys = [key for key in map(item_key, items) if key is not None]
    if len(keys) < len(items):
        detail = "each input must be {'text': ...} or {'image': <base64 image data URI>}"
        handler._send(400, {"detail": detail})
        return None
    vision = "vision" in MODELS.get(model, {}).get("model_ability", [])
    if not vision and any(key.startswith("image:") for key in keys):
        handler._send(400, {"detail": f"model {model} does not support image input"})
        return None
    return keys
{% endif %}
{% if plan.has("llm") %}


# -- llm ------------------------------------------------------------------------------------
MODELS["chat-model"] = {"model_type": "LLM", "model_ability": ["chat", "tools"], "context_length": 8192}
MODELS["vision-model"] = {"model_type": "LLM", "model_ability": ["chat", "vision"], "context_length": 4096}
MODELS["generate-model"] = {"model_type": "LLM", "model_ability": ["generate"], "context_length": 2048}
# Xinference's description of a hybrid-thinking GGUF model, and of an omni model.
MODELS["qwen3-model"] = {
    "model_type": "LLM",
    "model_ability": ["chat", "tools", "reasoning", "hybrid"],
    "model_format": "ggufv2",
    "context_length": 32768,
}
MODELS["omni-model"] = {"model_type": "LLM", "model_ability": ["chat", "omni"], "model_format": "pytorch"}
# How servers say they do not know a field, by style (the `style` feature).
REFUSALS = {
    "openai": lambda field: (
        400,
        {
            "error": {
                "message": f"Unrecognized request argument supplied: {field}",
                "type": "invalid_request_error",
                "param": field,
                "code": None,
            }
        },
    ),
    "pydantic": lambda field: (
        422,
        {
            "detail": [
                {
                    "type": "extra_forbidden",
                    "loc": ["body", field],
                    "msg": "Extra inputs are not permitted",
                    "input": None,
                }
            ]
        },
    ),
    "max_completion_tokens": lambda field: (
        400,
        {
            "error": {
                "message": f"Unsupported parameter: '{field}' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "type": "invalid_request_error",
                "param": field,
            }
        },
    ),
}


def refused(handler: Handler, body: dict) -> bool:
    """Answer as a server that does not know a field of the `refuse` feature, if one was sent."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    sent = set(body) | {key for message in messages for key in message}  # reasoning_content is a message's
    field = next((field for field in STATE.features.get("refuse", []) if field in sent), None)
    if field is None:
        return False
    handler._send(*REFUSALS[STATE.features.get("style", "openai")](field))
    return True


def chat(handler: Handler, body: dict, raw: bytes, fault: Any) -> None:
    if refused(handler, body):
        return None
    if body.get("model") not in MODELS:
        return handler._send(400, {"detail": f"Model not found: {body.get('model')}"})
    context = STATE.features.get("context")
    refusal = fake_families.overflow(context, body) if context else None
    if refusal:
        return handler._send(*refusal)
    script = (fault or {}).get("reply") or {}
    last = next((m for m in reversed(body["messages"]) if m.get("role") == "user"), {"content": ""})
    content = last["content"]
    if isinstance(content, list):
        content = " ".join(p.get("text", "[image]") for p in content if isinstance(p, dict))
    text = script.get("content", f"pong: {content}")
    tool_calls = script.get("tool_calls")
    usage = script.get("usage", {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18})
    if not body.get("stream"):
        message = {"role": "assistant", "content": text}
        if tool_calls:
            message["tool_calls"] = tool_calls
        if "reasoning_content" in script:
            message["reasoning_content"] = script["reasoning_content"]
        finish = "tool_calls" if tool_calls else "stop"
        answer = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "/path/to/weights",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if not script.get("no_usage"):
            answer["usage"] = usage
        return handler._send(200, script.get("raw_body", answer))
    events: list[Any] = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]}]
    if "reasoning_content" in script:
        events.append(
            {"choices": [{"index": 0, "delta": {"reasoning_content": script["reasoning_content"]}}]}
        )
    for piece in script.get("stream_tool_deltas", []):
        events.append({"choices": [{"index": 0, "delta": {"tool_calls": [piece]}}]})
    pieces = script.get("pieces") or [word + " " for word in (text.split(" ") if text else [])]
    for piece in pieces:
        events.append({"choices": [{"index": 0, "delta": {"content": piece}}]})
    finish = "tool_calls" if script.get("stream_tool_deltas") else "stop"
    if not script.get("no_finish"):  # older LocalAI and Ollama end with [DONE] alone
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    events.extend(script.get("extra_events", []))
    if (body.get("stream_options") or {}).get("include_usage") and not script.get("no_usage"):
        events.append({"choices": [], "usage": usage})
    handler._sse(events, fault)


def completion(handler: Handler, body: dict, raw: bytes, fault: Any) -> None:
    if refused(handler, body):
        return None
    text = f"generated: {body.get('prompt', '')}"[:200]
    if not body.get("stream"):
        return handler._send(
            200,
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
            },
        )
    events = [{"choices": [{"index": 0, "text": w + " "}]} for w in text.split(" ")]
    events.append({"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]})
    handler._sse(events, fault)


ROUTES[("POST", "/v1/chat/completions")] = chat
ROUTES[("POST", "/v1/completions")] = completion
{% endif %}
{% if plan.has("text-embedding") %}


# -- text embedding -------------------------------------------------------------------------
MODELS["embed-model"] = {
    "model_type": "embedding",
    "model_ability": ["embed"],
    "dimensions": 4,
    "max_tokens": 512,
}
MODELS["vl-embed-model"] = {
    "model_type": "embedding",
    "model_ability": ["embed", "vision"],
    "max_tokens": 512,
}


def vector(text: str) -> list[float]:
    """A deterministic 4-dimensional embedding of a text."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [len(text) / 100.0] + [digest[i] / 255.0 for i in range(3)]


def embeddings(handler: Handler, body: dict, raw: bytes, fault: Any) -> None:
    if body.get("model") not in MODELS:
        return handler._send(404, {"detail": f"Model not found: {body.get('model')}"})
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    texts = input_keys(handler, body["model"], inputs)  # texts, and images as their digests
    if texts is None:
        return None
    fixed = STATE.features.get("embedding")  # one vector for every text: tests of answer sizes
    data = [{"object": "embedding", "index": i, "embedding": fixed or vector(t)} for i, t in enumerate(texts)]
    tokens = sum(len(t.split()) for t in texts)
    handler._send(
        200, {"object": "list", "data": data, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )


ROUTES[("POST", "/v1/embeddings")] = embeddings
{% endif %}
{% if plan.has("rerank") %}


# -- rerank ---------------------------------------------------------------------------------
MODELS["rerank-model"] = {"model_type": "rerank", "model_ability": ["rerank"]}
MODELS["vl-rerank-model"] = {"model_type": "rerank", "model_ability": ["rerank", "vision"]}


def words(text: str) -> set[str]:
    return {w.strip(".,!?").lower() for w in text.split()}


def rerank(handler: Handler, body: dict, raw: bytes, fault: Any) -> None:
    keys = input_keys(handler, body.get("model"), [body["query"], *body["documents"]])
    if keys is None:
        return None
    query = words(keys[0])  # an image matches itself: its digest is its one word
    results = []
    for index, doc in enumerate(keys[1:]):
        score: Any = len(query & words(doc)) / (len(query) or 1)
        result: dict[str, Any] = {"index": index, "relevance_score": score}
        if (fault or {}).get("scores_as_strings"):
            result["relevance_score"] = str(score)
        if (fault or {}).get("missing_scores") and index % 2:
            del result["relevance_score"]
        if body.get("return_documents"):
            result["document"] = {"text": doc}
        results.append(result)
    results.sort(key=lambda r: -float(r.get("relevance_score", 0)))
    if body.get("top_n"):
        results = results[: body["top_n"]]
    handler._send(200, {"id": "rerank-1", "results": results})


ROUTES[("POST", "/v1/rerank")] = rerank
{% endif %}
{% if plan.has("speech2text") %}


# -- speech to text -------------------------------------------------------------------------
MODELS["whisper"] = {"model_type": "audio", "model_ability": ["audio2text"]}


def transcribe(handler: Handler, body: Any, raw: bytes, fault: Any) -> None:
    handler._send(200, {"text": f"transcript of {len(raw)} bytes"})


ROUTES[("POST", "/v1/audio/transcriptions")] = transcribe
{% endif %}
{% if plan.has("tts") %}


# -- text to speech -------------------------------------------------------------------------
MODELS["tts-model"] = {"model_type": "audio", "model_ability": ["text2audio"]}


# The audio each format starts with, and its content type.
AUDIO_FORMATS = {"mp3": (b"ID3", "audio/mpeg"), "wav": (b"RIFF", "audio/wav")}


def speech(handler: Handler, body: dict, raw: bytes, fault: Any) -> None:
    """Audio in the asked format; with the `no_mp3` feature, a 400 to mp3 as from a server without
    ffmpeg (a stand-in body: servers word it their own way, the status is what the plugin reads)."""
    audio_format = body.get("response_format", "mp3")
    if audio_format == "mp3" and STATE.features.get("no_mp3"):
        return handler._send(400, {"detail": "response_format mp3 needs ffmpeg, which is not installed"})
    magic, content_type = AUDIO_FORMATS.get(audio_format, AUDIO_FORMATS["mp3"])
    audio = magic + body["input"].encode("utf-8") * 3 + body.get("voice", "").encode()
    cut_after = (fault or {}).get("cut_after")
    handler._start_chunked(content_type)
    for number, start in enumerate(range(0, len(audio), 16)):
        if cut_after is not None and number >= cut_after:
            return handler._cut()
        handler._chunk(audio[start : start + 16])
    handler._end_chunked()


ROUTES[("POST", "/v1/audio/speech")] = speech
{% endif %}
{% if plan.has("moderation") %}


# -- moderation -----------------------------------------------------------------------------
MODELS["moderation-model"] = {"model_type": "moderation", "model_ability": ["moderate"]}


def moderate(handler: Handler, body: dict, raw: bytes, fault: Any) -> None:
    flagged = any(w in body["input"].lower() for w in ("kill", "hate"))
    handler._send(
        200, {"id": "modr-1", "results": [{"flagged": flagged, "categories": {"violence": flagged}}]}
    )


ROUTES[("POST", "/v1/moderations")] = moderate
{% endif %}


# The `typed` feature: a server that answers a model's requests only at its own type's paths (as
# one running each model for one task does), by the words of the model's description.
PATHS_BY_KIND = {
{% if plan.has("llm") %}
    "llm": ("/v1/chat/completions", "/v1/completions"),
{% endif %}
{% if plan.has("text-embedding") %}
    "embedding": ("/v1/embeddings",),
{% endif %}
{% if plan.has("rerank") %}
    "rerank": ("/v1/rerank",),
{% endif %}
{% if plan.has("speech2text") %}
    "audio2text": ("/v1/audio/transcriptions",),
{% endif %}
{% if plan.has("tts") %}
    "text2audio": ("/v1/audio/speech",),
{% endif %}
{% if plan.has("moderation") %}
    "moderation": ("/v1/moderations",),
{% endif %}
}


def serves(uid: Any, path: str) -> bool:
    """Whether model `uid` answers at `path` (True for paths of no model type, and unknown models)."""
    described = MODELS.get(uid) if isinstance(uid, str) else None
    if described is None or not any(path in paths for paths in PATHS_BY_KIND.values()):
        return True
    kinds = {str(described.get("model_type", "")).lower(), *described.get("model_ability", [])}
    return any(path in PATHS_BY_KIND.get(kind, ()) for kind in kinds)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: hundreds of clients may connect at once
    tls: ssl.SSLContext | None = None  # set: an https server

    def get_request(self) -> tuple[socket.socket, Any]:
        """A client's socket, wrapped in TLS if this is an https server: the handshake happens on
        the first read, in that client's thread, so a client refusing the certificate stops no other."""
        connection, address = super().get_request()
        if self.tls is not None:
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer is normal here (the plugin gave up on a hostile one)."""


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def stop(signum: int, frame: Any) -> None:
    raise Stop(signal.Signals(signum).name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--lifetime", type=float, default=600.0, help="seconds before the server stops itself"
    )
    parser.add_argument("--certificate", help="serve https with this PEM certificate chain and key")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    if args.certificate:
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(args.certificate)
    try:
        # Set, not inherited: a background job of a script starts with SIGINT ignored, and one
        # Ctrl+C or one SIGTERM (the tests' stop) must end the server all the same.
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        print(server.server_address[1], flush=True)
        stopper = threading.Timer(args.lifetime, server.shutdown)
        stopper.daemon = True  # a signal must not wait for it
        stopper.start()
        server.serve_forever()
    except Stop:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
