"""Every failure as one of Dify's errors, naming the server and the bound that applied.

Status and transport errors are mapped here; `ErrorMapping` gives every model class the same
mapping for errors that escape without passing through here (e.g. a bug while parsing an answer).
Each error carries its `Fault` (see vocabulary.py).
"""

import json
import ssl
from typing import Any

import httpx
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from models.server import families, limits
from models.server.bodies import Answer, scrub
from models.server.connection import Connection
from models.server.network import shown_proxy
from models.server.vocabulary import REFUSED_KEY, STATUS, TIMEOUT, UNREACHABLE, Fault


def detail(body: bytes | str) -> str:
    """The server's own error message in an answer or event, shortened (the key is already removed)."""
    # ADAPT: error bodies. OpenAI's {"error": {"message"}}, FastAPI's {"detail"} and a bare
    # {"message"} are read; a server that words its errors otherwise is read here.
    try:
        found: Any = json.loads(body)
    except ValueError:
        found = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if isinstance(found, dict):
        error = found.get("error")
        if isinstance(error, dict):
            found = error.get("message") or error
        else:
            found = found.get("detail") or found.get("message") or error or found
    text = found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)
    return " ".join(text.split())[: limits.DETAIL_LIMIT] or "(no message)"


def status_error(answer: Answer) -> InvokeError:
    """Dify's error for an HTTP error answer, naming the URL and the status."""
    status = answer.status
    message = f"{answer.method} {answer.url} answered {status}: {detail(answer.body)}"
    why = refused_key(status, answer.body)
    if why:
        refused = InvokeAuthorizationError(f"{message} (the API key was not accepted: {why})")
        return Fault(REFUSED_KEY, status=status).on(refused)
    if status in (401, 403):
        error: InvokeError = InvokeAuthorizationError(message)
    elif status == 429:
        error = InvokeRateLimitError(message)
    elif status >= 500:
        error = InvokeServerUnavailableError(message)
    else:
        error = InvokeBadRequestError(message)
    return Fault(STATUS, status=status).on(error)


def refused_key(status: int, body: bytes) -> str | None:
    """Why a server family's error answer (not a 401 or 403) means the key was not accepted, if it does."""
    if status in (401, 403) or status >= 500:
        return None
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return next(filter(None, (family.refused_key(status, found) for family in families.KEY_REFUSALS)), None)


def transport_error(error: httpx.TransportError, url: str, conn: Connection) -> InvokeError:
    """Dify's error for a request that got no complete answer, stating the limit that applied."""
    if isinstance(error, httpx.ConnectTimeout):
        message = f"cannot connect to {url}: no answer within {min(conn.timeout, limits.CONNECT_TIMEOUT):g} s"
        return Fault(UNREACHABLE).on(InvokeConnectionError(message))
    if isinstance(error, httpx.PoolTimeout):
        message = (
            f"{url} was not called: all {limits.MAX_CONNECTIONS} connections to it stayed busy for "
            f"request_timeout = {conn.timeout:g} s"
        )
        return Fault(TIMEOUT).on(InvokeConnectionError(message))
    if isinstance(error, httpx.TimeoutException):
        message = f"{url} sent nothing for request_timeout = {conn.timeout:g} s"
        return Fault(TIMEOUT).on(InvokeConnectionError(message))
    via = f" through the proxy {shown_proxy(conn.proxy)}" if conn.proxy else ""
    unverified = _unverified(error)
    if unverified is not None:
        bundle = f"the CA bundle named by {conn.trust.source}" if conn.trust.source else "certifi's CA bundle"
        message = (
            f"cannot connect to {url}{via}: certificate verification failed ({unverified}) with {bundle}: "
            "give the server's CA in ca_bundle, SSL_CERT_FILE or REQUESTS_CA_BUNDLE"
        )
    elif isinstance(error, (httpx.ConnectError, httpx.ProxyError)):
        message = f"cannot connect to {url}{via}: {error}"
    else:
        message = f"connection to {url}{via} failed: {type(error).__name__}: {error}"
    return Fault(UNREACHABLE).on(InvokeConnectionError(scrub(message.encode(), conn).decode()))


def _unverified(error: BaseException) -> str | None:
    """Why the server's certificate did not verify, if that is what ended the connection."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason)
        seen = seen.__cause__ or seen.__context__
    return None


def timed_out(message: str) -> InvokeConnectionError:
    """Dify's error for a call that a time limit ended."""
    return Fault(TIMEOUT).on(InvokeConnectionError(message))


def validation_failed(error: Exception, message: str | None = None) -> CredentialsValidateFailedError:
    """The error a failed credential check raises: `error`'s message (or `message`), and its fault."""
    failed = CredentialsValidateFailedError(str(error) if message is None else message)
    fault = Fault.of(error)
    return fault.on(failed) if fault else failed


def excerpt(body: Any) -> str:
    """The start of an unexpected answer, for an error message."""
    return json.dumps(body, ensure_ascii=False)[:200]


# Errors that can escape without passing through the functions above (e.g. a bug while
# parsing an answer). Anything else becomes a plain InvokeError.
ERROR_MAPPING: dict[type[InvokeError], list[type[Exception]]] = {
    InvokeConnectionError: [httpx.TimeoutException, httpx.TransportError],
    InvokeServerUnavailableError: [httpx.HTTPStatusError],
    InvokeRateLimitError: [],
    InvokeAuthorizationError: [],
    InvokeBadRequestError: [ValueError, KeyError, TypeError],
}


def as_invoke_error(error: Exception) -> InvokeError:
    """Keep Dify errors raised above as they are (they name the server and status)."""
    if isinstance(error, InvokeError):
        return error
    for invoke_error, causes in ERROR_MAPPING.items():
        if isinstance(error, tuple(causes)):
            return invoke_error(f"{type(error).__name__}: {error}")
    return InvokeError(f"{type(error).__name__}: {error}")


class ErrorMapping:
    """Dify's error mapping, the same for every model class: put it first among the class's bases."""

    def _transform_invoke_error(self, error: Exception) -> InvokeError:
        """Return Dify's error for `error`, keeping the message that names the server."""
        return as_invoke_error(error)

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        """Return which exceptions become which Dify errors (ERROR_MAPPING)."""
        return ERROR_MAPPING
