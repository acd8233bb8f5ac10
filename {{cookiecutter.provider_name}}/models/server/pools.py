"""One pooled HTTP client per connection settings: auth header, TLS, retries, keep-alive.

Network settings a deployment may need (a proxy, a private CA bundle, extra headers) belong in
`new_client`, the one place every client is made.
"""

import ssl
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import httpx

from models.server import limits
from models.server.connection import Connection


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
            pool = self._pools.pop(conn, None) or _Pool(new_client(conn))
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


def new_client(conn: Connection) -> httpx.Client:
    """The HTTP client for one connection's settings."""
    headers = {"Accept-Encoding": "gzip, deflate"}  # the encodings bodies.decoded() reads within limits
    if conn.api_key:
        # ADAPT: the auth header. A server that wants e.g. `X-API-Key: <key>` sets it here.
        headers["Authorization"] = f"Bearer {conn.api_key}"
    pool_limits = httpx.Limits(
        max_connections=limits.MAX_CONNECTIONS,
        max_keepalive_connections=limits.KEEPALIVE,
        keepalive_expiry=limits.KEEPALIVE_EXPIRY,
    )
    return httpx.Client(
        base_url=conn.base_url,
        headers=headers,
        timeout=httpx.Timeout(conn.timeout, connect=min(conn.timeout, limits.CONNECT_TIMEOUT)),
        limits=pool_limits,
        verify=_tls(),
        # Retries cover failed connection attempts only, never a request the server received.
        transport=httpx.HTTPTransport(retries=conn.retries, limits=pool_limits, verify=_tls()),
    )


POOLS = Pools(limits.MAX_CLIENTS)
