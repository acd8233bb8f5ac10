"""The server as the check sees it when explaining a failure: quick looks of its own (urllib, no
SDK), bounded by PROBE_TIMEOUT, made only once a check has failed."""

import base64
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from models.server.families import openai, xinference
from models.server.vocabulary import YES
from scripts.check.arguments import Settings, extra_headers
from scripts.check.failure import LOOPBACK

PROBE_TIMEOUT = 5.0  # this script's own look at the server when explaining a failure


def in_container() -> bool:
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


class Server:
    """Quick looks at the server (bounded by PROBE_TIMEOUT) that explain why a check failed."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.server_url
        parts = urlsplit(self.url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.root = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"  # without user:password
        at_root = settings.given.get("routes_at_root", "").strip().lower() == YES
        self.base = openai.api_base(self.root, parts.path, at_root)  # where the plugin sends its requests
        if parts.path.strip("/"):
            self.base_rule = "the URL's path, as given"
        elif at_root:
            self.base_rule = "the server's root, as routes_at_root=yes says"
        else:
            self.base_rule = f"{openai.API_PREFIX} added to a URL without a path"
        self.headers = dict(extra_headers(settings.given.get("extra_headers")))
        if settings.api_key:
            self.headers["Authorization"] = f"Bearer {settings.api_key}"
        elif parts.username is not None:
            user = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.headers["Authorization"] = f"Basic {base64.b64encode(user).decode()}"
        self._reach: list[str | None] = []
        self._listing: dict[str, tuple[int | None, Any]] = {}
        self._running: list[tuple[str, str | None]] | None = None

    @cached_property
    def opener(self) -> urllib.request.OpenerDirector:
        """Made when first needed: it loads the CA bundle (about 50 ms), and a check that passes never probes."""
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def loopback(self) -> bool:
        return self.host.lower().startswith(LOOPBACK)

    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def unreachable(self) -> str | None:
        """None if a TCP connection to the server opens, else the fix line saying why not."""
        if not self._reach:
            self._reach.append(self._connect())
        return self._reach[0]

    def _connect(self) -> str | None:
        addresses: list[Any] = []
        lookup = threading.Thread(target=lambda: addresses.append(self._resolve()), daemon=True)
        lookup.start()
        lookup.join(PROBE_TIMEOUT)
        if not addresses:
            return f"the name {self.host!r} did not resolve within {PROBE_TIMEOUT:g} s: use the server's IP address"
        if isinstance(addresses[0], OSError):
            return f"the name {self.host!r} does not resolve here: check its spelling, or use the server's IP address"
        try:
            with socket.create_connection((self.host, self.port), timeout=PROBE_TIMEOUT):
                return None
        except ConnectionRefusedError:
            return f"nothing listens on {self.where()}: start the server or correct the port{self.localhost_hint()}"
        except TimeoutError:
            return (
                f"{self.where()} does not answer (no connection within {PROBE_TIMEOUT:g} s): "
                "check the address, and that no firewall blocks the port"
            )
        except OSError as error:
            return (
                f"cannot reach {self.where()} ({error.strerror or error}): check the address and the network"
            )

    def _resolve(self) -> Any:
        try:
            return socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except OSError as error:
            return error

    def localhost_hint(self) -> str:
        if not self.loopback:
            return ""
        if in_container():
            return (
                f"; this check runs in a container, where {self.host} is the container itself: "
                "use the address of the machine running the server (its LAN IP, or host.docker.internal)"
            )
        return f"; if the server runs in a container or on another machine, {self.host} is the wrong address: use that machine's IP"

    def get(self, url: str) -> tuple[int | None, Any]:
        """(status, JSON body or None); status None if the request got no answer at all."""
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with self.opener.open(request, timeout=PROBE_TIMEOUT) as response:
                status, raw = response.status, response.read(1_000_000)
        except urllib.error.HTTPError as error:
            status, raw = error.code, b""
        except (OSError, ValueError):
            return None, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None

    def listing(self, base: str | None = None) -> tuple[int | None, Any]:
        base = base or self.base
        if base not in self._listing:
            self._listing[base] = self.get(f"{base}/{openai.MODELS_PATH}")
        return self._listing[base]

    def running(self) -> list[tuple[str, str | None]] | None:
        """The models the server lists (uid, Dify model type or None), or None if it lists none.

        Types come from the listing or, within PROBE_TIMEOUT overall, from asking about each model.
        """
        if self._running is None:
            status, body = self.listing()
            data = body.get("data") if status == 200 and isinstance(body, dict) else None
            if not isinstance(data, list):
                return None
            until = time.monotonic() + PROBE_TIMEOUT
            self._running = []
            for item in (i for i in data if isinstance(i, dict)):
                uid = str(item.get("id"))
                kind = xinference.dify_type(item) or (
                    self.describe(uid) if time.monotonic() < until else None
                )
                self._running.append((uid, kind))
        return self._running

    def describe(self, uid: str) -> str | None:
        """The Dify model type the server says `uid` has (Xinference describes each model)."""
        status, body = self.get(f"{self.base}/{xinference.asks(uid)[0].path}")
        return xinference.dify_type(body) if status == 200 and isinstance(body, dict) else None

    def type_of(self, uid: str) -> str | None:
        return dict(self.running() or []).get(uid) or self.describe(uid)

    def runs(self, want: str | None = None) -> str:
        """The running models as a short list; only those of type `want` if the server says."""
        models = self.running() or []
        if want and any(kind for _, kind in models):  # a server that does not say types: list them all
            models = [m for m in models if m[1] == want]
            if not models:
                return f"the server runs no {want} model"
        shown = [f"{uid} ({kind})" if kind and not want else uid for uid, kind in models[:8]]
        more = f" and {len(models) - 8} more" if len(models) > 8 else ""
        return "the server runs: " + ((", ".join(shown) + more) if shown else "no models")
