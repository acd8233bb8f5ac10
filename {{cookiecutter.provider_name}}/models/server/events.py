"""Server-sent events: the stream framing of OpenAI-style APIs (`data: {...}` lines, `data: [DONE]`)."""

import json
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

from dify_plugin.errors.model import InvokeServerUnavailableError

from models.server import limits
from models.server.bodies import decoded, lines, read_ahead, scrub
from models.server.connection import Connection
from models.server.errors import detail
from models.server.transport import paced, streamed

# The last event of a stream that ended with `data: [DONE]`: a stream without it was cut, one
# with it ended as the server meant, with or without a finish_reason before it.
DONE: dict[str, Any] = {"[DONE]": True}


def stream_events(
    conn: Connection, path: str, payload: dict[str, Any], longest: float = limits.STREAM_LIMIT
) -> Iterator[list[dict[str, Any]]]:
    """POST and yield each server-sent event's JSON object until `data: [DONE]`, in lists of the
    events that arrived together (see `bodies.read_ahead`; never empty); `[DONE]` itself is the
    DONE object, last.

    The stream ends with InvokeConnectionError when no event arrives for `request_timeout`
    (comment lines and other fields do not count) or when it has lasted `longest` seconds; the
    connection is closed then, so the server stops generating. Errors are Dify's, also those
    that happen after the first event.
    """
    # ADAPT: stream framing. A server that streams newline-delimited JSON (Ollama's native API)
    # gets a sibling of this function that reads each line as one event.
    url = conn.url(path)
    started = time.monotonic()
    silent = f"{url} sent no event for request_timeout = {conn.timeout:g} s"

    def limit() -> tuple[float, str]:
        left = longest - (time.monotonic() - started)
        if left < conn.timeout:
            return (
                left,
                f"{url} was still streaming after answer_seconds = {longest:g} s, the limit for one answer",
            )
        return conn.timeout, silent

    def is_sse(content_type: str) -> bool:
        return content_type.startswith("text/event-stream")

    with (
        streamed(conn, url, payload, limit, is_sse, "an event stream", "text/event-stream") as response,
        closing(read_ahead(decoded(response, url))) as pieces,
    ):
        for batch in paced(_data(lines(pieces, url, conn), url, conn), limit):
            ended = "[DONE]" in batch
            events, error = _events(batch[: batch.index("[DONE]")] if ended else batch, url, conn)
            if ended and error is None:
                events.append(DONE)
            if events:
                yield events  # what came before an error in the same read reaches Dify first
            if error is not None:
                raise error
            if ended:
                return


def _events(
    batch: list[str], url: str, conn: Connection
) -> tuple[list[dict[str, Any]], InvokeServerUnavailableError | None]:
    """The events of `batch` up to the first that is an error or unreadable, and that error."""
    events = []
    for data in batch:
        if isinstance(data, InvokeServerUnavailableError):
            return events, data
        try:
            events.append(_event(data, url, conn))
        except InvokeServerUnavailableError as error:
            return events, error
    return events, None


def _data(
    batches: Iterator[list[str]], url: str, conn: Connection
) -> Iterator[list[str | InvokeServerUnavailableError]]:
    """The `data:` values of a server-sent event stream, in lists of those that arrived together
    (never empty); comments and other fields are skipped. An `event: error` ends its list as
    Dify's error with the server's message, after the values before it, and ends the stream."""
    kind = ""
    for batch in batches:
        found: list[str | InvokeServerUnavailableError] = []
        for line in batch:
            if not line:
                kind = ""  # a blank line ends an event
            elif line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                if kind == "error":
                    yield [*found, _stream_error(url, line[5:], conn)]
                    return
                found.append(line[5:].strip())
        if found:
            yield found


def _event(data: str, url: str, conn: Connection) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError:
        raise InvokeServerUnavailableError(f"{url} sent a malformed stream line: {data[:120]!r}") from None
    if not isinstance(event, dict):
        raise InvokeServerUnavailableError(f"{url} sent a stream event that is not an object: {data[:120]!r}")
    if "error" in event and not event.get("choices"):
        raise _stream_error(url, data, conn)
    return event


def _stream_error(url: str, data: str, conn: Connection) -> InvokeServerUnavailableError:
    """The server's error event (the extra_headers values removed, as from any error answer)."""
    shown = scrub(data.encode(), conn, headers=True).decode("utf-8", "replace")
    return InvokeServerUnavailableError(f"{url} reported an error mid-stream: {detail(shown)}")
