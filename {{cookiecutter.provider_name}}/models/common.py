{% set plan = cookiecutter | plan %}
"""How this plugin talks to the model server: URLs, auth, limits, errors, streaming.

Every model type goes through this module, so a server whose API differs from the
OpenAI-style REST API (`/v1/chat/completions`, `/v1/embeddings`, ...) is adapted here and
in the `_invoke` methods. Everything raised from here is already one of Dify's errors, and
no message built here ever contains the API key: the key is refused unless a header can carry
it, removed from everything the server sends before anything reads it, and a `server_url`
with a password in it is refused.

One plugin process serves a whole Dify workspace for weeks, so every call is bounded:

- time: a blocking call ends within `request_timeout` in total (connecting, retries, a server
  that trickles its answer); a stream ends when no event arrives for `request_timeout`, and
  after STREAM_LIMIT in all; a credential check ends within CHECK_TIMEOUT;
- memory: an answer may be MAX_RESPONSE_BYTES after decompression, a stream line MAX_LINE_BYTES;
- connections: MAX_CLIENTS pools (the least recently used one is closed), each with up to
  MAX_CONNECTIONS connections, of which KEEPALIVE stay open when idle.

The SDK serves each request of the Dify daemon in its own greenlet (`dify_plugin` monkey-patches
the standard library with gevent), so time limits are gevent timers: they interrupt any wait on
the network, and many slow calls wait side by side in one thread.
"""

import json
import math
import re
import ssl
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import gevent
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

DEFAULT_TIMEOUT = 60.0  # request_timeout when the credentials give none
TIMEOUT_RANGE = (1.0, 240.0)  # request_timeout is kept within these seconds (main.py allows 300)
CONNECT_TIMEOUT = 10.0  # the longest wait for a connection (request_timeout if that is shorter)
DEFAULT_RETRIES = 2
MAX_RETRIES = 3  # max_retries is kept within 0..3; waits between attempts: 0, 0.5 and 1 s
CHECK_TIMEOUT = 10.0  # a credential check ends within this, whatever request_timeout says
STREAM_LIMIT = 1800.0  # no stream lasts longer, however often the server sends
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # one answer, after decompression
MAX_LINE_BYTES = 1024 * 1024  # one line of a stream
MAX_CLIENTS = 32  # connection pools kept, one per distinct connection settings
MAX_CONNECTIONS = 512  # per pool: the SDK serves up to 1,000 requests at once
KEEPALIVE = 8  # idle connections kept open per pool
# Idle connections are dropped sooner than servers drop them (llama.cpp's and uvicorn's 5 s):
# a request sent on a connection the server is closing fails with "Server disconnected".
KEEPALIVE_EXPIRY = 2.0
DETAIL_LIMIT = 300  # characters of a server's error message kept in ours
ERROR_BODY_BYTES = 64 * 1024  # what is read of an error answer to find its message


# -- connection settings ------------------------------------------------------------------------
class Connection(NamedTuple):
    """Where and how to reach the server, read from the credentials Dify passes in."""

    base_url: str  # always ends with /v1
    api_key: str
    timeout: float
    retries: int


def connection(credentials: Mapping[str, Any]) -> Connection:
    """Read and check the connection settings; raise InvokeBadRequestError if they are unusable.

    The messages name the field and the rule, never the value (it may hold a secret).
    """
    return Connection(
        base_url=_base_url(credentials.get("server_url")),
        api_key=_api_key(credentials.get("api_key")),
        timeout=_within(credentials.get("request_timeout"), DEFAULT_TIMEOUT, *TIMEOUT_RANGE),
        retries=int(_within(credentials.get("max_retries"), DEFAULT_RETRIES, 0, MAX_RETRIES)),
    )


URL_EXAMPLE = "e.g. http://192.168.1.100:9997"


