"""SGLang: its model list names it, and two native endpoints beside `/v1` say what the model
and the server can do.

Shapes read from SGLang's source (github.com/sgl-project/sglang):
- `GET /v1/models`: each entry a `ModelCard` with `owned_by: "sglang"` and `max_model_len`, the
  context the server runs (python/sglang/srt/entrypoints/openai/protocol.py, 9b116df;
  filled from `model_config.context_len` in python/sglang/srt/entrypoints/http_server.py);
- `GET /get_model_info`: `model_path`, `is_generation`, and in newer releases
  `has_image_understanding`, `has_audio_understanding` (http_server.py, 9c0549b and later);
- `GET /get_server_info`: the server's arguments (`ServerArgs`, python/sglang/srt/server_args.py),
  among them `tool_call_parser` and `reasoning_parser`, set only when the server parses tool
  calls and reasoning out of the model's text;
- the refusals of a prompt and max_tokens beyond the context
  (python/sglang/srt/managers/tokenizer_manager.py, 45205d8, `_validate_one_request`).

SGLang serves structured output (`response_format` with a JSON schema) with every model.
"""

import re
from typing import Any

from models.server.families.openai import MODELS_PATH, Ask, listed
from models.server.vocabulary import THINKING_ALWAYS, THINKING_SWITCHABLE, ModelInfo

NAME = "SGLang"
ABSENT = frozenset(range(400, 600))
ALWAYS_THINKING_PARSERS = {"deepseek-r1"}  # the others (qwen3, glm45, kimi...) follow the thinking switch

# Named groups: limit (the context), prompt (the prompt's tokens), asked (the max_tokens sent).
# SGLang refuses prompt + max_tokens equal to the context too.
OVERFLOW = (
    re.compile(
        r"exceeds the model's maximum context length of (?P<limit>\d+) tokens\. You requested a total "
        r"of \d+ tokens: (?P<prompt>\d+) tokens from the input messages and (?P<asked>\d+) tokens "
        r"for the completion"
    ),
    re.compile(
        r"The input \((?P<prompt>\d+) tokens\) is longer than the model's context length "
        r"\((?P<limit>\d+) tokens\)"
    ),
)


def asks(uid: str) -> tuple[Ask, ...]:
    return (Ask("GET", MODELS_PATH), Ask("GET", "/get_model_info"), Ask("GET", "/get_server_info"))


def read(uid: str, answers: list[Any]) -> ModelInfo | None:
    """The model as SGLang's model list (and, once asked, its info endpoints) says, or None."""
    entry = listed(answers[0], uid)
    if entry is None or entry.get("owned_by") != "sglang":
        return None
    context = entry.get("max_model_len")
    info = ModelInfo(
        context_size=context if type(context) is int and context > 0 else None,
        structured_output=True,
    )
    model = answers[1] if len(answers) > 1 and isinstance(answers[1], dict) else {}
    if isinstance(model.get("has_image_understanding"), bool):
        info = info._replace(images=model["has_image_understanding"])
    if model.get("has_audio_understanding") is True:
        info = info._replace(extra_inputs=("audio",))
    server = answers[2] if len(answers) > 2 and isinstance(answers[2], dict) else None
    if server is None:
        return info
    reasoning = server.get("reasoning_parser")
    thinking = None
    if isinstance(reasoning, str) and reasoning:
        thinking = THINKING_ALWAYS if reasoning in ALWAYS_THINKING_PARSERS else THINKING_SWITCHABLE
    tools = bool(server["tool_call_parser"]) if "tool_call_parser" in server else None
    return info._replace(tools=tools, thinking=thinking)
