"""How this plugin talks to the model server: URLs, auth, timeouts, retries, errors, streaming.

Every model type goes through this module, so a server whose API differs from the
OpenAI-style REST API (`/v1/chat/completions`, `/v1/embeddings`, ...) is adapted here and
in the `_invoke` methods. Everything raised from here is already one of Dify's errors.
"""

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import httpx
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 2
PROBE_TIMEOUT = 10.0  # validation must answer quickly, whatever the request timeout
DETAIL_LIMIT = 300  # characters of a server's error message kept in ours


class Connection(NamedTuple):
    """Where and how to reach the server, read from the credentials Dify passes in."""

    base_url: str  # always ends with /v1
    api_key: str
    timeout: float
    retries: int


def connection(credentials: Mapping[str, Any]) -> Connection:
    """Read and check the connection settings; raise InvokeBadRequestError if they are unusable."""
    raw = str(credentials.get("server_url") or "").strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvokeBadRequestError(f"server_url must be an http:// or https:// URL with a host, got {raw!r}")
    base = raw.rstrip("/")
    base = base.removesuffix("/v1")
    return Connection(
        base_url=f"{base}/v1",
        api_key=str(credentials.get("api_key") or "").strip(),
        timeout=_number(credentials.get("request_timeout"), DEFAULT_TIMEOUT, minimum=1.0),
        retries=int(_number(credentials.get("max_retries"), DEFAULT_RETRIES, minimum=0.0)),
    )


def _number(value: object, default: float, minimum: float) -> float:
    try:
        number = float(str(value).strip()) if value not in (None, "") else default
    except ValueError:
        return default
    return max(minimum, number) if math.isfinite(number) else default


_clients: dict[Connection, httpx.Client] = {}
_clients_lock = threading.Lock()


def client(conn: Connection) -> httpx.Client:
    """One pooled HTTP client per connection settings, reused across calls."""
    with _clients_lock:
        found = _clients.get(conn)
        if found is None:
            headers = {"Authorization": f"Bearer {conn.api_key}"} if conn.api_key else {}
            found = httpx.Client(
                base_url=conn.base_url,
                headers=headers,
                timeout=httpx.Timeout(conn.timeout, connect=min(conn.timeout, 10.0)),
                # Retries cover failed connection attempts only, never a request the server received.
                transport=httpx.HTTPTransport(retries=conn.retries),
            )
            _clients[conn] = found
        return found


def _url(conn: Connection, path: str) -> str:
    return f"{conn.base_url}/{path.lstrip('/')}"


def _detail(response: httpx.Response, conn: Connection) -> str:
    """The server's own error message, shortened, with the API key scrubbed out."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            body = error.get("message") or error
        else:
            body = body.get("detail") or body.get("message") or error or body
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    text = " ".join(text.split())[:DETAIL_LIMIT] or response.reason_phrase
    return text.replace(conn.api_key, "***") if conn.api_key else text


def status_error(response: httpx.Response, conn: Connection) -> InvokeError:
    """Dify's error for an HTTP error answer, naming the URL and the status."""
    status = response.status_code
    message = f"{response.request.method} {response.request.url} answered {status}: {_detail(response, conn)}"
    if status in (401, 403):
        return InvokeAuthorizationError(message)
    if status == 429:
        return InvokeRateLimitError(message)
    if status >= 500:
        return InvokeServerUnavailableError(message)
    return InvokeBadRequestError(message)


def transport_error(error: httpx.TransportError, url: str, conn: Connection) -> InvokeError:
    """Dify's error for a request that got no complete answer."""
    if isinstance(error, httpx.TimeoutException):
        return InvokeConnectionError(
            f"{url} did not answer within {conn.timeout:g} s ({type(error).__name__})"
        )
    if isinstance(error, httpx.ConnectError):
        return InvokeConnectionError(f"cannot connect to {url}: {error}")
    return InvokeConnectionError(f"connection to {url} failed: {type(error).__name__}: {error}")