def _base_url(value: object) -> str:
    raw = str(value or "").strip()
    if any(ch.isspace() or not ch.isprintable() for ch in raw):
        raise _bad_url(f"must not contain spaces, line breaks or control characters ({URL_EXAMPLE})")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise _bad_url(f"is not a valid URL: check the host and the port number ({URL_EXAMPLE})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad_url(f"must be an http:// or https:// URL with a host ({URL_EXAMPLE})")
    if parts.username is not None or parts.password is not None:
        raise _bad_url("must not contain a user name or password: put the key in the API key field instead")
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise _bad_url(f"must be the server's address without a ?query or #fragment ({URL_EXAMPLE})")
    if port == 0:
        raise _bad_url("must have a port number from 1 to 65535")
    base = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
    if base.lower().endswith("/v1"):
        base = base[:-3]
    try:
        httpx.URL(base)
    except (httpx.InvalidURL, ValueError):
        raise _bad_url(f"is not a valid URL ({URL_EXAMPLE})") from None
    return f"{base}/v1"


def _bad_url(rule: str) -> InvokeBadRequestError:
    return InvokeBadRequestError(f"server_url {rule}")


def _api_key(value: object) -> str:
    key = str(value or "").strip()
    if not all("!" <= ch <= "~" for ch in key):
        raise InvokeBadRequestError(
            "api_key must be printable ASCII without spaces or line breaks (an HTTP header cannot "
            "carry anything else): paste the key again"
        )
    return key


def _within(value: object, default: float, low: float, high: float) -> float:
    """A number from a form field, kept within [low, high]; `default` if it is not a number."""
    try:
        number = float(str(value).strip()) if value not in (None, "") else default
    except ValueError:
        return default
    return min(max(number, low), high) if math.isfinite(number) else default


def _url(conn: Connection, path: str) -> str:
    if path.startswith("/"):  # beside /v1, not under it (e.g. llama.cpp's /tokenize)
        return f"{conn.base_url.removesuffix('/v1')}{path}"
    return f"{conn.base_url}/{path}"


# -- connection pools ---------------------------------------------------------------------------
class _Pool:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.users = 0
        self.evicted = False


class Pools:
    """One HTTP client per connection settings, at most `size`; the least recently used is closed.

    A client that is still in use when it is evicted is closed when its last call ends.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._pools: OrderedDict[Connection, _Pool] = OrderedDict()
        self._lock = threading.Lock()

    @contextmanager
    def use(self, conn: Connection) -> Iterator[httpx.Client]:
        """The client for `conn`, kept open until the block ends."""
        with self._lock:
            pool = self._pools.pop(conn, None) or _Pool(_new_client(conn))
            self._pools[conn] = pool
            pool.users += 1
            evicted = []
            while len(self._pools) > self.size:
                _, oldest = self._pools.popitem(last=False)
                oldest.evicted = True
                evicted.append(oldest)
        for old in evicted:
            if not old.users:
                old.client.close()
        try:
            yield pool.client
        finally:
            with self._lock:
                pool.users -= 1
                close = pool.evicted and not pool.users
            if close:
                pool.client.close()

    def __len__(self) -> int:
        return len(self._pools)


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: each client of its own would load the CA bundle again."""
    return httpx.create_ssl_context()


def _new_client(conn: Connection) -> httpx.Client:
    headers = {"Accept-Encoding": "gzip, deflate"}  # the encodings _decoded() reads within limits
    if conn.api_key:
        headers["Authorization"] = f"Bearer {conn.api_key}"
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS,
        max_keepalive_connections=KEEPALIVE,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )
    return httpx.Client(
        base_url=conn.base_url,
        headers=headers,
        timeout=httpx.Timeout(conn.timeout, connect=min(conn.timeout, CONNECT_TIMEOUT)),
        limits=limits,
        verify=_tls(),
        # Retries cover failed connection attempts only, never a request the server received.
        transport=httpx.HTTPTransport(retries=conn.retries, limits=limits, verify=_tls()),
    )


POOLS = Pools(MAX_CLIENTS)


# -- time limits --------------------------------------------------------------------------------
@contextmanager
def time_limit(seconds: float, message: str) -> Iterator[None]:
    """Raise InvokeConnectionError(message) if the block still runs after `seconds`."""
    timer = gevent.Timeout(max(seconds, 0.001))
    timer.start()
    try:
        yield
    except gevent.Timeout as fired:
        if fired is not timer:
            raise  # an outer limit, which reports itself
        raise InvokeConnectionError(message) from None
    finally:
        timer.close()


