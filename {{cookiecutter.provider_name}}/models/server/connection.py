"""The credentials Dify passes in, read once per call into one `Connection`.

A model's `_invoke` or `validate_credentials` calls `Connection.of(credentials)` once and passes
the connection down; nothing below it reads the connection fields from the credentials again.
The messages name the field and the rule, never the value (it may hold a secret).
"""

import json
import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
from dify_plugin.errors.model import InvokeBadRequestError

from models.server import limits, network
from models.server.families.openai import api_base, server_root
from models.server.vocabulary import FIELD, NO, YES, Fault

URL_EXAMPLE = "e.g. http://192.168.1.100:9997"
HEADERS_EXAMPLE = 'e.g. {"X-Tenant": "team-a"}'
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a token, as RFC 9110 spells header names
# Headers extra_headers may not set, by why: the key has its own field; the HTTP layer sets these
# for each request (Accept-Encoding: the encodings bodies.py reads); and hop-by-hop headers
# (RFC 9110 section 7.6.1) concern one connection or proxy, not the server.
OWN_HEADERS = frozenset({"host", "content-length", "content-type", "accept-encoding"})
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class Connection(NamedTuple):
    """Where and how to reach the server. Equal settings make equal connections: one pool serves them."""

    base_url: str  # where the API's routes are (families/openai.py's api_base)
    api_key: str
    timeout: float
    retries: int
    headers: tuple[tuple[str, str], ...]  # extra_headers, as sent with every request
    trust: network.Trust  # which certificates prove an https server
    proxy: str  # the proxy the environment names for base_url, "" for none

    @classmethod
    def of(cls, credentials: Mapping[str, Any]) -> "Connection":
        """Read and check the connection settings; raise InvokeBadRequestError if they are unusable."""
        check_sizes(credentials)
        base = base_url(credentials.get("server_url"), credentials.get("routes_at_root"))
        trusted = network.Trust("", "", 0, True)  # for http://, no certificate to prove
        if base.startswith("https://"):
            verify = str(credentials.get("tls_verify") or "").strip().lower() != NO
            try:
                trusted = network.trust(str(credentials.get("ca_bundle") or "").strip(), verify)
                network.tls_context(trusted)  # made once per bundle: a bad one is refused here, by name
            except network.BundleError as error:
                raise refused(error.source, error.rule) from None
        return cls(
            base_url=base,
            api_key=api_key(credentials.get("api_key")),
            timeout=within(credentials.get("request_timeout"), limits.DEFAULT_TIMEOUT, *limits.TIMEOUT_RANGE),
            retries=int(
                within(credentials.get("max_retries"), limits.DEFAULT_RETRIES, 0, limits.MAX_RETRIES)
            ),
            headers=extra_headers(credentials.get("extra_headers")),
            trust=trusted,
            proxy=network.proxy_for(base),
        )

    def url(self, path: str) -> str:
        """The URL of an API path: under the base URL, or at the server's root if it starts with "/"
        (llama.cpp's /props)."""
        # ADAPT: URL building: every request's URL is made here, from the base URL.
        if path.startswith("/"):
            return f"{server_root(self.base_url)}{path}"
        return f"{self.base_url}/{path}"


def check_sizes(credentials: Mapping[str, Any]) -> None:
    """Refuse any credential field longer than its limit (limits.FIELD_CHARS), before it is used,
    sent or kept."""
    for name, value in credentials.items():
        limit, reason = limits.FIELD_CHARS.get(name, (limits.OTHER_FIELD_CHARS, "a setting"))
        size = len(value) if isinstance(value, str) else len(str(value))
        if size > limit:
            raise refused(name[:64], f"must be at most {limit:,} characters ({reason}), not {size:,}")


