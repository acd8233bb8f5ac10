"""The benchmark's model server: an OpenAI-style HTTP/1.1 server on 127.0.0.1 built to cost as
little as possible, so a row's floor measures the client and not this server.

- every answer leaves in one write (headers and body together), on sockets with TCP_NODELAY,
  from a listen backlog of 1,024; keep-alive connections; one asyncio loop, no threads;
- streams are chunked server-sent events, one write per event, each event's text the moment it
  was sent (`time.monotonic_ns()`, the same clock in every process on this machine, its digits
  written as the letters a to j so that it reads as one word), so a receiver can tell how long
  the event took to reach it;
- embeddings take `embed_ms` milliseconds per request (a sleep: the model's time, spent off this
  server's CPU) and answer `dims`-dimensional vectors rendered once; `serial` makes requests wait
  for each other (a server that works on one request at a time), otherwise any number overlap.

Settings come from the command line and from `POST /_config` (JSON with the same names).
Run: `python benchmarks/loopback.py [--serial] [--embed-ms 20]`; it prints its port.
"""

import argparse
import asyncio
import json
import socket
import time

SETTINGS = {"chunks": 2000, "interval_ms": 0.0, "embed_ms": 0.0, "dims": 384, "serial": False}
VECTORS: dict[int, bytes] = {}  # dims -> one embedding as JSON
SERIAL = asyncio.Lock()
PEAK = {"waiting": 0, "peak": 0}  # embedding requests inside the server at once


def vector_json(dims: int) -> bytes:
    if dims not in VECTORS:
        VECTORS[dims] = json.dumps([round((i % 97) / 97 - 0.5, 6) for i in range(dims)]).encode()
    return VECTORS[dims]


def answer(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    reason = "OK" if status == 200 else "Not Found"
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"%s "}}]}\n\n'
AS_LETTERS = str.maketrans("0123456789", "abcdefghij")
AS_DIGITS = str.maketrans("abcdefghij", "0123456789")


def sent_ns(content: str) -> int:
    """The send time an event's text carries (see the module's docstring)."""
    return int(content.strip().translate(AS_DIGITS))


END = (
    chunk(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
    + chunk(b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n')
    + chunk(b"data: [DONE]\n\n")
    + b"0\r\n\r\n"
)


async def stream(writer: asyncio.StreamWriter) -> None:
    chunks, interval = int(SETTINGS["chunks"]), SETTINGS["interval_ms"] / 1000
    writer.write(STREAM_HEAD)
    clock = time.monotonic()
    for number in range(chunks):
        writer.write(chunk(EVENT % str(time.monotonic_ns()).translate(AS_LETTERS).encode()))
        if interval:
            await writer.drain()
            clock += interval
            await asyncio.sleep(max(0.0, clock - time.monotonic()))
        elif number % 64 == 63:
            await writer.drain()
    writer.write(END)


async def embeddings(body: dict) -> bytes:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    PEAK["waiting"] += 1
    PEAK["peak"] = max(PEAK["peak"], PEAK["waiting"])
    try:
        if SETTINGS["serial"]:
            async with SERIAL:
                await asyncio.sleep(SETTINGS["embed_ms"] / 1000)
        elif SETTINGS["embed_ms"]:
            await asyncio.sleep(SETTINGS["embed_ms"] / 1000)
    finally:
        PEAK["waiting"] -= 1
    vector = vector_json(int(SETTINGS["dims"]))
    data = b",".join(b'{"object":"embedding","index":%d,"embedding":%s}' % (i, vector) for i in range(len(texts)))
    usage = b'"usage":{"prompt_tokens":%d,"total_tokens":%d}' % (len(texts), len(texts))
    return answer(200, b'{"object":"list","data":[%s],%s}' % (data, usage))


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            method, path = head.split(b" ", 2)[:2]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            raw = await reader.readexactly(length) if length else b""
            body = json.loads(raw) if raw else {}
            if path == b"/v1/chat/completions" and body.get("stream"):
                await stream(writer)
            elif path == b"/v1/embeddings":
                writer.write(await embeddings(body))
            elif path == b"/_config":
                SETTINGS.update(body)
                seen = dict(PEAK)
                PEAK["peak"] = PEAK["waiting"]
                writer.write(answer(200, json.dumps({"settings": SETTINGS, **seen}).encode()))
            elif method == b"GET" and path.startswith(b"/v1/models"):
                writer.write(answer(200, b'{"object":"list","data":[]}'))
            else:
                writer.write(answer(404, b'{"detail":"Not Found"}'))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serial", action="store_true", help="work on one embedding request at a time")
    parser.add_argument("--embed-ms", type=float, default=0.0, help="milliseconds per embedding request")
    parser.add_argument("--lifetime", type=float, default=1800.0, help="seconds before the server stops")
    args = parser.parse_args()
    SETTINGS.update(serial=args.serial, embed_ms=args.embed_ms)
    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await asyncio.wait_for(server.serve_forever(), args.lifetime)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, TimeoutError):
        pass
