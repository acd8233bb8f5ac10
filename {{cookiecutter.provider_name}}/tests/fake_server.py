"""A small OpenAI/Xinference-style model server for the tests, on 127.0.0.1 only.

Run as its own process (`python tests/fake_server.py`, which prints its port) so the
plugin, in-process or over stdio, talks to a real socket. Tests steer it through
`/_control/*` endpoints: scripted faults for the next matching requests, a required API key,
and the list of requests it received.
"""

import argparse
import email.parser
import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# uid -> Xinference's description of a running model (GET /v1/models/{uid}).
MODELS: dict[str, dict[str, Any]] = {
    "chat-model": {"model_type": "LLM", "model_ability": ["chat", "tools"], "context_length": 8192},
    "vision-model": {"model_type": "LLM", "model_ability": ["chat", "vision"], "context_length": 4096},
    "generate-model": {"model_type": "LLM", "model_ability": ["generate"], "context_length": 2048},
    "embed-model": {
        "model_type": "embedding",
        "model_ability": ["embed"],
        "dimensions": 4,
        "max_tokens": 512,
    },
    "rerank-model": {"model_type": "rerank", "model_ability": ["rerank"]},
    "whisper": {"model_type": "audio", "model_ability": ["audio2text"]},
    "tts-model": {"model_type": "audio", "model_ability": ["text2audio"]},
    "moderation-model": {"model_type": "moderation", "model_ability": ["moderate"]},
}


class State:
    """What tests can change: faults, the required key, and the request log."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.faults: list[dict[str, Any]] = []
            self.api_key: str | None = None
            self.describe = True  # False: behave like a server without GET /v1/models/{uid}
            self.requests: list[dict[str, Any]] = []

    def take_fault(self, path: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.get("path", "")):
                    fault["times"] = fault.get("times", 1) - 1
                    if fault["times"] <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


STATE = State()


def vector(text: str) -> list[float]:
    """A deterministic 4-dimensional embedding of a text."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [len(text) / 100.0] + [digest[i] / 255.0 for i in range(3)]


