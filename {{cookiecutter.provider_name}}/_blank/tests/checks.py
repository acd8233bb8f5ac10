"""What every model type's tests check the same way while its methods are still to be filled in.

Each tests/test_<type>.py says what its model must do; the plumbing lives here. A method that
still raises NotImplementedError makes its test an expected failure (xfail) that names the
file to fill in; once filled in, the same test must pass.
"""

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

# Every kind of Dify error a model's `_invoke_error_mapping` must produce.
INVOKE_ERROR_KINDS = {
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
}


def unreachable(uid: str = "my-model") -> dict[str, str]:
    """Credentials naming a loopback port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return {
        "server_url": f"http://127.0.0.1:{port}",
        "model_uid": uid,
        "request_timeout": "2",
        "max_retries": "0",
    }


@contextmanager
def unfinished(model: object, method: str) -> Iterator[None]:
    """Report the block as xfail while `model.<method>` raises NotImplementedError.

    The error may come as it is, or wrapped in a Dify error by the SDK's public `invoke`.
    """
    try:
        yield
    except NotImplementedError:
        xfail_unfinished(model, method)
    except Exception as error:
        if isinstance(error.__cause__, NotImplementedError):
            xfail_unfinished(model, method)
        raise


def xfail_unfinished(model: object, method: str) -> None:
    source = type(model).__module__.replace(".", "/") + ".py"
    pytest.xfail(f"{method} is not implemented yet: fill it in {source}")


def drain(result: object) -> None:
    """Read a streamed answer to its end, where errors met while streaming are raised."""
    if isinstance(result, Iterator):
        for _ in result:
            pass