def base_url(value: object, routes_at_root: object = None) -> str:
    """`server_url` as the base of every request: as given if it has a path, else with /v1 added
    (none with `routes_at_root`); see families/openai.py's api_base."""
    raw = str(value or "").strip()
    if any(ch.isspace() or not ch.isprintable() for ch in raw):
        raise refused(
            "server_url", f"must not contain spaces, line breaks or control characters ({URL_EXAMPLE})"
        )
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise refused(
            "server_url", f"is not a valid URL: check the host and the port number ({URL_EXAMPLE})"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refused("server_url", f"must be an http:// or https:// URL with a host ({URL_EXAMPLE})")
    if parts.username is not None or parts.password is not None:
        raise refused(
            "server_url", "must not contain a user name or password: put the key in the API key field instead"
        )
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise refused(
            "server_url", f"must be the server's address without a ?query or #fragment ({URL_EXAMPLE})"
        )
    if port == 0:
        raise refused("server_url", "must have a port number from 1 to 65535")
    base = api_base(f"{parts.scheme}://{parts.netloc}", parts.path, str(routes_at_root or "") == YES)
    try:
        httpx.URL(base)
    except (httpx.InvalidURL, ValueError):
        raise refused("server_url", f"is not a valid URL ({URL_EXAMPLE})") from None
    return base


def api_key(value: object) -> str:
    """The key as an HTTP header carries it: printable ASCII, surrounding spaces removed."""
    key = str(value or "").strip()
    if not all("!" <= ch <= "~" for ch in key):
        raise refused(
            "api_key",
            "must be printable ASCII without spaces or line breaks (an HTTP header cannot carry anything "
            "else): paste the key again",
        )
    return key


def extra_headers(value: object) -> tuple[tuple[str, str], ...]:
    """The `extra_headers` answer, a JSON object of header names and values (gateway keys, tenant
    headers), as pairs an HTTP request can carry. Refusals name a header, never a value."""
    text = str(value or "").strip()
    if not text:
        return ()
    try:
        given = json.loads(text)
    except ValueError:
        given = None
    if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
        raise refused(
            "extra_headers", f"must be a JSON object of header names and text values ({HEADERS_EXAMPLE})"
        )
    headers: dict[str, tuple[str, str]] = {}
    for name, header_value in given.items():
        if not HEADER_NAME.fullmatch(name):
            raise refused(
                "extra_headers",
                f"has a name that is no HTTP header name (letters, digits and -) ({HEADERS_EXAMPLE})",
            )
        lower = name.lower()
        if lower == "authorization":
            raise refused("extra_headers", "must not set Authorization: the API key field sets it")
        if lower in HOP_BY_HOP:
            raise refused("extra_headers", f"must not set {name}: it concerns one connection, not the server")
        if lower in OWN_HEADERS:
            raise refused("extra_headers", f"must not set {name}: the plugin sets it for each request")
        if lower in headers:
            raise refused("extra_headers", f"names {name} twice (header names ignore case)")
        if not all(ch == "\t" or " " <= ch <= "~" for ch in header_value):
            raise refused(
                "extra_headers",
                f"must give {name} a value of printable ASCII on one line (no line breaks or control characters)",
            )
        headers[lower] = (name, header_value.strip())
    size = sum(len(name) + len(header_value) + 4 for name, header_value in headers.values())
    if size > limits.MAX_EXTRA_HEADER_BYTES:
        raise refused(
            "extra_headers",
            f"must be at most {limits.MAX_EXTRA_HEADER_BYTES} bytes as sent (each `name: value` and its line "
            f"break), not {size}",
        )
    return tuple(headers.values())


def refused(field: str, rule: str) -> InvokeBadRequestError:
    """The error for a credential field that breaks `rule`, as "<field> <rule>"."""
    return Fault(FIELD, field=field, rule=rule).on(InvokeBadRequestError(f"{field} {rule}"))


def within(value: object, default: float, low: float, high: float) -> float:
    """A number from a form field, kept within [low, high]; `default` if it is not a number."""
    try:
        number = float(str(value).strip()) if value not in (None, "") else default
    except ValueError:
        return default
    return min(max(number, low), high) if math.isfinite(number) else default


def model_uid(credentials: Mapping[str, Any], model: str) -> str:
    """The id to send to the server: the model UID answer, else the model's name in Dify."""
    return str(credentials.get("model_uid") or model).strip()


def positive_int(value: object, default: int) -> int:
    """A credential that must be a positive whole number (form fields arrive as text)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return default
    return number if number > 0 else default