@contextmanager
def credential_check(credentials: Mapping[str, Any]) -> Iterator[None]:
    """Run a credential check within CHECK_TIMEOUT; any failure becomes CredentialsValidateFailedError.

    Settings that calls would keep within their ranges are refused here, so the person sees why.
    """
    try:
        server = connection(credentials).base_url
        _check_range(credentials, "request_timeout", *TIMEOUT_RANGE)
        _check_range(credentials, "max_retries", 0, MAX_RETRIES, whole=True)
        with time_limit(
            CHECK_TIMEOUT, f"{server} did not pass the credential check within {CHECK_TIMEOUT:g} s"
        ):
            yield
    except InvokeError as error:
        raise CredentialsValidateFailedError(str(error)) from None


def _check_range(
    credentials: Mapping[str, Any], name: str, low: float, high: float, whole: bool = False
) -> None:
    value = str(credentials.get(name) or "").strip()
    try:
        number = float(value) if value else low
    except ValueError:
        number = math.nan
    if not low <= number <= high or (whole and not number.is_integer()):
        kind = "a whole number" if whole else "a number of seconds"
        raise InvokeBadRequestError(f"{name} must be {kind} from {low:g} to {high:g}")


def _paced[T](items: Iterator[T], limit: Callable[[], tuple[float, str]]) -> Iterator[T]:
    """Yield from `items`; each wait for the next one is bounded as `limit()` says at that moment."""
    end = object()
    while True:
        seconds, message = limit()
        with time_limit(seconds, message):
            item = next(items, end)
        if item is end:
            return
        yield item  # type: ignore[misc]


@contextmanager
def _transport_errors(url: str, conn: Connection) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as error:
        raise transport_error(error, url, conn) from None


# -- reading answers ----------------------------------------------------------------------------
class Answer(NamedTuple):
    """A complete answer, read within the limits, with the API key removed from its body."""

    method: str
    url: str
    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@lru_cache(maxsize=MAX_CLIENTS)
def _secrets(api_key: str) -> list[bytes]:
    """The API key as a server may echo it: as sent, and as JSON encoders escape it."""
    if not api_key:
        return []
    escaped = json.dumps(api_key)[1:-1]
    forms = {
        api_key,
        escaped,
        escaped.replace("/", "\\/"),
        escaped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"),
    }
    return [form.encode() for form in sorted(forms, key=len, reverse=True)]


def scrub(data: bytes, conn: Connection) -> bytes:
    """`data` with every form of the API key replaced by `***`."""
    for secret in _secrets(conn.api_key):
        data = data.replace(secret, b"***")
    return data


def _decoded(response: httpx.Response, url: str) -> Iterator[bytes]:
    """The body as it arrives, inflated in pieces of at most 64 KiB, so that a small compressed
    answer cannot fill the memory before its size is checked."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw()
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise InvokeServerUnavailableError(
            f"{url} answered in Content-Encoding {encoding[:40]!r}, which this plugin does not read"
        )
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if "gzip" in encoding else zlib.MAX_WBITS)
    raw_deflate_possible = encoding == "deflate"  # some servers send deflate without its zlib header
    for data in response.iter_raw():
        while data:
            try:
                piece = inflater.decompress(data, 64 * 1024)
            except zlib.error:
                if not raw_deflate_possible:
                    raise InvokeServerUnavailableError(
                        f"{url} answered a body that is not valid {encoding}"
                    ) from None
                inflater, raw_deflate_possible = zlib.decompressobj(-zlib.MAX_WBITS), False
                continue
            raw_deflate_possible = False
            if piece:
                yield piece
            data = inflater.unconsumed_tail


def _read(response: httpx.Response, url: str, conn: Connection, keep: int | None = None) -> bytes:
    """The whole body, refused beyond MAX_RESPONSE_BYTES after decompression; or its first `keep` bytes."""
    limit = keep or MAX_RESPONSE_BYTES
    declared = response.headers.get("content-length", "")
    if keep is None and declared.isdigit() and int(declared) > limit:
        raise _too_big(url)
    body = bytearray()
    for piece in _decoded(response, url):
        body += piece
        if len(body) > limit:
            if keep is None:
                body.clear()  # free it now, not when the error's traceback is collected
                raise _too_big(url)
            del body[limit:]
            break
    return scrub(bytes(body), conn)


def _too_big(url: str) -> InvokeServerUnavailableError:
    return InvokeServerUnavailableError(
        f"{url} answered more than {MAX_RESPONSE_BYTES // 2**20} MiB, the limit for one answer"
    )


def _lines(chunks: Iterator[bytes], url: str, conn: Connection) -> Iterator[str]:
    """The lines of a stream (LF or CRLF), each at most MAX_LINE_BYTES, the API key removed."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            yield scrub(bytes(buffer[start:end]).rstrip(b"\r"), conn).decode("utf-8", "replace")
            start = end + 1
        del buffer[:start]
        if len(buffer) > MAX_LINE_BYTES:
            buffer.clear()
            raise InvokeServerUnavailableError(
                f"{url} sent a stream line longer than {MAX_LINE_BYTES // 2**10} KiB, the limit for one line"
            )
    if buffer:
        yield scrub(bytes(buffer), conn).decode("utf-8", "replace")


