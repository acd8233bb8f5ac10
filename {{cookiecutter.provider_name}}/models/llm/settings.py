"""The LLM's own answers in a model's credentials, read once per call into `LLMSettings`.

Connection settings (URL, key, time limits, network) are models/server/connection.py's; this is
what decides the request and how its answer is read: which model, chat or completion, how long
an answer may be, how audio is sent, whether the model reasons first. The schema Dify shows is
built from the same reading (llm.py's get_customizable_model_schema).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dify_plugin.entities.model import AIModelEntity, ModelFeature, ModelPropertyKey
from dify_plugin.entities.model.llm import LLMMode

from models.server import limits
from models.server.connection import model_uid, positive_int, within
from models.server.vocabulary import THINKING_ALWAYS, THINKING_SWITCHABLE

DEFAULT_CONTEXT_SIZE = 4096


@dataclass(frozen=True)
class LLMSettings:
    uid: str  # the id sent to the server
    chat: bool  # chat/completions, else completions (generate-only models)
    context_size: int
    max_tokens: int  # the longest answer the form allows, not above the context; sent if the app sets none
    answer_seconds: float  # a stream still running after this is closed (limits.DEFAULT_ANSWER_SECONDS)
    input_audio: bool  # audio parts as OpenAI's input_audio (llama.cpp) rather than audio_url
    thinks: bool  # reasons before it answers, always or when switched on
    # Always reasons first (R1 distills, QwQ): a stream that starts without `<think>` starts inside
    # the block its chat template opened. A model that thinks when switched on is not assumed to:
    # wrongly assumed, its whole answer would be shown as reasoning.
    thinks_first: bool

    @classmethod
    def of(cls, model: str, credentials: Mapping[str, Any]) -> "LLMSettings":
        context_size = positive_int(credentials.get("context_size"), DEFAULT_CONTEXT_SIZE)
        thinking = credentials.get("thinking")
        longest = positive_int(credentials.get("max_tokens"), limits.DEFAULT_ANSWER_TOKENS)
        return cls(
            uid=model_uid(credentials, model),
            chat=credentials.get("mode") != LLMMode.COMPLETION.value,
            context_size=context_size,
            max_tokens=min(longest, context_size),
            answer_seconds=within(
                credentials.get("answer_seconds"), limits.DEFAULT_ANSWER_SECONDS, 1.0, limits.STREAM_LIMIT
            ),
            input_audio=credentials.get("audio_part") == "input_audio",
            thinks=thinking in (THINKING_SWITCHABLE, THINKING_ALWAYS),
            thinks_first=thinking == THINKING_ALWAYS,
        )


def predefined_answers(schema: AIModelEntity) -> dict[str, str]:
    """The answers a predefined model's YAML gives (no form asks for them): its mode, context size
    and thinking (agent-thought, switchable where it has an enable_thinking rule)."""
    properties = schema.model_properties or {}
    found = {
        "mode": properties.get(ModelPropertyKey.MODE),
        "context_size": properties.get(ModelPropertyKey.CONTEXT_SIZE),
    }
    if ModelFeature.AGENT_THOUGHT in (schema.features or []):
        switchable = any(rule.name == "enable_thinking" for rule in schema.parameter_rules)
        found["thinking"] = THINKING_SWITCHABLE if switchable else THINKING_ALWAYS
    return {name: str(value) for name, value in found.items() if value is not None}
