"""The credentials Dify passes in, read once per call into one `Connection`.

A model's `_invoke` or `validate_credentials` calls `Connection.of(credentials)` once and passes
the connection down; nothing below it reads the connection fields from the credentials again.
The messages name the field and the rule, never the value (it may hold a secret).
"""

import math
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
from dify_plugin.errors.model import InvokeBadRequestError

from models.server import limits
from models.server.families.openai import api_base, server_root
from models.server.vocabulary import FIELD, YES, Fault

URL_EXAMPLE = "e.g. http://192.168.1.100:9997"


class Connection(NamedTuple):
    """Where and how to reach the server. Equal settings make equal connections: one pool serves them."""

    base_url: str  # where the API's routes are (families/openai.py's api_base)
    api_key: str
    timeout: float
    retries: int

    @classmethod
    def of(cls, credentials: Mapping[str, Any]) -> "Connection":
        """Read and check the connection settings; raise InvokeBadRequestError if they are unusable."""
        return cls(
            base_url=base_url(credentials.get("server_url"), credentials.get("routes_at_root")),
            api_key=api_key(credentials.get("api_key")),
            timeout=within(credentials.get("request_timeout"), limits.DEFAULT_TIMEOUT, *limits.TIMEOUT_RANGE),
            retries=int(
                within(credentials.get("max_retries"), limits.DEFAULT_RETRIES, 0, limits.MAX_RETRIES)
            ),
        )

    def url(self, path: str) -> str:
        """The URL of an API path: under the base URL, or at the server's root if it starts with "/"
        (llama.cpp's /props)."""
        # ADAPT: URL building: every request's URL is made here, from the base URL.
        if path.startswith("/"):
            return f"{server_root(self.base_url)}{path}"
        return f"{self.base_url}/{path}"


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
