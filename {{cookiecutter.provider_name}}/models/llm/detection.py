"""What validation learns about an LLM from its server, stored with the user's own answers.

The server's word fills every answer the user left at the form's default: tool calling,
vision, thinking, structured output ("no" in the form), context size (empty), the upper bound
for max tokens (4096), and the mode and other inputs the server names. An answer the user
changed wins: a "yes" the server does not report, a thinking mode, a context size or max tokens
bound smaller than the server's (a larger one is the server's: no request can get more). What was detected is recorded in the credentials (`detected`),
so that saving the form again does not mistake an earlier detection for the user's answer,
and so is the server family that said it (`server_family`), which the live check reports.
"""

from collections.abc import Mapping
from typing import Any

from models.server.vocabulary import DETECTED, NO, SERVER_FAMILY, YES, ModelInfo

# The provider form's defaults (provider/<provider>.yaml): an answer left at them is no answer.
FORM_DEFAULTS = {
    "function_calling": NO,
    "vision": NO,
    "thinking": NO,
    "structured_output": NO,
    "max_tokens": "4096",
}
LIMITS = ("context_size", "max_tokens")  # numbers where the smaller of the user's and the server's holds


def learned_answers(info: ModelInfo) -> dict[str, str]:
    """The credential answers a server's description of the model implies (only those it states)."""
    found: dict[str, str] = {}
    if info.mode:
        found["mode"] = info.mode
    if info.tools is not None:
        found["function_calling"] = YES if info.tools else NO
    if info.images is not None:
        found["vision"] = YES if info.images else NO
    if info.thinking:
        found["thinking"] = info.thinking
    if info.extra_inputs is not None:
        found["extra_inputs"] = ", ".join(info.extra_inputs)
    if info.structured_output:
        found["structured_output"] = YES
    if info.context_size:
        found["context_size"] = str(info.context_size)
    if info.max_output:
        found["max_tokens"] = str(info.max_output)
    if info.audio_part:
        found["audio_part"] = info.audio_part
    return found


def learn(credentials: dict[str, Any], info: ModelInfo | None, wanted: list[str]) -> None:
    """Store in `credentials` what `info` says, where the user's own answer does not win.

    `wanted`: the other inputs the user named, kept beside those the server names.
    """
    found = learned_answers(info) if info else {}
    earlier = recorded(credentials)
    stored: dict[str, str] = {}
    for name, value in found.items():
        given = str(credentials.get(name) or "").strip().lower()
        unanswered = name == "extra_inputs" or given in ("", FORM_DEFAULTS.get(name), earlier.get(name))
        if name in LIMITS:
            if not unanswered and given.isdigit() and 0 < int(given) < int(value):
                continue  # the user's own, smaller limit
        elif name in FORM_DEFAULTS and not unanswered:
            continue  # the user's own answer
        stored[name] = value
    detected = stored.pop("extra_inputs", "")
    credentials.update(stored)
    merged = ", ".join(sorted(set(wanted) | set(detected.split(", ")) - {""}))
    if merged or "extra_inputs" in credentials:
        credentials["extra_inputs"] = merged
    for key, value in (
        (DETECTED, ", ".join(f"{name}={value}" for name, value in sorted(stored.items()))),
        (SERVER_FAMILY, info.family if info else None),
    ):
        if value:
            credentials[key] = value
        else:
            credentials.pop(key, None)


def recorded(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The answers an earlier validation detected, as it recorded them."""
    pairs = (item.split("=", 1) for item in str(credentials.get(DETECTED) or "").split(", ") if "=" in item)
    return {name: value for name, value in pairs}
