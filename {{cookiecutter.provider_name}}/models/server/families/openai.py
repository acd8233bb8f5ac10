{% set plan = cookiecutter | plan %}
"""Any OpenAI-style server: it lists its models at `GET /v1/models`, and says nothing about them.

A model's type is then told by one small real request of each type (`type_checks`): only a model
of that type answers it with that type's shape. This is what the plugin knows of every server;
the other families add what their servers say beyond it.
"""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

# ADAPT: where the API lives under the server's address when the URL names no path (api_base).
API_PREFIX = "/v1"
MODELS_PATH = "models"
CHECK_TEXT = "Hi"
COMMON_TYPES = ("llm", "text-embedding", "rerank")  # asked, when a check fails, what the model is instead


def api_base(origin: str, path: str, routes_at_root: bool = False) -> str:
    """Where the API's routes are, from the server URL's origin (scheme, host, port) and path.

    A URL with a path is used as given (`/v1`, `/api/v1`, `/v1-openai`; a last `/V1` is written
    `/v1`); one without gets API_PREFIX, unless the server's routes are at its root (Infinity,
    TEI), which only the `routes_at_root` answer can say: `http://host:9997` and
    `http://host:9997/` must keep meaning `/v1`.
    """
    path = path.rstrip("/")
    if path.lower().endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)] + API_PREFIX
    return origin + (path or ("" if routes_at_root else API_PREFIX))


def server_root(base: str) -> str:
    """Where a server's own paths are (llama.cpp's /props, Ollama's /api/show): beside API_PREFIX."""
    return base.removesuffix(API_PREFIX)


def read_ids(body: Any) -> list[str] | None:
    """The ids in the model list, or None if `body` is not one."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return [str(item.get("id")) for item in data if isinstance(item, dict)]


def listed(body: Any, uid: str) -> dict[str, Any] | None:
    """The model list's entry for `uid`, or None (servers that say more per model say it there)."""
    data = body.get("data") if isinstance(body, dict) else None
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and item.get("id") == uid:
            return item
    return None


class Ask(NamedTuple):
    """One request a family makes to describe a model: its method, its path (under API_PREFIX,
    or beside it when it starts with "/"), and the JSON body of a POST."""

    method: str
    path: str
    json: dict[str, Any] | None = None


class Reply(Protocol):
    """An answer as the type checks read it (models/server/bodies.py's Answer)."""

    content_type: str
    body: bytes

    def json(self) -> object: ...


class TypeCheck(NamedTuple):
    """One small real request that only a model of one type answers properly."""

    what: str  # how the request reads in an error message
    path: str
    request: dict[str, Any]  # arguments for httpx: json=..., or data= and files=
    answered: Callable[[Reply], bool]  # the answer has that type's shape


def _listed(key: str) -> Callable[[Reply], bool]:
    def check(answer: Reply) -> bool:
        body = answer.json()
        found = body.get(key) if isinstance(body, dict) else None
        return isinstance(found, list) and bool(found)

    return check


def _embedding(answer: Reply) -> bool:
    """A dense vector: most of its values are not zero, as every dense embedding model's are.

    llama.cpp's server answers embeddings of a rerank model too: its one score followed by
    whatever memory lies beyond it, mostly zeros (seen: 3 non-zero values of 384).
    """
    body = answer.json()
    data = body.get("data") if isinstance(body, dict) else None
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    vector = first.get("embedding")
    if not isinstance(vector, list) or not vector:
        return False
    return sum(isinstance(x, (int, float)) and abs(x) > 1e-30 for x in vector) > len(vector) // 2


{% if plan.has("speech2text") %}
def _transcript(answer: Reply) -> bool:
    body = answer.json()
    return isinstance(body, dict) and isinstance(body.get("text"), str)


def _silence(seconds: float = 0.25, rate: int = 16000) -> bytes:
    """A WAV file of silence (16-bit mono PCM), for a transcription request that costs little."""
    frames = b"\0\0" * int(seconds * rate)
    header = b"RIFF" + (36 + len(frames)).to_bytes(4, "little") + b"WAVEfmt "
    header += (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
    header += rate.to_bytes(4, "little") + (rate * 2).to_bytes(4, "little")
    header += (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    return header + b"data" + len(frames).to_bytes(4, "little") + frames


{% endif %}
{% if plan.has("tts") %}
def _audio(answer: Reply) -> bool:
    return bool(answer.body) and not answer.content_type.startswith(("application/json", "text/"))


{% endif %}
def type_checks(credentials: Mapping[str, Any], uid: str) -> dict[str, TypeCheck]:
    """The request that tells each model type apart, by Dify model type (for the types that have one).

    `credentials` are the model's own answers, e.g. an LLM's `mode`.
    """
    if str(credentials.get("mode") or "") == "completion":
        llm = TypeCheck(
            "a one-token completion request",
            "completions",
            {"json": {"model": uid, "prompt": CHECK_TEXT, "max_tokens": 1, "stream": False}},
            _listed("choices"),
        )
    else:
        message = [{"role": "user", "content": CHECK_TEXT}]
        llm = TypeCheck(
            "a one-token chat request",
            "chat/completions",
            {"json": {"model": uid, "messages": message, "max_tokens": 1, "stream": False}},
            _listed("choices"),
        )
{% if plan.has("tts") %}
    voice = str(credentials.get("voices") or "").split(",")[0].strip() or "alloy"
{% endif %}
    return {
        "llm": llm,
        "text-embedding": TypeCheck(
            "an embedding request for one word",
            "embeddings",
            {"json": {"model": uid, "input": [CHECK_TEXT]}},
            _embedding,
        ),
        "rerank": TypeCheck(
            "a rerank request for one document",
            "rerank",
            {"json": {"model": uid, "query": CHECK_TEXT, "documents": [CHECK_TEXT], "top_n": 1}},
            _listed("results"),
        ),
{% if plan.has("speech2text") %}
        "speech2text": TypeCheck(
            "a transcription of a quarter second of silence",
            "audio/transcriptions",
            {"data": {"model": uid}, "files": {"file": ("silence.wav", _silence(), "audio/wav")}},
            _transcript,
        ),
{% endif %}
{% if plan.has("tts") %}
        "tts": TypeCheck(
            "a speech request for one word",
            "audio/speech",
            # wav: every server makes it, also one without ffmpeg, which refuses mp3 (tts.py learns which)
            {"json": {"model": uid, "input": CHECK_TEXT, "voice": voice, "response_format": "wav"}},
            _audio,
        ),
{% endif %}
    }
