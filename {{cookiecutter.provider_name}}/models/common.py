"""How this plugin talks to the model server: URLs, auth, timeouts, retries, errors, streaming.

Every model type goes through this module, so a server whose API differs from the
OpenAI-style REST API (`/v1/chat/completions`, `/v1/embeddings`, ...) is adapted here and
in the `_invoke` methods. Everything raised from here is already one of Dify's errors.
"""

import json
import math
import threading
from collections.abc import Iterator, Mapping
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

    Returns the server's description of the model when it gives one (Xinference does).
    Raises CredentialsValidateFailedError with a message a person can act on.
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
            return None
    except InvokeError as error:
        raise CredentialsValidateFailedError(str(error)) from None
    types, abilities = EXPECTED[model_type]
    actual = str(info.get("model_type", "")).lower()
    ability = {str(a).lower() for a in info.get("model_ability") or []}
    if (types and actual not in types) or (abilities and not ability & abilities):
        raise CredentialsValidateFailedError(
            f"{uid!r} on {conn.base_url} is a {info.get('model_type')} model "
            f"({', '.join(sorted(ability)) or 'no abilities listed'}), not a {model_type} model"
        )
    return info


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


def estimate_tokens(text: str) -> int:
    """An offline token estimate: about four ASCII characters, or one other character, per token.

    The SDK's GPT-2 estimate downloads its tokenizer on first use, which fails offline.
    """
    if not text:
        return 0
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return max(1, math.ceil(ascii_chars / 4) + (len(text) - ascii_chars))


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
