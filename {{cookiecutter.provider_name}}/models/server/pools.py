"""One pooled HTTP client per connection settings: auth and extra headers, TLS, proxy, retries,
keep-alive. `new_client` is the one place every client is made.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from models.server import limits
from models.server.connection import Connection
from models.server.network import tls_context


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


def new_client(conn: Connection) -> httpx.Client:
    """The HTTP client for one connection's settings.

    The transport is made here, so httpx reads nothing from the environment itself (a transport
    of one's own turns its proxy variables off): the connection carries the proxy they name
    (network.proxy_for) and the CA bundle (network.trust), whose context is made once per file.
    """
    headers = {"Accept-Encoding": "gzip, deflate", **dict(conn.headers)}  # encodings bodies.decoded() reads
    if conn.api_key:
        # ADAPT: the auth header. A server that wants e.g. `X-API-Key: <key>` sets it here.
        headers["Authorization"] = f"Bearer {conn.api_key}"
    pool_limits = httpx.Limits(
        max_connections=limits.MAX_CONNECTIONS,
        max_keepalive_connections=limits.KEEPALIVE,
        keepalive_expiry=limits.KEEPALIVE_EXPIRY,
    )
    tls = tls_context(conn.trust)
    return httpx.Client(
        base_url=conn.base_url,
        headers=headers,
        timeout=httpx.Timeout(conn.timeout, connect=min(conn.timeout, limits.CONNECT_TIMEOUT)),
        limits=pool_limits,
        verify=tls,
        trust_env=False,
        # Retries cover failed connection attempts only, never a request the server received.
        transport=httpx.HTTPTransport(
            retries=conn.retries, limits=pool_limits, verify=tls, proxy=conn.proxy or None
        ),
    )


POOLS = Pools(limits.MAX_CLIENTS)
