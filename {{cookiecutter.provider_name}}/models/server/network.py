"""What the network between the plugin and the server asks for: the proxy the environment names,
and which certificates prove the server.

The Dify daemon starts the plugin with its own environment: HTTP_PROXY, HTTPS_PROXY and NO_PROXY
(which it may also set from its settings), ALL_PROXY, SSL_CERT_FILE and REQUESTS_CA_BUNDLE reach
the plugin as they reach any program it starts. No SDK import here.
"""

import os
import ssl
import urllib.request
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import httpx

from models.server import limits

# Where a CA bundle may be named besides the form's `ca_bundle`, in the order they are read:
# OpenSSL's and httpx's variable, then requests' (which most Python users set), then OpenSSL's folder.
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "SSL_CERT_DIR")


def proxy_for(url: str) -> str:
    """The proxy the environment names for `url`, or "" to connect directly.

    HTTPS_PROXY or HTTP_PROXY by the URL's scheme, else ALL_PROXY (socks5:// too); none for a host
    that NO_PROXY covers (names match their subdomains, `*` covers all). Lowercase names win over
    uppercase ones, as curl reads them; a proxy without a scheme is an http:// one.
    """
    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all") or ""
    if not proxy or urllib.request.proxy_bypass_environment(parts.netloc, proxies):
        return ""
    return proxy if "://" in proxy else f"http://{proxy}"


def shown_proxy(proxy: str) -> str:
    """A proxy as messages name it: scheme, host and port, never a user name or password."""
    parts = urlsplit(proxy)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class BundleError(ValueError):
    """A CA bundle that cannot be used: `source` names where it was named, `rule` what is wrong."""

    def __init__(self, source: str, rule: str) -> None:
        super().__init__(f"{source} {rule}")
        self.source, self.rule = source, rule


class Trust(NamedTuple):
    """Which certificates prove an https server: a CA bundle and where it was named, or certifi's
    bundle (`source` ""), or none checked (`verify` false). `modified` makes a renewed file a new
    Trust, read again; an unchanged one is read once (tls_context)."""

    source: str  # "ca_bundle", one of CA_VARIABLES, or "" for certifi's bundle
    path: str
    modified: int  # the file's st_mtime_ns
    verify: bool


def trust(ca_bundle: str, verify: bool) -> Trust:
    """The form's CA bundle, else the first of CA_VARIABLES set, else certifi's bundle.

    Raises BundleError if a bundle is named that cannot be read."""
    if not verify:
        return Trust("", "", 0, False)
    source, path = next(
        ((name, value) for name, value in [("ca_bundle", ca_bundle)] + _environment() if value), ("", "")
    )
    if not source:
        return Trust("", "", 0, True)
    try:
        modified = os.stat(path).st_mtime_ns
    except OSError as error:
        raise BundleError(source, f"names no file the plugin can read ({error.strerror})") from None
    return Trust(source, path, modified, True)


def _environment() -> list[tuple[str, str]]:
    return [(name, os.environ.get(name, "").strip()) for name in CA_VARIABLES]


@lru_cache(maxsize=limits.MAX_CLIENTS)
def tls_context(trusted: Trust) -> ssl.SSLContext:
    """The TLS context for `trusted`, made once per bundle and modification time.

    The form's bundle is trusted besides certifi's (a private CA, and public servers still work);
    a bundle from the environment replaces it, as it does for OpenSSL, curl and requests.
    Raises BundleError if the bundle holds no CA certificate."""
    if not trusted.verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if not trusted.source:
        return httpx.create_ssl_context(trust_env=False)  # certifi's bundle
    try:
        if trusted.source == "ca_bundle":
            context = httpx.create_ssl_context(trust_env=False)
            context.load_verify_locations(cafile=trusted.path)
        elif os.path.isdir(trusted.path):
            context = ssl.create_default_context(capath=trusted.path)
        else:
            context = ssl.create_default_context(cafile=trusted.path)
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or type(error).__name__
        raise BundleError(trusted.source, f"names no PEM bundle of CA certificates ({reason})") from None
    return context
