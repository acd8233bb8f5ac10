"""A prompt and max_tokens that together exceed the model's context: the server's refusal read,
and the request sent once more with a max_tokens that fits.

Servers name both numbers when they refuse such a request; each family's wordings are in its
file (`OVERFLOW` in models/server/families/*.py). The retry asks for what the context leaves
after the prompt, and says so in the plugin's log (which Dify's plugin daemon keeps). When the
prompt alone fills the context, nothing fits: the error says so with both numbers.
"""

import logging
from typing import Any, NamedTuple

from dify_plugin.config.logger_format import plugin_logger_handler
from dify_plugin.errors.model import InvokeBadRequestError

from models.server import families

logger = logging.getLogger(__name__)
logger.addHandler(plugin_logger_handler)
# Tokens kept free besides the prompt: SGLang refuses a prompt and max_tokens that fill the
# context exactly, vLLM only what goes beyond it.
MARGIN = 1
LIMIT_FIELDS = ("max_tokens", "max_completion_tokens")  # the second where a server refused the first


class Overflow(NamedTuple):
    """What a server said when it refused a request too long for the model's context."""

    limit: int  # the context, in tokens
    prompt: int | None  # the prompt's tokens, where the server counted them
    asked: int | None  # the max_tokens the server read


def read_overflow(message: str) -> Overflow | None:
    """The numbers of a context-overflow refusal, or None if `message` is not one."""
    for family in families.OVERFLOW_WORDINGS:
        for wording in family.OVERFLOW:
            found = wording.search(message)
            if found:
                numbers = {name: int(value) for name, value in found.groupdict().items() if value}
                return Overflow(numbers["limit"], numbers.get("prompt"), numbers.get("asked"))
    return None


def refit(
    payload: dict[str, Any], error: InvokeBadRequestError, first: dict[str, Any]
) -> dict[str, Any] | None:
    """The payload with a max_tokens that fits the context, if `error` refused it for its length;
    None if `error` is about something else. Raises a clear InvokeBadRequestError when no
    max_tokens fits, or when the payload was refitted already (`first`: as first sent)."""
    found = read_overflow(str(error))
    if found is None:
        return None
    field = next((name for name in LIMIT_FIELDS if type(payload.get(name)) is int), None)
    room = found.limit - found.prompt - MARGIN if found.prompt is not None else 0
    sent_first = next((first[name] for name in LIMIT_FIELDS if name in first), None)
    if field is None or room < 1 or payload[field] <= room or payload[field] != sent_first:
        raise InvokeBadRequestError(f"{error} ({nothing_fits(found)})") from error
    logger.warning(
        "%s: the prompt takes %s of the model's %s tokens of context; asking again with %s = %s "
        "instead of %s",
        payload.get("model"),
        found.prompt,
        found.limit,
        field,
        room,
        payload[field],
    )
    return {**payload, field: room}


def nothing_fits(found: Overflow) -> str:
    """What to tell the user when no max_tokens made the request fit."""
    if found.prompt is None:
        said = f"the model's context is {found.limit} tokens and the prompt leaves no room for an answer"
    else:
        left = found.limit - found.prompt - MARGIN
        room = "no room for an answer" if left < 1 else f"{left} tokens for the answer"
        said = f"the prompt takes {found.prompt} tokens of the model's {found.limit}-token context, leaving {room}"
    return f"{said}: shorten the prompt or the conversation, or run the model with a larger context"
