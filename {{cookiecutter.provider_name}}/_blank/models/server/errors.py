"""Dify's errors for this plugin: the one error mapping every model class uses, and the error
every method still to be written raises."""

from dify_plugin.errors import model as dify

# TODO: list your HTTP client's exceptions under the Dify error each one means.
ERROR_MAPPING: dict[type[dify.InvokeError], list[type[Exception]]] = {
    dify.InvokeConnectionError: [ConnectionError, TimeoutError],
    dify.InvokeServerUnavailableError: [],
    dify.InvokeRateLimitError: [],
    dify.InvokeAuthorizationError: [PermissionError],
    dify.InvokeBadRequestError: [ValueError, KeyError],
}


class ErrorMapping:
    """Dify's error mapping, the same for every model class: put it first among the class's bases."""

    @property
    def _invoke_error_mapping(self) -> dict[type[dify.InvokeError], list[type[Exception]]]:
        """Return which exceptions become which Dify errors (ERROR_MAPPING)."""
        return ERROR_MAPPING


def not_implemented(method: str, path: str) -> NotImplementedError:
    """The error every unfilled method raises, naming where to fill it in."""
    return NotImplementedError(f"{method} is not implemented yet: fill it in {path}")