def request(
    credentials: Mapping[str, Any],
    method: str,
    path: str,
    *,
    timeout: float | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; return the response if it succeeded, else raise Dify's error for it."""
    conn = connection(credentials)
    url = _url(conn, path)
    try:
        response = client(conn).request(
            method, url, timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT, **kwargs
        )
    except httpx.TransportError as error:
        raise transport_error(error, url, conn) from error
    if response.status_code >= 400:
        raise status_error(response, conn)
    return response


def post_json(credentials: Mapping[str, Any], path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST a JSON body and return the JSON object answered."""
    response = request(credentials, "POST", path, json=payload)
    return json_object(response)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object, or InvokeServerUnavailableError saying what came instead."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InvokeServerUnavailableError(
            f"{response.request.url} answered {response.status_code} without a JSON object: "
            f"{response.text[:120]!r}"
        )
    return body


def stream_events(
    credentials: Mapping[str, Any], path: str, payload: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """POST and yield each server-sent event's JSON object until `data: [DONE]`.

    Errors are mapped here too, also those that happen after the first chunk.
    """
    conn = connection(credentials)
    url = _url(conn, path)
    try:
        with client(conn).stream("POST", url, json=payload) as response:
            if response.status_code >= 400:
                response.read()
                raise status_error(response, conn)
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments, `event:` and `id:` fields
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except ValueError:
                    raise InvokeServerUnavailableError(
                        f"{url} sent a malformed stream line: {data[:120]!r}"
                    ) from None
                if not isinstance(event, dict):
                    raise InvokeServerUnavailableError(
                        f"{url} sent a stream event that is not an object: {data[:120]!r}"
                    )
                if "error" in event and not event.get("choices"):
                    error = event["error"]
                    message = error.get("message", error) if isinstance(error, dict) else error
                    raise InvokeServerUnavailableError(
                        f"{url} reported an error mid-stream: {str(message)[:DETAIL_LIMIT]}"
                    )
                yield event
    except httpx.TransportError as error:
        raise transport_error(error, url, conn) from error


def describe_model(credentials: Mapping[str, Any], uid: str) -> dict[str, Any] | None:
    """What the server says about one running model, or None if it has no such endpoint.

    Xinference answers with `model_type`, `model_ability` and `context_length`; most other
    OpenAI-compatible servers answer 404 or 405, and then the plugin relies on the credentials.
    Only credential validation asks, and it stores what it learns in the credentials, so no
    invocation pays for this round trip and nothing needs caching (a cache keyed by model uid
    alone would mix up two servers running the same uid).
    """
    response = _probe(connection(credentials), f"models/{quote(uid, safe='')}")
    body = _json_or_none(response) if response is not None else None
    return body if isinstance(body, dict) and "model_type" in body else None


def model_ids(credentials: Mapping[str, Any]) -> list[str] | None:
    """The ids from GET /v1/models, or None if the server does not list its models."""
    response = _probe(connection(credentials), "models")
    body = _json_or_none(response) if response is not None else None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return [str(item.get("id")) for item in data if isinstance(item, dict)]


# Answers meaning "this server has no such endpoint", as opposed to a real error.
NO_SUCH_ENDPOINT = {404, 405, 501}


def _probe(conn: Connection, path: str) -> httpx.Response | None:
    """GET with the short probe timeout; None if the endpoint does not exist on this server."""
    url = _url(conn, path)
    try:
        response = client(conn).get(url, timeout=PROBE_TIMEOUT)
    except httpx.TransportError as error:
        raise transport_error(error, url, conn) from error
    if response.status_code in NO_SUCH_ENDPOINT:
        return None
    if response.status_code >= 400:
        raise status_error(response, conn)  # e.g. Xinference's 400 for a uid it does not run
    return response


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# Xinference's model_type / model_ability values that fit each Dify model type.
EXPECTED = {
    "llm": ({"llm"}, set()),
    "text-embedding": ({"embedding"}, set()),
    "rerank": ({"rerank"}, set()),
    "speech2text": ({"audio"}, {"audio2text", "audio_to_text"}),
    "tts": ({"audio"}, {"text2audio", "text_to_audio"}),
    "moderation": (set(), set()),
}


def validate_model(credentials: dict, model: str, model_type: str) -> dict[str, Any] | None:
    """Check, with cheap real requests, that the server runs this model as this model type.

    Where the server describes its models (Xinference), its description decides; elsewhere one
    small real request of that type does (see check_type). Returns the server's description
    when it gives one. Raises CredentialsValidateFailedError with a message a person can act on.
    """
    uid = model_uid(credentials, model)
    try:
        conn = connection(credentials)
        info = describe_model(credentials, uid)
        if info is None:
            ids = model_ids(credentials)
            if ids is not None and uid not in ids:
                listed = ", ".join(ids[:10]) or "none"
                raise CredentialsValidateFailedError(
                    f"{conn.base_url} does not run a model called {uid!r} (it runs: {listed})"
                )
            check_type(credentials, uid, model_type)
            return None
    except InvokeError as error:
        raise CredentialsValidateFailedError(str(error)) from None
    types, abilities = EXPECTED[model_type]
    actual = str(info.get("model_type", "")).lower()
    ability = {str(a).lower() for a in info.get("model_ability") or []}
    if (types and actual not in types) or (abilities and not ability & abilities):
        described = f"{info.get('model_type')}: {', '.join(sorted(ability)) or 'no abilities listed'}"
        raise CredentialsValidateFailedError(
            f"{uid!r} on {conn.base_url} is {_a(dify_type(info))} model (the server describes it as "
            f"{described}), not {_a(model_type)} model"
        )
    return info


def dify_type(info: Mapping[str, Any]) -> str:
    """The Dify model type a server's description of a model amounts to."""
    actual = str(info.get("model_type", "")).lower()
    abilities = {str(a).lower() for a in info.get("model_ability") or []}
    for model_type, (types, wanted) in EXPECTED.items():
        if actual in types and (not wanted or abilities & wanted):
            return model_type
    return actual or "unknown"


def _a(model_type: str) -> str:
    """The type with its article: "an llm", "a rerank"."""
    return f"{'an' if model_type[:1] in 'aeiou' or model_type == 'llm' else 'a'} {model_type}"


# -- The type of a model on servers that do not describe their models ---------------------

CHECK_TIMEOUT = 30.0  # a first real request may wait for the server to load the model
CHECK_TEXT = "Hi"


class TypeCheck(NamedTuple):
    """One small real request that only a model of one type answers properly."""

    what: str  # how the request reads in an error message
    path: str
    request: dict[str, Any]  # arguments for httpx: json=..., or data= and files=
    answered: Callable[[httpx.Response], bool]  # the answer has that type's shape


def _listed(key: str) -> Callable[[httpx.Response], bool]:
    def check(response: httpx.Response) -> bool:
        body = _json_or_none(response)
        found = body.get(key) if isinstance(body, dict) else None
        return isinstance(found, list) and bool(found)

    return check


def _embedding(response: httpx.Response) -> bool:
    """A vector that is not all zeros: llama.cpp answers a rerank model's embeddings with zeros."""
    body = _json_or_none(response)
    data = body.get("data") if isinstance(body, dict) else None
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    vector = first.get("embedding")
    return isinstance(vector, list) and any(isinstance(x, (int, float)) and x != 0 for x in vector)


def _transcript(response: httpx.Response) -> bool:
    body = _json_or_none(response)
    return isinstance(body, dict) and isinstance(body.get("text"), str)


def _audio(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "")
    return bool(response.content) and not kind.startswith(("application/json", "text/"))


def _silence(seconds: float = 0.25, rate: int = 16000) -> bytes:
    """A WAV file of silence (16-bit mono PCM), for a transcription request that costs little."""
    frames = b"\0\0" * int(seconds * rate)
    header = b"RIFF" + (36 + len(frames)).to_bytes(4, "little") + b"WAVEfmt "
    header += (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
    header += rate.to_bytes(4, "little") + (rate * 2).to_bytes(4, "little")
    header += (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    return header + b"data" + len(frames).to_bytes(4, "little") + frames


def type_checks(credentials: Mapping[str, Any], uid: str) -> dict[str, TypeCheck]:
    """The request that tells each model type apart, by Dify model type (moderation checks itself)."""
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
    voice = str(credentials.get("voices") or "").split(",")[0].strip() or "alloy"
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
        "speech2text": TypeCheck(
            "a transcription of a quarter second of silence",
            "audio/transcriptions",
            {"data": {"model": uid}, "files": {"file": ("silence.wav", _silence(), "audio/wav")}},
            _transcript,
        ),
        "tts": TypeCheck(
            "a speech request for one word",
            "audio/speech",
            {"json": {"model": uid, "input": CHECK_TEXT, "voice": voice, "response_format": "mp3"}},
            _audio,
        ),
    }


def check_type(credentials: Mapping[str, Any], uid: str, model_type: str) -> None:
    """Make one small request of `model_type` to `uid`; raise CredentialsValidateFailedError if it fails.

    On failure, the same small request for the other common types says what the model is instead
    (each bounded by CHECK_TIMEOUT), so the message can name it. Auth and connection failures are
    reported as they are.
    """
    checks = type_checks(credentials, uid)
    if model_type not in checks:
        return
    conn = connection(credentials)
    failure = _try(conn, checks[model_type])
    if failure is None:
        return
    if isinstance(failure, (InvokeAuthorizationError, InvokeConnectionError, InvokeRateLimitError)):
        raise CredentialsValidateFailedError(str(failure))
    for other in ("llm", "text-embedding", "rerank"):
        if other != model_type and _try(conn, checks[other]) is None:
            raise CredentialsValidateFailedError(
                f"{uid!r} on {conn.base_url} is {_a(other)} model, not {_a(model_type)} model: "
                f"it answers {checks[other].what} but not {checks[model_type].what} ({failure})"
            )
    raise CredentialsValidateFailedError(
        f"{uid!r} on {conn.base_url} did not answer {checks[model_type].what} as {_a(model_type)} "
        f"model would: {failure}"
    )


def _try(conn: Connection, check: TypeCheck) -> InvokeError | None:
    """None if the server answered `check` with that type's answer, else the error to report."""
    url = _url(conn, check.path)
    try:
        response = client(conn).post(url, timeout=min(conn.timeout, CHECK_TIMEOUT), **check.request)
    except httpx.TransportError as error:
        return transport_error(error, url, conn)
    if response.status_code >= 400:
        return status_error(response, conn)
    if not check.answered(response):
        return InvokeServerUnavailableError(
            f"POST {url} answered {response.status_code} with something else: {response.text[:120]!r}"
        )
    return None


# -- The server's own tokenizer, where it has one (llama.cpp's POST /tokenize) -------------

TOKENIZE_PATH = "tokenize"  # beside /v1, not under it
TEMPLATE_PATH = "apply-template"  # renders a chat as the model's prompt (llama.cpp)
TOKENIZER_BUDGET = 10.0  # seconds one plugin call may spend asking the server to count
KNOWN_TOKENIZERS = 256  # (connection, model, endpoint) answers remembered at most
_tokenizers: dict[tuple[Connection, str, str], bool] = {}
_tokenizers_lock = threading.Lock()


class Tokenizer:
    """Counts tokens with the server's own tokenizer for one model, within a time budget.

    Whether the server has the endpoint is remembered per connection (URL, key, timeouts) and
    model, so a server without it is asked once, not on every call. Every method returns None
    when the server has no tokenizer, fails, or the budget is spent: callers then estimate.
    """

    def __init__(self, credentials: Mapping[str, Any], uid: str, budget: float = TOKENIZER_BUDGET) -> None:
        self.conn = connection(credentials)
        self.uid = uid
        self.deadline = time.monotonic() + budget

    def count(self, text: str) -> int | None:
        """The tokens the server turns `text` into, special tokens (BOS, [CLS]...) included."""
        body = self._post(TOKENIZE_PATH, {"content": text, "add_special": True})
        tokens = body.get("tokens") if body is not None else None
        return len(tokens) if isinstance(tokens, list) else None

    def chat_prompt(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str | None:
        """The prompt the server makes of a chat with its chat template."""
        payload: dict[str, Any] = {"messages": messages}
        if tools:
            payload["tools"] = tools
        body = self._post(TEMPLATE_PATH, payload)
        prompt = body.get("prompt") if body is not None else None
        return prompt if isinstance(prompt, str) else None

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        key = (self.conn, self.uid, path)
        left = self.deadline - time.monotonic()
        if _tokenizers.get(key) is False or left <= 0:
            return None
        url = f"{self.conn.base_url.removesuffix('/v1')}/{path}"
        try:
            response = client(self.conn).post(
                url, json={"model": self.uid, **payload}, timeout=min(left, PROBE_TIMEOUT)
            )
        except httpx.TransportError:
            return None  # not remembered: the next call asks again
        if response.status_code >= 400 and response.status_code not in NO_SUCH_ENDPOINT:
            return None
        body = _json_or_none(response) if response.status_code < 400 else None
        found = isinstance(body, dict) and ("tokens" in body or "prompt" in body)
        with _tokenizers_lock:
            if len(_tokenizers) >= KNOWN_TOKENIZERS:
                _tokenizers.pop(next(iter(_tokenizers)))
            _tokenizers[key] = found
        return body if found else None


# -- Inputs that fit the model: cut by the server's tokenizer, else by estimate or UTF-8 length --

SPECIAL_TOKENS = 2  # room for the markers a model adds around each text ([CLS] ... [SEP], BOS/EOS)
CHARS_PER_TOKEN_MAX = 16  # no tokenizer packs more characters into a token on average
FIT_ROUNDS = 4  # server token counts per text, at most, while cutting it to fit
SURROGATE = re.compile("[\ud800-\udfff]")
# How servers refuse an input longer than the model takes (llama.cpp, vLLM, TEI, Ollama), and
# the limit some of them name in that message.
TOO_LONG = re.compile(
    r"too (large|long)|maximum context length|exceeds the (context|maximum|max)|must have less than \d+ tokens",
    re.I,
)
SERVER_LIMIT = re.compile(r"(?:batch size|context length is|less than)\D{0,10}(\d+)", re.I)
DEFAULT_INPUT_LIMIT = 512  # tokens, when a server refuses an input as too long without naming its limit


def refused_as_too_long(error: InvokeError) -> int | None:
    """The input limit (tokens) if `error` is a server refusing an input as too long, else None."""
    message = str(error)
    if not TOO_LONG.search(message):
        return None
    named = SERVER_LIMIT.search(message)
    return int(named.group(1)) if named else DEFAULT_INPUT_LIMIT


def fit(text: str, limit: int, tokenizer: Tokenizer, strict: bool = False) -> str:
    """Return the start of `text` that the model takes whole: at most `limit` tokens.

    With the server's tokenizer the count is exact (special tokens included) and the cut is
    refined in at most FIT_ROUNDS counts. Without it, the offline estimate decides, leaving room
    for special tokens; with `strict`, the UTF-8 length does, which no tokenizer's count exceeds.
    """
    text = whole_characters(text)
    if len(text.encode("utf-8")) + SPECIAL_TOKENS <= limit:
        return text  # fits whatever the tokenizer: no need to ask the server
    head = text[: limit * CHARS_PER_TOKEN_MAX]
    counted = tokenizer.count(head)
    for _ in range(FIT_ROUNDS):
        if counted is None:
            break
        if counted <= limit:
            return head
        head = head[: max(1, int(len(head) * limit / counted * 0.97))]
        counted = tokenizer.count(head)
    if counted is not None and counted <= limit:
        return head
    if strict or counted is not None:
        return head.encode("utf-8")[: max(1, limit - SPECIAL_TOKENS)].decode("utf-8", "ignore")
    return truncate(head, limit - SPECIAL_TOKENS)


def whole_characters(text: str) -> str:
    """`text` with surrogate pairs joined (and lone surrogates replaced), so it can be cut and sent as UTF-8."""
    if SURROGATE.search(text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def truncate(text: str, limit: int) -> str:
    """Return the longest start of `text` estimated at no more than `limit` tokens."""
    text = whole_characters(text)
    if estimate_tokens(text) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def model_uid(credentials: Mapping[str, Any], model: str) -> str:
    """The id to send to the server: the model UID answer, else the model's name in Dify."""
    return str(credentials.get("model_uid") or model).strip()


def positive_int(value: object, default: int) -> int:
    """A credential that must be a positive whole number (form fields arrive as text)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return default
    return number if number > 0 else default


def excerpt(body: Any) -> str:
    """The start of an unexpected answer, for an error message."""
    return json.dumps(body, ensure_ascii=False)[:200]


# Pieces a tokenizer splits text at: letter runs, digit runs, line breaks, spaces, one other
# character (CJK, accents, emoji) or one punctuation mark.
TOKEN_PIECES = re.compile(r"[A-Za-z]+|[0-9]+|\n\s*|[ \t]+|[^\x00-\x7f]|[^\sA-Za-z0-9]")
LETTERS_PER_TOKEN = 6  # a word of up to 6 letters is one token; longer ones split
TOKENS_PER_DIGIT = 0.75  # digits go one by one (BPE) or in short groups (WordPiece)


def estimate_tokens(text: str) -> int:
    """An offline token estimate, for when the server has no tokenizer to ask.

    Measured against SmolLM2's byte-level BPE and MiniLM's WordPiece (docs/real-servers.md): within
    ±30% on prose, code, hex IDs, URLs and tables; one token per CJK character, which is right for
    WordPiece and multilingual vocabularies but about half of what English-only ones use. The
    SDK's GPT-2 estimate downloads its tokenizer on first use, which fails offline.
    """
    count = 0.0
    for piece in TOKEN_PIECES.findall(text):
        first = piece[0]
        if first.isascii() and first.isalpha():
            count += math.ceil(len(piece) / LETTERS_PER_TOKEN)
        elif first.isdigit():
            count += len(piece) * TOKENS_PER_DIGIT
        elif first not in " \t":
            count += 1  # a line break, a mark, or a non-ASCII character
    return max(1, math.ceil(count)) if text else 0


# Errors that can escape without passing through the functions above (e.g. a bug while
# parsing an answer). Anything else becomes a plain InvokeError.
ERROR_MAPPING: dict[type[InvokeError], list[type[Exception]]] = {
    InvokeConnectionError: [httpx.TimeoutException, httpx.TransportError],
    InvokeServerUnavailableError: [httpx.HTTPStatusError],
    InvokeRateLimitError: [],
    InvokeAuthorizationError: [],
    InvokeBadRequestError: [ValueError, KeyError, TypeError],
}


def as_invoke_error(error: Exception) -> InvokeError:
    """Keep Dify errors raised above as they are (they name the server and status)."""
    if isinstance(error, InvokeError):
        return error
    for invoke_error, causes in ERROR_MAPPING.items():
        if isinstance(error, tuple(causes)):
            return invoke_error(f"{type(error).__name__}: {error}")
    return InvokeError(f"{type(error).__name__}: {error}")
