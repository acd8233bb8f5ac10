"""LM Studio: describes a model at `GET /api/v0/models/{model}`, and in newer releases every
model, with what it can do and the context it is loaded with, at `GET /api/v1/models`.

LM Studio's server is not open source; the shapes are those of its documentation
(github.com/lmstudio-ai/docs):
- `/api/v0/models/{model}`: `type` (`llm`, `vlm`, `embeddings`), `state`, `max_context_length`
  (0_app/4_api/2_rest/v0.md, 74328bc);
- `/api/v1/models`: `models[]` with `key`, `type`, `max_context_length`, `loaded_instances[]`
  (`id`, `config.context_length`, the context a request may fill) and `capabilities`
  (`vision`, `trained_for_tool_use`) (0_app/4_api/2_rest/list.md, a3d2830);
- the refusal of a prompt longer than the loaded context, in the words LM Studio 0.3 answers
  with (lmstudio-ai/lmstudio-bug-tracker issues 237 and 546).

LM Studio takes `response_format` with a JSON schema for every model.
"""

import re
from typing import Any
from urllib.parse import quote

from models.server.families.openai import Ask
from models.server.vocabulary import ModelInfo

NAME = "LM Studio"
ABSENT = frozenset(range(400, 600))
KINDS = {"llm", "vlm", "embeddings"}

# Named groups: limit (the loaded context), prompt (the prompt's tokens).
OVERFLOW = (
    re.compile(
        r"Trying to keep the first (?P<prompt>\d+) tokens when context the overflows\. However, the "
        r"model is loaded with context length of only (?P<limit>\d+) tokens"
    ),
)


def asks(uid: str) -> tuple[Ask, ...]:
    return (Ask("GET", f"/api/v0/models/{quote(uid, safe='')}"), Ask("GET", "/api/v1/models"))


def read(uid: str, answers: list[Any]) -> ModelInfo | None:
    """The model as LM Studio's REST API says, or None if the answer is not LM Studio's."""
    model = answers[0]
    if not isinstance(model, dict) or model.get("type") not in KINDS or "max_context_length" not in model:
        return None
    newer = _newer(uid, answers[1] if len(answers) > 1 else None)
    capabilities = newer.get("capabilities") if isinstance(newer.get("capabilities"), dict) else {}
    loaded = [
        instance.get("config", {}).get("context_length")
        for instance in newer.get("loaded_instances") or []
        if isinstance(instance, dict) and isinstance(instance.get("config"), dict)
    ]
    context = next((n for n in loaded if type(n) is int and n > 0), model.get("max_context_length"))
    vision = capabilities.get("vision")
    tools = capabilities.get("trained_for_tool_use")
    return ModelInfo(
        context_size=context if type(context) is int and context > 0 else None,
        images=vision if isinstance(vision, bool) else model.get("type") == "vlm",
        tools=tools if isinstance(tools, bool) else None,
        structured_output=True,
    )


def _newer(uid: str, listing: Any) -> dict[str, Any]:
    """The model's entry in `/api/v1/models`, found by its key or a loaded instance's id."""
    models = listing.get("models") if isinstance(listing, dict) else None
    for entry in models if isinstance(models, list) else []:
        if not isinstance(entry, dict):
            continue
        instances = [i.get("id") for i in entry.get("loaded_instances") or [] if isinstance(i, dict)]
        if entry.get("key") == uid or uid in instances:
            return entry
    return {}
