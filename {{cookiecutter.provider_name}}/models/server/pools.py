"""One pooled HTTP client per connection settings: auth and extra headers, TLS, proxy, retries,
keep-alive. `new_client` is the one place every client is made.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from models.server import limits
from models.server.connection import Connection
from models.server.network import tls_context


class _Pool:
    def __init__(self, client: httpx.Client, now: float) -> None:
        self.client = client
        self.users = 0
        self.evicted = False
        self.used = now  # when a call last began or ended with it


class Pools:
    """One HTTP client per connection settings, at most `size`; the least recently used is closed,
    and so is one no call has used for `idle` seconds (checked whenever a call begins).

    A client that is still in use when it is evicted is closed when its last call ends.
    """

    def __init__(self, size: int, idle: float = limits.POOL_IDLE) -> None:
        self.size, self.idle = size, idle
        self.clock = time.monotonic  # a test may turn it
        self._pools: OrderedDict[Connection, _Pool] = OrderedDict()
        self._lock = threading.Lock()

    @contextmanager
    def use(self, conn: Connection) -> Iterator[httpx.Client]:
        """The client for `conn`, kept open until the block ends."""
        with self._lock:
            now = self.clock()
            pool = self._pools.pop(conn, None) or _Pool(new_client(conn), now)
            self._pools[conn] = pool
            pool.users += 1
            pool.used = now
            evicted = []
            while len(self._pools) > self.size or self._idle_first(now):
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
                pool.used = self.clock()
                close = pool.evicted and not pool.users
            if close:
                pool.client.close()

    def _idle_first(self, now: float) -> bool:
        """Whether the least recently used pool has had no call for `idle` seconds."""
        oldest = next(iter(self._pools.values()))
        return not oldest.users and now - oldest.used > self.idle

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
