"""Requests to the server, each within its time limit; answers read whole or streamed.

The SDK serves each request of the Dify daemon in its own greenlet (`dify_plugin` monkey-patches
the standard library with gevent), so time limits are gevent timers: they interrupt any wait on
the network, and many slow calls wait side by side in one thread.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import gevent
import httpx
from dify_plugin.errors.model import InvokeServerUnavailableError

from models.server import limits
from models.server.bodies import Answer, decoded, read, too_big
from models.server.connection import Connection
from models.server.encoding import as_content
from models.server.errors import detail, status_error, timed_out, transport_error
from models.server.patience import Patience, RanOut
from models.server.pools import POOLS

Limit = Callable[[], tuple[float, str]]  # the seconds left for the next wait, and the limit's name


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
        raise timed_out(message) from None
    finally:
        timer.close()


def paced[T](items: Iterator[T], limit: Limit) -> Iterator[T]:
    """Yield from `items`; each wait for the next one is bounded as `limit()` says at that moment.

    `time_limit` written out: this runs once per event of every stream."""
    end = object()
    while True:
        seconds, message = limit()
        timer = Patience(seconds)  # what arrived while the loop was held is not silence
        try:
            item = next(items, end)
        except RanOut as fired:
            if fired is not timer.error:
                raise
            raise timed_out(message) from None
        finally:
            timer.close()
        if item is end:
            return
        yield item  # type: ignore[misc]


@contextmanager
def transport_errors(url: str, conn: Connection) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as error:
        raise transport_error(error, url, conn) from None


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
    kwargs = as_content(kwargs)  # a JSON body encoded without holding the event loop
    try:
        response = http.send(http.build_request(method, url, **kwargs), stream=True)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
        if not _dropped_unanswered(error):
            raise
        response = http.send(http.build_request(method, url, **kwargs), stream=True)
    if response.status_code < 400 or response.status_code in allowed:
        return response
    try:
        body = read(response, url, conn, keep=limits.ERROR_BODY_BYTES)
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
    conn: Connection,
    method: str,
    path: str,
    *,
    limit: tuple[float, str] | None = None,
    allowed: frozenset[int] = frozenset(),
    **kwargs: Any,
) -> Answer:
    """Send one request and read its whole answer within `request_timeout` (or `limit`: seconds
    and the name of that limit); raise Dify's error for anything but a complete success (or an
    error status in `allowed`, which is answered). `kwargs` go to httpx: json=, or data= and files=."""
    url = conn.url(path)
    seconds, bound = limit or (conn.timeout, f"request_timeout = {conn.timeout:g} s")
    with (
        POOLS.use(conn) as http,
        transport_errors(url, conn),
        time_limit(seconds, f"{method} {url} did not complete within {bound}"),
    ):
        response = _open(conn, http, method, url, allowed, **kwargs)
        try:
            body = read(response, url, conn)
        finally:
            response.close()
    return Answer(method, url, response.status_code, response.headers.get("content-type", ""), body)


def json_object(answer: Answer) -> dict[str, Any]:
    """The body as a JSON object, or InvokeServerUnavailableError saying what came instead."""
    body = answer.json()
    if not isinstance(body, dict):
        raise InvokeServerUnavailableError(
            f"{answer.url} answered {answer.status} ({_kind(answer.content_type)}) without a JSON object: "
            f"{answer.text[:120]!r}"
        )
    return body


def _kind(content_type: str) -> str:
    return content_type.split(";")[0].strip()[:60] or "no content type"


@contextmanager
def streamed(
    conn: Connection,
    url: str,
    payload: dict[str, Any],
    limit: Limit,
    wanted: Callable[[str], bool],
    what: str,
    accept: str = "*/*",
) -> Iterator[httpx.Response]:
    """POST `payload` and yield the response, once its headers are in and its content type is
    `wanted`; else raise Dify's error naming what came instead of `what`."""
    with POOLS.use(conn) as http, transport_errors(url, conn):
        with time_limit(*limit()):
            response = _open(conn, http, "POST", url, json=payload, headers={"Accept": accept})
        try:
            content_type = response.headers.get("content-type", "")
            if not wanted(content_type):
                with time_limit(*limit()):
                    body = read(response, url, conn, keep=limits.ERROR_BODY_BYTES)
                raise InvokeServerUnavailableError(
                    f"{url} answered {_kind(content_type)} instead of {what}: {detail(body)}"
                )
            yield response
        finally:
            response.close()


def stream_bytes(
    conn: Connection,
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
    url = conn.url(path)
    deadline = time.monotonic() + conn.timeout
    message = f"POST {url} did not complete within request_timeout = {conn.timeout:g} s"

    def limit() -> tuple[float, str]:
        return deadline - time.monotonic(), message

    def wanted(content_type: str) -> bool:
        return not content_type.startswith(refused)

    with streamed(conn, url, payload, limit, wanted, expected) as response:
        size = 0
        for chunk in paced(decoded(response, url), limit):
            size += len(chunk)
            if size > limits.MAX_RESPONSE_BYTES:
                raise too_big(url)
            yield chunk