# -- errors -------------------------------------------------------------------------------------
def _detail(body: bytes | str) -> str:
    """The server's own error message in an answer or event, shortened (the key is already removed)."""
    try:
        found: Any = json.loads(body)
    except ValueError:
        found = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if isinstance(found, dict):
        error = found.get("error")
        if isinstance(error, dict):
            found = error.get("message") or error
        else:
            found = found.get("detail") or found.get("message") or error or found
    text = found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)
    return " ".join(text.split())[:DETAIL_LIMIT] or "(no message)"


def status_error(answer: Answer) -> InvokeError:
    """Dify's error for an HTTP error answer, naming the URL and the status."""
    status = answer.status
    message = f"{answer.method} {answer.url} answered {status}: {_detail(answer.body)}"
    if status in (401, 403):
        return InvokeAuthorizationError(message)
    if status == 429:
        return InvokeRateLimitError(message)
    if status >= 500:
        return InvokeServerUnavailableError(message)
    return InvokeBadRequestError(message)


def transport_error(error: httpx.TransportError, url: str, conn: Connection) -> InvokeError:
    """Dify's error for a request that got no complete answer, stating the limit that applied."""
    if isinstance(error, httpx.ConnectTimeout):
        return InvokeConnectionError(
            f"cannot connect to {url}: no answer within {min(conn.timeout, CONNECT_TIMEOUT):g} s"
        )
    if isinstance(error, httpx.PoolTimeout):
        return InvokeConnectionError(
            f"{url} was not called: all {MAX_CONNECTIONS} connections to it stayed busy for "
            f"request_timeout = {conn.timeout:g} s"
        )
    if isinstance(error, httpx.TimeoutException):
        return InvokeConnectionError(f"{url} sent nothing for request_timeout = {conn.timeout:g} s")
    if isinstance(error, httpx.ConnectError):
        message = f"cannot connect to {url}: {error}"
    else:
        message = f"connection to {url} failed: {type(error).__name__}: {error}"
    return InvokeConnectionError(scrub(message.encode(), conn).decode())


# -- requests -----------------------------------------------------------------------------------
def _open(
    conn: Connection,
    http: httpx.Client,
    method: str,
    url: str,
    allowed: frozenset[int] = frozenset(),
    **kwargs: Any,
) -> httpx.Response:
    """Send a request; return its response once the headers are in, or raise Dify's error for
    its status (unless `allowed`).

    A request the server dropped before answering anything is sent once more, on a new
    connection: a server closes an idle keep-alive connection as it sees fit (llama.cpp and
    uvicorn after 5 s), and a request can cross that close on the wire. Nothing was answered,
    so nothing is repeated that the caller saw; a second drop is the caller's error.
    """
    try:
        response = http.send(http.build_request(method, url, **kwargs), stream=True)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
        if not _dropped_unanswered(error):
            raise
        response = http.send(http.build_request(method, url, **kwargs), stream=True)
    if response.status_code < 400 or response.status_code in allowed:
        return response
    try:
        body = _read(response, url, conn, keep=ERROR_BODY_BYTES)
    finally:
        response.close()
    content_type = response.headers.get("content-type", "")
    raise status_error(Answer(method, url, response.status_code, content_type, body))


def _dropped_unanswered(error: httpx.TransportError) -> bool:
    """Whether the connection ended before any byte of an answer (closed or reset)."""
    if isinstance(error, httpx.RemoteProtocolError):
        return str(error).startswith("Server disconnected without sending a response")
    return "Connection reset" in str(error) or "Broken pipe" in str(error)


