"""What every model type's tests check the same way: Dify's error for each failure, and error
messages (with their whole traceback) that name the server but never a secret.

Each tests/test_<type>.py says which calls must fail and how; the plumbing lives here.
"""

import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import gevent
import pytest
from conftest import API_KEY, FakeServer, closed_port
from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

SERVERS_OWN_KEY = "sk-the-servers-own-key"  # set on the server for "wrong api key"; must not leak either
PASSWORD = "pa55-in-the-url"  # a password someone put into server_url
SECRETS = (API_KEY, SERVERS_OWN_KEY, PASSWORD)

# Each HTTP status a server may answer with, and the Dify error it must become.
HTTP_ERRORS = [
    (401, InvokeAuthorizationError),
    (403, InvokeAuthorizationError),
    (429, InvokeRateLimitError),
    (500, InvokeServerUnavailableError),
    (503, InvokeServerUnavailableError),
    (400, InvokeBadRequestError),
    (404, InvokeBadRequestError),
]


def error_answer(status: int) -> dict:
    """A scripted error answer (for `server.fault`) whose detail repeats the API key."""
    return {"status": status, "body": {"detail": f"scripted failure for key {API_KEY}"}}


def unreachable_server() -> tuple[str, int]:
    """The URL of a loopback port where nothing listens, and that port."""
    port = closed_port()
    return f"http://127.0.0.1:{port}", port


def spoil_validation(
    case: str, server: FakeServer, given: dict[str, str], *, other_type_uid: str = ""
) -> int:
    """Make validating `given` fail as `case` says; returns the port the error must name.

    The cases every model type shares: "unknown uid", "wrong model type" (`other_type_uid` is
    a model the server runs as another type), "wrong api key" and "connection refused".
    """
    if case == "unknown uid":
        given["model_uid"] = "no-such-model"  # Xinference answers 400
    elif case == "wrong model type" and other_type_uid:
        given["model_uid"] = other_type_uid
    elif case == "wrong api key":
        server.control("config", {"api_key": SERVERS_OWN_KEY})  # answers 401 to API_KEY
    elif case == "connection refused":
        given["server_url"], port = unreachable_server()
        return port
    else:
        raise ValueError(f"no validation failure called {case!r}")
    return server.port


def full_text(error: BaseException) -> str:
    """The message and the whole traceback, causes included, as Dify's daemon receives it."""
    return "".join(traceback.format_exception(error))


def assert_no_secret(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{leaked} in: {text}"


def assert_names_server_without_key(error: Exception, port: int) -> None:
    message = str(error)
    assert f"127.0.0.1:{port}" in message, message
    assert_no_secret(full_text(error))


class Hung(BaseException):
    """A call still running when its test's time was up; no `except Exception` in the plugin or SDK stops it."""


def bounded(seconds: float) -> gevent.Timeout:
    """`with bounded(s):` fails the test instead of hanging if the block still runs after `s` seconds."""
    return gevent.Timeout(seconds, Hung(f"still running after {seconds} s: the call hangs"))


@contextmanager
def raises_dify_error(
    expected: type[Exception], port: int, status: int | None = None
) -> Iterator[pytest.ExceptionInfo]:
    """The block must raise exactly `expected`, naming the server at `port` (and `status`), never a key."""
    with pytest.raises(expected) as caught:
        yield caught
    assert type(caught.value) is expected, repr(caught.value)
    if status is not None:
        assert str(status) in str(caught.value), str(caught.value)
    assert_names_server_without_key(caught.value, port)


def received(vectors: list[list[float]]) -> list:
    """What the plugin hands Dify for the server's `vectors`: each number at float32 precision, 9
    significant digits (models/server/daemon.py, `compact`), so within 1e-8 of the server's."""
    return [pytest.approx(vector, rel=1e-8, abs=0) for vector in vectors]
