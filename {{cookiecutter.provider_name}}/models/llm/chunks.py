"""OpenAI chat and completion stream events that arrived together, joined into fewer events.

A server streaming faster than the plugin passes events on to Dify would otherwise build a
backlog of one message per event: runs of events that only add text to the same choice become
one event with all of that text (models/server/events.py hands them over in lists of those that
arrived together).
"""

from collections.abc import Iterator
from typing import Any

EVENT_KEYS = {"id", "object", "created", "model", "system_fingerprint", "choices"}
CHOICE_KEYS = {"index", "delta", "text", "finish_reason", "logprobs"}


def _text_only(event: dict[str, Any]) -> tuple[str, str] | None:
    """("delta", text) for a chat event, ("text", text) for a completion event, that carries
    nothing but one choice's text; None for any other (role, tool calls, reasoning, finish
    reason, usage, log probabilities...)."""
    choices = event.get("choices")
    if set(event) - EVENT_KEYS or not isinstance(choices, list) or len(choices) != 1:
        return None
    choice = choices[0]
    if not isinstance(choice, dict) or set(choice) - CHOICE_KEYS:
        return None
    if choice.get("finish_reason") is not None or choice.get("logprobs") is not None:
        return None
    delta = choice.get("delta")
    if "text" not in choice and isinstance(delta, dict) and set(delta) == {"content"}:
        return ("delta", delta["content"]) if isinstance(delta["content"], str) else None
    if "delta" not in choice and isinstance(choice.get("text"), str):
        return "text", choice["text"]
    return None


def joined(events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """`events` in order, each run of text-only events of the same choice joined into its first."""
    held: dict[str, Any] | None = None
    held_as: tuple[str, Any] | None = None
    pieces: list[str] = []
    for event in events:
        found = _text_only(event)
        joins_as = (found[0], event["choices"][0].get("index")) if found else None
        if found and joins_as == held_as:
            pieces.append(found[1])
            continue
        if held is not None:
            yield _with_text(held, pieces)
        held, held_as, pieces = (event, joins_as, [found[1]]) if found else (None, None, [])
        if not found:
            yield event
    if held is not None:
        yield _with_text(held, pieces)


def _with_text(event: dict[str, Any], pieces: list[str]) -> dict[str, Any]:
    """The text-only `event` with `pieces` as its text."""
    if len(pieces) > 1:
        choice = event["choices"][0]
        if "delta" in choice:
            choice["delta"]["content"] = "".join(pieces)
        else:
            choice["text"] = "".join(pieces)
    return event
