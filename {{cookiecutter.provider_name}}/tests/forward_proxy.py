"""A small HTTP forward proxy for the tests, on 127.0.0.1, as corporate proxies behave (RFC 9110
section 9.3.6, RFC 9112 section 3.2.2): a request for an http:// URL comes in absolute form and is
forwarded; CONNECT host:port opens a tunnel, which https goes through. It notes each request line.

Run as its own process (`python tests/forward_proxy.py` prints its port, then one request line per
request it receives), like tests/fake_server.py: the plugin's own process, in-process tests
included, only ever talks to it over a socket. It ends when stdin closes.
"""

import socket
import sys
import threading
from socketserver import StreamRequestHandler, ThreadingTCPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-authorization", b"proxy-connection", b"te", b"upgrade"}
PIPE_BYTES = 64 * 1024
TIMEOUT = 30.0  # no exchange through the proxy waits longer than this


def pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes until `source` ends, then end `target`'s writing side."""
    try:
        while data := source.recv(PIPE_BYTES):
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Handler(StreamRequestHandler):
    timeout = TIMEOUT

    def handle(self) -> None:
        line = self.rfile.readline(65536)
        method, target, version = line.decode("latin-1").split()
        head = []
        while (header := self.rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
            head.append(header)
        print(f"{method} {target}", flush=True)
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)), timeout=TIMEOUT)
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
        else:
            url = urlsplit(target)
            upstream = socket.create_connection((url.hostname, url.port or 80), timeout=TIMEOUT)
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            kept = [h for h in head if h.split(b":", 1)[0].strip().lower() not in HOP_BY_HOP]
            length = next(
                (int(h.split(b":", 1)[1]) for h in kept if h.lower().startswith(b"content-length:")), 0
            )
            request = (
                f"{method} {path} {version}\r\n".encode() + b"".join(kept) + b"Connection: close\r\n\r\n"
            )
            upstream.sendall(request + self.rfile.read(length))
        with upstream:
            if method == "CONNECT":  # bytes both ways (the client sends none before the 200)
                inbound = threading.Thread(target=pipe, args=(self.connection, upstream), daemon=True)
                inbound.start()
                pipe(upstream, self.connection)
                inbound.join(TIMEOUT)
            else:  # one answer; the client opens a new connection for its next request
                pipe(upstream, self.connection)


class Proxy(ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client or server that hung up mid-exchange is normal here."""


def main() -> None:
    proxy = Proxy(("127.0.0.1", 0), Handler)
    print(proxy.server_address[1], flush=True)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes it
    proxy.shutdown()


if __name__ == "__main__":
    main()
