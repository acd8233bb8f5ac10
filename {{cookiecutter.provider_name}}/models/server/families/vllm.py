"""vLLM: its model list names it, and it counts tokens at `POST /tokenize`, beside `/v1`.

Shapes read from vLLM's source (github.com/vllm-project/vllm):
- `GET /v1/models`: each entry is a `ModelCard` with `owned_by: "vllm"` and `max_model_len`, the
  context the server runs the model with (vllm/entrypoints/serve/engine/protocol.py, f1bf7bd);
- `POST /tokenize`: `{"model", "prompt", "add_special_tokens"}`, or a chat as
  `{"model", "messages", "tools", "add_generation_prompt"}` with the chat template applied;
  answered `{"count", "max_model_len", "tokens"}` (vllm/entrypoints/serve/tokenize/protocol.py,
  343bacaf). llama.cpp's body (`content`) is refused there with a 400;
- the refusals of a prompt and max_tokens beyond the context, in three generations of wording
  (OVERFLOW below).

vLLM serves structured output (`response_format` with a JSON schema) with every model; what
else a model can do (tool calling, reasoning) depends on server flags it does not report.
"""

import re
from typing import Any

from models.server.families.openai import MODELS_PATH, Ask, listed
from models.server.vocabulary import ModelInfo

NAME = "vLLM"
ABSENT = frozenset(range(400, 600))  # a gateway may refuse the model list: not vLLM then
TOKENIZE_PATH = "/tokenize"

# Named groups: limit (the context), prompt (the prompt's tokens), asked (the max_tokens sent).
OVERFLOW = (
    # vllm/entrypoints/openai/serving_engine.py (7ded96b), _validate_input
    re.compile(
        r"maximum context length is (?P<limit>\d+) tokens\. However, you requested \d+ tokens "
        r"\((?P<prompt>\d+) in the messages, (?P<asked>\d+) in the completion\)"
    ),
    re.compile(
        r"maximum context length is (?P<limit>\d+) tokens\. However, you requested (?P<prompt>\d+) tokens "
        r"in the messages"
    ),
    # vllm/entrypoints/openai/engine/serving.py (619e4b31), _validate_input
    re.compile(
        r"'max_tokens' or 'max_completion_tokens' is too large: (?P<asked>\d+)\. This model's maximum "
        r"context length is (?P<limit>\d+) tokens and your request has (?P<prompt>\d+) input tokens"
    ),
    re.compile(
        r"maximum context length is (?P<limit>\d+) tokens\. However, your request has (?P<prompt>\d+) "
        r"input tokens"
    ),
    # vllm/renderers/params.py (1aa021e), TokenizeParams._token_len_check and _text_len_check
    re.compile(
        r"You passed (?P<prompt>\d+) input tokens and requested (?P<asked>\d+) output tokens\. "
        r"However, the model's context length is only (?P<limit>\d+) tokens"
    ),
    re.compile(
        r"You passed \d+ input characters and requested (?P<asked>\d+) output tokens\. "
        r"However, the model's context length is only (?P<limit>\d+) tokens"
    ),
)


def asks(uid: str) -> tuple[Ask, ...]:
    return (Ask("GET", MODELS_PATH),)


def read(uid: str, answers: list[Any]) -> ModelInfo | None:
    """The model as vLLM's model list says, or None if the list is not vLLM's."""
    entry = listed(answers[0], uid)
    if entry is None or entry.get("owned_by") != "vllm":
        return None
    context = entry.get("max_model_len")
    return ModelInfo(
        context_size=context if type(context) is int and context > 0 else None,
        structured_output=True,
    )


def count_request(uid: str, text: str) -> tuple[str, dict[str, Any]]:
    """The request that counts `text`'s tokens, special tokens (BOS...) included."""
    return TOKENIZE_PATH, {"model": uid, "prompt": text, "add_special_tokens": True}


def chat_count_request(
    uid: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> tuple[str, dict[str, Any]]:
    """The request that counts a chat's tokens as the model's chat template renders it."""
    chat: dict[str, Any] = {"model": uid, "messages": messages, "add_generation_prompt": True}
    return TOKENIZE_PATH, chat | ({"tools": tools} if tools else {})


def read_count(body: Any) -> int | None:
    count = body.get("count") if isinstance(body, dict) else None
    return count if type(count) is int and count >= 0 and isinstance(body.get("tokens"), list) else None
