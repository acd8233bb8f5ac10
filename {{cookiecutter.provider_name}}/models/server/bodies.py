"""Reading what the server sends, within limits: decompression, size caps, read-ahead, and the
API key removed from everything before anything reads it."""

import json
import zlib
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

import gevent
import gevent.event
import httpx
from dify_plugin.errors.model import InvokeServerUnavailableError

from models.server import limits
from models.server.connection import Connection


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

    def json(self) -> object:
        """The body as JSON, or None if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


# Shorter values of extra_headers (a flag, "1") are no secrets: replacing them would garble a message.
HEADER_SECRET_CHARS = 4


@lru_cache(maxsize=limits.MAX_CLIENTS)
def _secrets(api_key: str, header_values: tuple[str, ...] = ()) -> list[bytes]:
    """The API key, and the given header values, as a server may echo them: as sent, and as JSON
    encoders escape them."""
    forms = set()
    for secret in (api_key, *[value for value in header_values if len(value) >= HEADER_SECRET_CHARS]):
        if not secret:
            continue
        escaped = json.dumps(secret)[1:-1]
        forms |= {
            secret,
            escaped,
            escaped.replace("/", "\\/"),
            escaped.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"),
        }
    return [form.encode() for form in sorted(forms, key=len, reverse=True)]


def scrub(data: bytes, conn: Connection, *, headers: bool = False) -> bytes:
    """`data` with every form of the API key replaced by `***`; with `headers`, also the values of
    extra_headers (done for error answers, whose text reaches messages: a value may be a gateway's
    key, and a short common word in an answer's content must stay as it is)."""
    values = tuple(value for _, value in conn.headers) if headers else ()
    for secret in _secrets(conn.api_key, values):
        data = data.replace(secret, b"***")
    return data


def decoded(response: httpx.Response, url: str) -> Iterator[bytes]:
    """The body as it arrives, inflated in pieces of at most INFLATE_BYTES, so that a small
    compressed answer cannot fill the memory before its size is checked."""
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
                piece = inflater.decompress(data, limits.INFLATE_BYTES)
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


def read_ahead(pieces: Iterator[bytes], most: int = limits.READ_AHEAD_BYTES) -> Iterator[bytes]:
    """`pieces`, those that arrive while the previous one is being handled joined into one.

    A greenlet reads ahead, up to `most` bytes; each step takes everything it holds. An HTTP
    chunk is one piece, and servers send one event per chunk: without this, a server streaming
    faster than the plugin passes events on would build a backlog of one message per event.
    Errors reading are raised here, as they were raised there.
    """
    held: list[bytes] = []
    ended: list[Exception | None] = []  # the reader's end: None, or what it raised
    filled, emptied = gevent.event.Event(), gevent.event.Event()

    def reader() -> None:
        size = 0  # of the pieces held
        try:
            for piece in pieces:
                size = size + len(piece) if held else len(piece)
                held.append(piece)
                filled.set()
                while held and size >= most:
                    emptied.clear()
                    emptied.wait()
            ended.append(None)
        except Exception as error:  # raised again below, in the stream's own greenlet
            ended.append(error)
        filled.set()

    worker = gevent.spawn(reader)
    try:
        while True:
            if not held and not ended:
                filled.clear()
                filled.wait()
            if held:
                joined = b"".join(held)
                held.clear()
                emptied.set()
                yield joined
            elif ended[0] is not None:
                raise ended[0]
            else:
                return
    finally:
        worker.kill()


def read(response: httpx.Response, url: str, conn: Connection, keep: int | None = None) -> bytes:
    """The whole body, refused beyond MAX_RESPONSE_BYTES after decompression; or the first `keep`
    bytes of an error answer (the values of extra_headers removed too)."""
    limit = keep or limits.MAX_RESPONSE_BYTES
    declared = response.headers.get("content-length", "")
    if keep is None and declared.isdigit() and int(declared) > limit:
        raise too_big(url)
    body = bytearray()
    for piece in decoded(response, url):
        body += piece
        if len(body) > limit:
            if keep is None:
                body.clear()  # free it now, not when the error's traceback is collected
                raise too_big(url)
            del body[limit:]
            break
    return scrub(bytes(body), conn, headers=keep is not None)


def too_big(url: str) -> InvokeServerUnavailableError:
    return InvokeServerUnavailableError(
        f"{url} answered more than {limits.MAX_RESPONSE_BYTES // 2**20} MiB, the limit for one answer"
    )


def lines(chunks: Iterator[bytes], url: str, conn: Connection) -> Iterator[list[str]]:
    """The lines of a stream (LF or CRLF), each at most MAX_LINE_BYTES, the API key removed; in
    lists of the lines completed by one read."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        end = buffer.rfind(b"\n") + 1
        if end:  # the key has no line break in it: removing it from whole lines at once is the same
            complete = scrub(bytes(buffer[:end]), conn).decode("utf-8", "replace")
            del buffer[:end]
            yield [line.removesuffix("\r") for line in complete.split("\n")[:-1]]
        if len(buffer) > limits.MAX_LINE_BYTES:
            buffer.clear()
            raise InvokeServerUnavailableError(
                f"{url} sent a stream line longer than {limits.MAX_LINE_BYTES // 2**10} KiB, the limit for one line"
            )
    if buffer:
        yield [scrub(bytes(buffer), conn).decode("utf-8", "replace")]