def request(
    credentials: Mapping[str, Any],
    method: str,
    path: str,
    *,
    limit: tuple[float, str] | None = None,
    allowed: frozenset[int] = frozenset(),
    **kwargs: Any,
) -> Answer:
    """Send one request and read its whole answer within `request_timeout` (or `limit`: seconds
    and the name of that limit); raise Dify's error for anything but a complete success (or an
    error status in `allowed`, which is answered)."""
    conn = connection(credentials)
    url = _url(conn, path)
    seconds, bound = limit or (conn.timeout, f"request_timeout = {conn.timeout:g} s")
    with (
        POOLS.use(conn) as http,
        _transport_errors(url, conn),
        time_limit(seconds, f"{method} {url} did not complete within {bound}"),
    ):
        response = _open(conn, http, method, url, allowed, **kwargs)
        try:
            body = _read(response, url, conn)
        finally:
            response.close()
    return Answer(method, url, response.status_code, response.headers.get("content-type", ""), body)


def post_json(credentials: Mapping[str, Any], path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST a JSON body and return the JSON object answered."""
    return json_object(request(credentials, "POST", path, json=payload))


def json_object(answer: Answer) -> dict[str, Any]:
    """The body as a JSON object, or InvokeServerUnavailableError saying what came instead."""
    try:
        body = json.loads(answer.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InvokeServerUnavailableError(
            f"{answer.url} answered {answer.status} ({_kind(answer.content_type)}) without a JSON object: "
            f"{answer.text[:120]!r}"
        )
    return body


def _kind(content_type: str) -> str:
    return content_type.split(";")[0].strip()[:60] or "no content type"


def stream_events(
    credentials: Mapping[str, Any], path: str, payload: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """POST and yield each server-sent event's JSON object until `data: [DONE]`.

    The stream ends with InvokeConnectionError when no event arrives for `request_timeout`
    (comment lines and other fields do not count) or when it has lasted STREAM_LIMIT. Errors
    are Dify's, also those that happen after the first event.
    """
    conn = connection(credentials)
    url = _url(conn, path)
    started = time.monotonic()

    def limit() -> tuple[float, str]:
        left = STREAM_LIMIT - (time.monotonic() - started)
        if left < conn.timeout:
            return left, f"{url} was still streaming after {STREAM_LIMIT:g} s, the limit for one answer"
        return conn.timeout, f"{url} sent no event for request_timeout = {conn.timeout:g} s"

    def is_sse(content_type: str) -> bool:
        return content_type.startswith("text/event-stream")

    with _streamed(conn, url, payload, limit, is_sse, "an event stream", "text/event-stream") as response:
        for data in _paced(_data(_lines(_decoded(response, url), url, conn), url), limit):
            if data == "[DONE]":
                return
            yield _event(data, url)


@contextmanager
def _streamed(
    conn: Connection,
    url: str,
    payload: dict[str, Any],
    limit: Callable[[], tuple[float, str]],
    wanted: Callable[[str], bool],
    what: str,
    accept: str = "*/*",
) -> Iterator[httpx.Response]:
    """POST `payload` and yield the response, once its headers are in and its content type is
    `wanted`; else raise Dify's error naming what came instead of `what`."""
    with POOLS.use(conn) as http, _transport_errors(url, conn):
        with time_limit(*limit()):
            response = _open(conn, http, "POST", url, json=payload, headers={"Accept": accept})
        try:
            content_type = response.headers.get("content-type", "")
            if not wanted(content_type):
                with time_limit(*limit()):
                    body = _read(response, url, conn, keep=ERROR_BODY_BYTES)
                raise InvokeServerUnavailableError(
                    f"{url} answered {_kind(content_type)} instead of {what}: {_detail(body)}"
                )
            yield response
        finally:
            response.close()


def _data(lines: Iterator[str], url: str) -> Iterator[str]:
    """The `data:` values of a server-sent event stream; comments and other fields are skipped,
    and an `event: error` is raised as Dify's error with the server's message."""
    kind = ""
    for line in lines:
        if not line:
            kind = ""  # a blank line ends an event
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            if kind == "error":
                raise _stream_error(url, line[5:])
            yield line[5:].strip()


def _event(data: str, url: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError:
        raise InvokeServerUnavailableError(f"{url} sent a malformed stream line: {data[:120]!r}") from None
    if not isinstance(event, dict):
        raise InvokeServerUnavailableError(f"{url} sent a stream event that is not an object: {data[:120]!r}")
    if "error" in event and not event.get("choices"):
        raise _stream_error(url, data)
    return event


def _stream_error(url: str, data: str) -> InvokeServerUnavailableError:
    return InvokeServerUnavailableError(f"{url} reported an error mid-stream: {_detail(data)}")


def stream_bytes(
    credentials: Mapping[str, Any],
    path: str,
    payload: dict[str, Any],
    *,
    expected: str,
    refused: tuple[str, ...],
) -> Iterator[bytes]:
    """POST a JSON body and yield the answer's bytes as they arrive.

    The whole answer must arrive within `request_timeout` and MAX_RESPONSE_BYTES. An answer
    whose content type starts with one of `refused` (an error page) is refused as not being
    `expected`. Errors are Dify's, also those that happen after the first chunk.
    """
    conn = connection(credentials)
    url = _url(conn, path)
    deadline = time.monotonic() + conn.timeout
    message = f"POST {url} did not complete within request_timeout = {conn.timeout:g} s"

    def limit() -> tuple[float, str]:
        return deadline - time.monotonic(), message

    def wanted(content_type: str) -> bool:
        return not content_type.startswith(refused)

    with _streamed(conn, url, payload, limit, wanted, expected) as response:
        size = 0
        for chunk in _paced(_decoded(response, url), limit):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise _too_big(url)
            yield chunk


def describe_model(credentials: Mapping[str, Any], uid: str) -> dict[str, Any] | None:
    """What the server says about one running model, or None if it has no such endpoint.

    Xinference answers with `model_type`, `model_ability` and `context_length`; most other
    OpenAI-compatible servers answer 404 or 405, and then the plugin relies on the credentials.
    Only credential validation asks, and it stores what it learns in the credentials, so no
    invocation pays for this round trip and nothing needs caching (a cache keyed by model uid
    alone would mix up two servers running the same uid).
    """
    body = probe(credentials, f"models/{quote(uid, safe='')}")
    return body if isinstance(body, dict) and "model_type" in body else None


def model_ids(credentials: Mapping[str, Any]) -> list[str] | None:
    """The ids from GET /v1/models, or None if the server does not list its models."""
    body = probe(credentials, "models")
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return [str(item.get("id")) for item in data if isinstance(item, dict)]


# Answers meaning "this server has no such endpoint", as opposed to a real error.
NO_SUCH_ENDPOINT = frozenset({404, 405, 501})


def probe(credentials: Mapping[str, Any], path: str, absent: frozenset[int] = NO_SUCH_ENDPOINT) -> Any:
    """GET within CHECK_TIMEOUT; the JSON answered, or None if the status is one of `absent`
    (the server has no such endpoint) or the answer is not JSON.

    Other error answers raise, e.g. Xinference's 400 for a uid it does not run.
    """
    limit = (CHECK_TIMEOUT, f"{CHECK_TIMEOUT:g} s, the limit for a credential check")
    answer = request(credentials, "GET", path, limit=limit, allowed=absent)
    if answer.status in absent:
        return None
    try:
        return json.loads(answer.body)
    except ValueError:
        return None


# Xinference's model_type / model_ability values that fit each Dify model type.
EXPECTED = {
{% if plan.has("llm") %}
    "llm": ({"llm"}, set()),
{% endif %}
{% if plan.has("text-embedding") %}
    "text-embedding": ({"embedding"}, set()),
{% endif %}
{% if plan.has("rerank") %}
    "rerank": ({"rerank"}, set()),
{% endif %}
{% if plan.has("speech2text") %}
    "speech2text": ({"audio"}, {"audio2text", "audio_to_text"}),
{% endif %}
{% if plan.has("tts") %}
    "tts": ({"audio"}, {"text2audio", "text_to_audio"}),
{% endif %}
{% if plan.has("moderation") %}
    "moderation": (set(), set()),
{% endif %}
}


def validate_model(credentials: dict, model: str, model_type: str) -> dict[str, Any] | None:
    """Check, with cheap real requests, that the server runs this model as this model type.

    Where the server describes its models (Xinference), its description decides; elsewhere one
    small real request of that type does (see check_type). Returns the server's description
    when it gives one. Raises CredentialsValidateFailedError with a message a person can act on,
    within CHECK_TIMEOUT.
    """
    uid = model_uid(credentials, model)
    with credential_check(credentials):
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

CHECK_TEXT = "Hi"


class TypeCheck(NamedTuple):
    """One small real request that only a model of one type answers properly."""

    what: str  # how the request reads in an error message
    path: str
    request: dict[str, Any]  # arguments for httpx: json=..., or data= and files=
    answered: Callable[[Answer], bool]  # the answer has that type's shape


def _json_of(answer: Answer) -> Any:
    try:
        return json.loads(answer.body)
    except ValueError:
        return None


def _listed(key: str) -> Callable[[Answer], bool]:
    def check(answer: Answer) -> bool:
        body = _json_of(answer)
        found = body.get(key) if isinstance(body, dict) else None
        return isinstance(found, list) and bool(found)

    return check


def _embedding(answer: Answer) -> bool:
    """A vector that is not all zeros: llama.cpp answers a rerank model's embeddings with zeros."""
    body = _json_of(answer)
    data = body.get("data") if isinstance(body, dict) else None
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    vector = first.get("embedding")
    return isinstance(vector, list) and any(isinstance(x, (int, float)) and x != 0 for x in vector)


{% if plan.has("speech2text") %}
def _transcript(answer: Answer) -> bool:
    body = _json_of(answer)
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
def _audio(answer: Answer) -> bool:
    return bool(answer.body) and not answer.content_type.startswith(("application/json", "text/"))


{% endif %}
def type_checks(credentials: Mapping[str, Any], uid: str) -> dict[str, TypeCheck]:
    """The request that tells each model type apart, by Dify model type (for the types that have one)."""
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
            {"json": {"model": uid, "input": CHECK_TEXT, "voice": voice, "response_format": "mp3"}},
            _audio,
        ),
{% endif %}
    }


