{% set plan = cookiecutter | plan %}
"""Xinference: describes each running model at `GET /v1/models/{uid}`.

The description names the model's type (`model_type`, with `model_ability` for audio models),
what it can do and its context length. Where a server gives it, it decides the model's type at
validation, and the LLM and embedding forms learn their answers from it.
"""

from typing import Any
from urllib.parse import quote

from models.server.families.openai import Ask
from models.server.vocabulary import CHAT, COMPLETION, NO, THINKING_ALWAYS, THINKING_SWITCHABLE, ModelInfo

NAME = "Xinference"
ABSENT = frozenset({404, 405, 501})  # other servers' answers to the path; Xinference's 400 is an unknown uid
# Xinference's model_type / model_ability values that fit each Dify model type of this plugin.
TYPES: dict[str, tuple[set[str], set[str]]] = {
{% if plan.has("llm") %}
    "llm": ({"llm"}, set()),
{% endif %}
{% if plan.has("text-embedding") %}
    "text-embedding": ({"embedding"}, set()),
{% endif %}
{% if plan.has("rerank") %}
    "rerank": ({"rerank"}, set()),
{% endif %}
{% if plan.has("speech2text") %}
    "speech2text": ({"audio"}, {"audio2text", "audio_to_text"}),
{% endif %}
{% if plan.has("tts") %}
    "tts": ({"audio"}, {"text2audio", "text_to_audio"}),
{% endif %}
{% if plan.has("moderation") %}
    "moderation": (set(), set()),  # Xinference has no moderation models: any description will do
{% endif %}
}


def asks(uid: str) -> tuple[Ask, ...]:
    return (Ask("GET", f"models/{quote(uid, safe='')}"),)


def read(uid: str, answers: list[Any]) -> ModelInfo | None:
    """The model as the description says, or None if the answer is not Xinference's description."""
    body = answers[0]
    if not isinstance(body, dict) or "model_type" not in body:
        return None
    kind = str(body.get("model_type", "")).lower()
    abilities = {str(ability).lower() for ability in body.get("model_ability") or []}
    serves = frozenset(
        name
        for name, (types, wanted) in TYPES.items()
        if (not types or kind in types) and (not wanted or abilities & wanted)
    )
    described = f"{body.get('model_type')}: {', '.join(sorted(abilities)) or 'no abilities listed'}"
    info = ModelInfo(model_type=dify_type(body), serves=serves, described=described)
    if kind != "llm":
        max_tokens = body.get("max_tokens")  # an embedding model's input limit
        limit = max_tokens if type(max_tokens) is int and max_tokens > 0 else None
        return info._replace(context_size=limit, images="vision" in abilities)
    context_length = body.get("context_length")
    context_size = context_length if isinstance(context_length, int) and context_length > 0 else None
    # GGUF models run on llama.cpp, which turns any JSON schema into a grammar.
    structured = True if body.get("model_format") == "ggufv2" else None
    if not abilities:
        return info._replace(context_size=context_size, structured_output=structured)
    mode = CHAT if "chat" in abilities else COMPLETION if "generate" in abilities else None
    # "hybrid": thinking can be switched off; "reasoning" alone: it always thinks.
    thinking = THINKING_SWITCHABLE if "hybrid" in abilities else THINKING_ALWAYS
    other = {"audio"} if abilities & {"audio", "omni"} else set()
    return info._replace(
        context_size=context_size,
        structured_output=structured,
        mode=mode,
        tools="tools" in abilities,
        images=bool(abilities & {"vision", "omni"}),
        thinking=thinking if abilities & {"hybrid", "reasoning"} else NO,
        extra_inputs=tuple(sorted(other | ({"video"} if "omni" in abilities else set()))),
    )


def dify_type(description: dict[str, Any]) -> str | None:
    """The Dify model type a description (or an item of Xinference's model list) amounts to."""
    kind = str(description.get("model_type") or "").lower()
    abilities = {str(a).lower() for a in description.get("model_ability") or []}
    for name, (types, wanted) in TYPES.items():
        if kind in types and (not wanted or abilities & wanted):
            return name
    return {"embedding": "text-embedding"}.get(kind, kind) or None
