"""Code shared by every model type of this plugin: fill in how to reach your server."""

from dify_plugin.errors.model import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

# TODO: list your HTTP client's exceptions under the Dify error each one means.
ERROR_MAPPING: dict[type[InvokeError], list[type[Exception]]] = {
    InvokeConnectionError: [ConnectionError, TimeoutError],
    InvokeServerUnavailableError: [],
    InvokeRateLimitError: [],
    InvokeAuthorizationError: [PermissionError],
    InvokeBadRequestError: [ValueError, KeyError],
}


def not_implemented(method: str, path: str) -> NotImplementedError:
    """The error every unfilled method raises, naming where to fill it in."""
    return NotImplementedError(f"{method} is not implemented yet: fill it in {path}")