def check_type(credentials: Mapping[str, Any], uid: str, model_type: str) -> None:
    """Make one small request of `model_type` to `uid`; raise CredentialsValidateFailedError if it fails.

    On failure, the same small request for the other common types says what the model is instead,
    so the message can name it; all of it within the credential check's CHECK_TIMEOUT. Auth and
    connection failures are reported as they are.
    """
    checks = type_checks(credentials, uid)
    if model_type not in checks:
        return
    failure = _try(credentials, checks[model_type])
    if failure is None:
        return
    if isinstance(failure, (InvokeAuthorizationError, InvokeConnectionError, InvokeRateLimitError)):
        raise CredentialsValidateFailedError(str(failure))
    base = connection(credentials).base_url
    for other in ("llm", "text-embedding", "rerank"):
        if other != model_type and _try(credentials, checks[other]) is None:
            raise CredentialsValidateFailedError(
                f"{uid!r} on {base} is {_a(other)} model, not {_a(model_type)} model: "
                f"it answers {checks[other].what} but not {checks[model_type].what} ({failure})"
            )
    raise CredentialsValidateFailedError(
        f"{uid!r} on {base} did not answer {checks[model_type].what} as {_a(model_type)} model would: {failure}"
    )


def _try(credentials: Mapping[str, Any], check: TypeCheck) -> InvokeError | None:
    """None if the server answered `check` with that type's answer, else the error to report."""
    try:
        answer = request(credentials, "POST", check.path, **check.request)
    except InvokeError as error:
        return error
    if not check.answered(answer):
        return InvokeServerUnavailableError(
            f"POST {answer.url} answered {answer.status} with something else: {answer.text[:120]!r}"
        )
    return None


# -- The server's own tokenizer, where it has one (llama.cpp's POST /tokenize) -------------

TOKENIZE_PATH = "/tokenize"  # beside /v1, not under it
TEMPLATE_PATH = "/apply-template"  # renders a chat as the model's prompt (llama.cpp)
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
        self.credentials = credentials
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
        limit = (left, f"the {TOKENIZER_BUDGET:g} s for counting tokens")
        try:
            body = {"model": self.uid, **payload}
            answer = request(self.credentials, "POST", path, limit=limit, allowed=NO_SUCH_ENDPOINT, json=body)
        except InvokeError:
            return None  # not remembered: the next call asks again
        found_body = _json_of(answer) if answer.status < 400 else None
        found = isinstance(found_body, dict) and ("tokens" in found_body or "prompt" in found_body)
        with _tokenizers_lock:
            if len(_tokenizers) >= KNOWN_TOKENIZERS:
                _tokenizers.pop(next(iter(_tokenizers)))
            _tokenizers[key] = found
        return found_body if found else None


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