def words(text: str) -> set[str]:
    return {w.strip(".,!?").lower() for w in text.split()}


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


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    # -- plumbing -----------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = (
            body
            if isinstance(body, bytes)
            else (body if isinstance(body, str) else json.dumps(body)).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunked(self) -> None:
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
            self._chunk(f"data: {line}\n\n".encode())
            if (fault or {}).get("chunk_delay"):
                time.sleep(fault["chunk_delay"])
        self._chunk(b"data: [DONE]\n\n")
        self._end_chunked()

    # -- dispatch -----------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET", b"")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST", self._body())

    def _handle(self, method: str, raw: bytes) -> None:
        path = self.path.split("?")[0]
        if path.startswith("/_control/"):
            return self._control(path, raw)
        content_type = self.headers.get("Content-Type", "")
        body: Any = None
        if raw and content_type.startswith("application/json"):
            body = json.loads(raw)
        with STATE.lock:
            STATE.requests.append(
                {
                    "method": method,
                    "path": path,
                    "json": body,
                    "size": len(raw),
                    "content_type": content_type,
                    "authorization": self.headers.get("Authorization"),
                    "client_port": self.client_address[1],  # equal across requests = a reused connection
                    "form": form_fields(content_type, raw) if content_type.startswith("multipart/") else None,
                }
            )
        if STATE.api_key and self.headers.get("Authorization") != f"Bearer {STATE.api_key}":
            return self._send(401, {"detail": "Could not validate credentials"})
        fault = STATE.take_fault(path)
        if fault:
            time.sleep(fault.get("delay", 0))
            if fault.get("drop"):
                return self._cut()
            if "status" in fault:
                body_out = fault.get("body", {"detail": f"scripted {fault['status']}"})
                return self._send(fault["status"], body_out, fault.get("content_type", "application/json"))
        if answer_features(self, method, path, body):
            return None
        route = {
            ("GET", "/v1/models"): self._list_models,
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/completions"): self._completion,
            ("POST", "/v1/embeddings"): self._embeddings,
            ("POST", "/v1/rerank"): self._rerank,
            ("POST", "/v1/audio/transcriptions"): self._transcribe,
            ("POST", "/v1/audio/speech"): self._speech,
            ("POST", "/v1/moderations"): self._moderate,
        }.get((method, path))
        if route:
            return route(body, raw, fault)
        if method == "GET" and path.startswith("/v1/models/"):
            return self._describe(path.removeprefix("/v1/models/"))
        return self._send(404, {"detail": "Not Found"})

    def _control(self, path: str, raw: bytes) -> None:
        command = json.loads(raw) if raw else {}
        if path == "/_control/reset":
            STATE.reset()
            FEATURES.reset()
        elif path == "/_control/features":
            FEATURES.configure(command)
        elif path == "/_control/fault":
            with STATE.lock:
                STATE.faults.append(command)
        elif path == "/_control/config":
            STATE.api_key = command.get("api_key", STATE.api_key)
            STATE.describe = command.get("describe", STATE.describe)
        elif path == "/_control/requests":
            with STATE.lock:
                return self._send(200, STATE.requests)
        return self._send(200, {"ok": True})

    # -- model endpoints ----------------------------------------------------------------
    def _list_models(self, body: Any, raw: bytes, fault: Any) -> None:
        self._send(200, {"object": "list", "data": [{"id": uid, "object": "model"} for uid in MODELS]})

    def _describe(self, uid: str) -> None:
        if not STATE.describe:
            return self._send(404, {"detail": "Not Found"})
        if uid not in MODELS:
            return self._send(400, {"detail": f"Model not found in the model list, uid: {uid}"})
        self._send(200, {"model_name": uid, "model_family": "fake", **MODELS[uid]})

    def _chat(self, body: dict, raw: bytes, fault: Any) -> None:
        if body.get("model") not in MODELS:
            return self._send(400, {"detail": f"Model not found: {body.get('model')}"})
        script = (fault or {}).get("reply") or {}
        last = next((m for m in reversed(body["messages"]) if m.get("role") == "user"), {"content": ""})
        content = last["content"]
        if isinstance(content, list):
            content = " ".join(p.get("text", "[image]") for p in content if isinstance(p, dict))
        text = script.get("content", f"pong: {content}")
        tool_calls = script.get("tool_calls")
        usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
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
            return self._send(200, script.get("raw_body", answer))
        events: list[Any] = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]}]
        if "reasoning_content" in script:
            events.append(
                {"choices": [{"index": 0, "delta": {"reasoning_content": script["reasoning_content"]}}]}
            )
        for piece in script.get("stream_tool_deltas", []):
            events.append({"choices": [{"index": 0, "delta": {"tool_calls": [piece]}}]})
        for word in text.split(" ") if text else []:
            events.append({"choices": [{"index": 0, "delta": {"content": word + " "}}]})
        finish = "tool_calls" if script.get("stream_tool_deltas") else "stop"
        events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        events.extend(script.get("extra_events", []))
        if (body.get("stream_options") or {}).get("include_usage") and not script.get("no_usage"):
            events.append({"choices": [], "usage": usage})
        self._sse(events, fault)

    def _completion(self, body: dict, raw: bytes, fault: Any) -> None:
        text = f"generated: {body.get('prompt', '')}"[:200]
        if not body.get("stream"):
            return self._send(
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
        self._sse(events, fault)

    def _embeddings(self, body: dict, raw: bytes, fault: Any) -> None:
        if body.get("model") not in MODELS:
            return self._send(404, {"detail": f"Model not found: {body.get('model')}"})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(texts)]
        tokens = sum(len(t.split()) for t in texts)
        self._send(
            200, {"object": "list", "data": data, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        )

    def _rerank(self, body: dict, raw: bytes, fault: Any) -> None:
        query = words(body["query"])
        results = []
        for index, doc in enumerate(body["documents"]):
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
        self._send(200, {"id": "rerank-1", "results": results})

    def _transcribe(self, body: Any, raw: bytes, fault: Any) -> None:
        self._send(200, {"text": f"transcript of {len(raw)} bytes"})

    def _speech(self, body: dict, raw: bytes, fault: Any) -> None:
        audio = b"ID3" + body["input"].encode("utf-8") * 3 + body.get("voice", "").encode()
        cut_after = (fault or {}).get("cut_after")
        self._start_chunked("audio/mpeg")
        for number, start in enumerate(range(0, len(audio), 16)):
            if cut_after is not None and number >= cut_after:
                return self._cut()
            self._chunk(audio[start : start + 16])
        self._end_chunked()

    def _moderate(self, body: dict, raw: bytes, fault: Any) -> None:
        flagged = any(w in body["input"].lower() for w in ("kill", "hate"))
        self._send(
            200, {"id": "modr-1", "results": [{"flagged": flagged, "categories": {"violence": flagged}}]}
        )


# -- model features (issue 13): llama.cpp's /props, refused fields, images -----------------------

MODELS.update(
    {
        # Xinference's description of a hybrid-thinking GGUF model, and of an omni model.
        "qwen3-model": {
            "model_type": "LLM",
            "model_ability": ["chat", "tools", "reasoning", "hybrid"],
            "model_format": "ggufv2",
            "context_length": 32768,
        },
        "omni-model": {"model_type": "LLM", "model_ability": ["chat", "omni"], "model_format": "pytorch"},
        "vl-embed-model": {
            "model_type": "embedding",
            "model_ability": ["embed", "vision"],
            "max_tokens": 512,
        },
        "vl-rerank-model": {"model_type": "rerank", "model_ability": ["rerank", "vision"]},
    }
)
IMAGE_MODELS = {"vl-embed-model", "vl-rerank-model"}
# How servers say they do not know a field, by style.
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


class FeatureState:
    """What tests set for the feature behaviours: /props, refused fields."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.props: dict[str, Any] | None = None  # None: no /props, like any server but llama.cpp
        self.refuse: list[str] = []
        self.style = "openai"

    def configure(self, command: dict[str, Any]) -> None:
        self.props = command.get("props", self.props)
        self.refuse = command.get("refuse", self.refuse)
        self.style = command.get("style", self.style)


FEATURES = FeatureState()


def image_bytes(url: str) -> bytes | None:
    """The bytes of a base64 data URI of a PNG, JPEG or GIF image, else None."""
    import base64
    import binascii

    if not url.startswith("data:image/") or ";base64," not in url:
        return None
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")) else None


def item_key(item: Any) -> str | None:
    """What a text or image input is embedded or ranked by: its words, or its image's digest."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get("text"), str):
        return item["text"]
    data = image_bytes(item.get("image", "")) if isinstance(item, dict) else None
    return f"image:{hashlib.sha256(data).hexdigest()[:16]}" if data else None


def answer_features(handler: Handler, method: str, path: str, body: Any) -> bool:
    """Answer the requests only the feature tests make; False for everything else."""
    if method == "GET" and path == "/props":
        if FEATURES.props is None:
            handler._send(
                404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}
            )
        else:
            handler._send(200, FEATURES.props)
        return True
    if method != "POST" or not isinstance(body, dict):
        return False
    refused = next((field for field in FEATURES.refuse if field in body), None)
    if refused and path in ("/v1/chat/completions", "/v1/completions"):
        handler._send(*REFUSALS[FEATURES.style](refused))
        return True
    items = (
        body.get("input")
        if path == "/v1/embeddings"
        else body.get("documents")
        if path == "/v1/rerank"
        else None
    )
    query = body.get("query")
    if not isinstance(items, list) or not any(isinstance(item, dict) for item in [*items, query]):
        return False
    keys = [item_key(item) for item in items]
    if None in keys or (path == "/v1/rerank" and item_key(query) is None):
        handler._send(
            400, {"detail": "each input must be {'text': ...} or {'image': <base64 image data URI>}"}
        )
        return True
    if any(key.startswith("image:") for key in keys) and body.get("model") not in IMAGE_MODELS:
        handler._send(400, {"detail": f"model {body.get('model')} does not support image input"})
        return True
    if path == "/v1/embeddings":
        data = [{"object": "embedding", "index": i, "embedding": vector(key)} for i, key in enumerate(keys)]
        handler._send(
            200,
            {
                "object": "list",
                "data": data,
                "usage": {"prompt_tokens": len(keys), "total_tokens": len(keys)},
            },
        )
    else:
        wanted = item_key(query)
        results = [
            {"index": i, "relevance_score": 1.0 if key == wanted else len(words(wanted) & words(key)) / 10}
            for i, key in enumerate(keys)
        ]
        results.sort(key=lambda r: -r["relevance_score"])
        handler._send(200, {"id": "rerank-mm", "results": results[: body.get("top_n") or len(results)]})
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--lifetime", type=float, default=600.0, help="seconds before the server stops itself"
    )
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
