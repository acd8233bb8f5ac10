"""llama.cpp's server: describes its model at `GET /props`, and counts tokens with the model's own
tokenizer at `POST /tokenize` (after `POST /apply-template` for a chat). Both paths are beside `/v1`.

It refuses a prompt longer than its context with `exceed_context_size_error` (tools/server/
server-context.cpp in github.com/ggml-org/llama.cpp; the same words in the server of the
xllamacpp 2026.10.11549 wheel that the real tier runs). It counts only the prompt there: a
max_tokens beyond the context ends the answer early, it is not refused.

Its description does not name the model's type, so it is asked after the type check, for what
the model can do. Router-mode servers pick the model from the `model` query or field;
single-model servers ignore it.
"""

import re
from typing import Any
from urllib.parse import quote

from models.server.families.openai import Ask
from models.server.vocabulary import THINKING_ALWAYS, THINKING_SWITCHABLE, ModelInfo

NAME = "llama.cpp"
ABSENT = frozenset(
    range(400, 600)
)  # any error answer means "not llama.cpp": gateways may guard paths outside /v1
TOKENIZE_PATH = "/tokenize"
TEMPLATE_PATH = "/apply-template"  # renders a chat as the model's prompt
# Named groups: limit (the context), prompt (the prompt's tokens).
OVERFLOW = (
    re.compile(
        r"request \((?P<prompt>\d+) tokens\) exceeds the available context size \((?P<limit>\d+) tokens\)"
    ),
)


def asks(uid: str) -> tuple[Ask, ...]:
    return (Ask("GET", f"/props?model={quote(uid, safe='')}"),)


def read(uid: str, answers: list[Any]) -> ModelInfo | None:
    """The model as `GET /props` says, or None if the answer is not llama.cpp's."""
    body = answers[0]
    if not isinstance(body, dict) or "default_generation_settings" not in body:
        return None
    settings = body.get("default_generation_settings")
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    modalities = body.get("modalities") if isinstance(body.get("modalities"), dict) else {}
    audio = modalities.get("audio") is True
    caps = body.get("chat_template_caps") if isinstance(body.get("chat_template_caps"), dict) else {}
    tools = caps.get("supports_tool_calls")
    template = str(body.get("chat_template") or "")
    thinking = None
    if "enable_thinking" in template:
        thinking = THINKING_SWITCHABLE  # the template reads the switch
    elif "<think>" in template or "reasoning_content" in template:
        thinking = THINKING_ALWAYS
    return ModelInfo(
        context_size=n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else None,
        images=modalities.get("vision") is True,
        tools=tools if isinstance(tools, bool) else None,
        thinking=thinking,
        extra_inputs=("audio",) if audio else None,
        structured_output=True,  # llama.cpp turns any JSON schema into a grammar
        audio_part="input_audio" if audio else None,
    )


def count_request(uid: str, text: str) -> tuple[str, dict[str, Any]]:
    """The request that counts `text`'s tokens, special tokens (BOS, [CLS]...) included."""
    return TOKENIZE_PATH, {"model": uid, "content": text, "add_special": True}


def read_count(body: Any) -> int | None:
    tokens = body.get("tokens") if isinstance(body, dict) else None
    return len(tokens) if isinstance(tokens, list) else None


def template_request(
    uid: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> tuple[str, dict[str, Any]]:
    """The request that renders a chat (and its tools) as the model's prompt."""
    return TEMPLATE_PATH, {"model": uid, "messages": messages, **({"tools": tools} if tools else {})}


def read_prompt(body: Any) -> str | None:
    prompt = body.get("prompt") if isinstance(body, dict) else None
    return prompt if isinstance(prompt, str) else None
