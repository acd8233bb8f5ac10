{% set plan = cookiecutter | plan %}
"""One call of each model type, as Dify's executor makes it: the table the tests that treat every
type alike are parametrized over (`each_call`, `each_type`)."""

{% if plan.has("speech2text") %}
import io
{% endif %}
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
{% if plan.has("llm") %}
from dify_plugin.entities.model.llm import LLMResultChunk
from dify_plugin.entities.model.message import UserPromptMessage
{% endif %}

{% if plan.has("llm") %}
from models.llm.llm import {{ plan.class_name("llm") }}
{% endif %}
{% if plan.has("moderation") %}
from models.moderation.moderation import {{ plan.class_name("moderation") }}
{% endif %}
{% if plan.has("rerank") %}
from models.rerank.rerank import {{ plan.class_name("rerank") }}
{% endif %}
{% if plan.has("speech2text") %}
from models.speech2text.speech2text import {{ plan.class_name("speech2text") }}
{% endif %}
{% if plan.has("text-embedding") %}
from models.text_embedding.text_embedding import {{ plan.class_name("text-embedding") }}
{% endif %}
{% if plan.has("tts") %}
from models.tts.tts import {{ plan.class_name("tts") }}
{% endif %}


class Call(NamedTuple):
    """One call of a model type through its public `invoke`, on a fresh model instance each time,
    as Dify's executor makes it (one instance cannot time two calls at once)."""

    model_type: str
    path: str  # where its request goes, for `server.fault`
    uid: str
    model_class: Any
    invoke: Callable[[Any, dict], Any]  # (model, credentials) -> the whole answer, streams read to the end
    streams: bool = False
    content_type: str = "application/json"  # of its answer, when that is not an event stream

    def run(self, credentials: dict) -> Any:
        return self.invoke(self.model_class(model_schemas=[]), credentials)

    def validate(self, credentials: dict) -> None:
        self.model_class(model_schemas=[]).validate_credentials(self.uid, credentials)


CALLS: list[Call] = []
{% if plan.has("llm") %}

LLM = {{ plan.class_name("llm") }}
PING = [UserPromptMessage(content="ping")]


def chat(credentials: dict, stream: bool = False, **parameters: Any) -> list[LLMResultChunk]:
    """Every chunk of one chat call (a blocking call gives one)."""
    answer = LLM(model_schemas=[]).invoke(
        "chat-model", credentials, PING, model_parameters=parameters, stream=stream
    )
    return list(answer)


CALLS.append(Call("llm", "/v1/chat/completions", "chat-model", LLM, lambda _, c: chat(c)))
CALLS.append(Call("llm", "/v1/chat/completions", "chat-model", LLM, lambda _, c: chat(c, stream=True), True))
{% endif %}
{% if plan.has("text-embedding") %}
CALLS.append(
    Call(
        "text-embedding",
        "/v1/embeddings",
        "embed-model",
        {{ plan.class_name("text-embedding") }},
        lambda model, c: model.invoke("embed-model", c, ["ping"]),
    )
)
{% endif %}
{% if plan.has("rerank") %}
CALLS.append(
    Call(
        "rerank",
        "/v1/rerank",
        "rerank-model",
        {{ plan.class_name("rerank") }},
        lambda model, c: model.invoke("rerank-model", c, "ping", ["a", "b"]),
    )
)
{% endif %}
{% if plan.has("speech2text") %}
CALLS.append(
    Call(
        "speech2text",
        "/v1/audio/transcriptions",
        "whisper",
        {{ plan.class_name("speech2text") }},
        lambda model, c: model.invoke("whisper", c, io.BytesIO(b"RIFF fake audio")),
    )
)
{% endif %}
{% if plan.has("tts") %}
CALLS.append(
    Call(
        "tts",
        "/v1/audio/speech",
        "tts-model",
        {{ plan.class_name("tts") }},
        lambda model, c: b"".join(model.invoke("tts-model", "tenant-1", c, "ping", "alloy")),
        streams=True,
        content_type="audio/mpeg",
    )
)
{% endif %}
{% if plan.has("moderation") %}
CALLS.append(
    Call(
        "moderation",
        "/v1/moderations",
        "moderation-model",
        {{ plan.class_name("moderation") }},
        lambda model, c: model.invoke("moderation-model", c, "I hate queues"),
    )
)
{% endif %}
CALL_IDS = [f"{call.model_type}{'-stream' if call.streams else ''}" for call in CALLS]
each_call = pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
ONE_PER_TYPE = [call for call in CALLS if call.model_type != "llm" or not call.streams]  # whole answers
each_type = pytest.mark.parametrize("call", ONE_PER_TYPE, ids=[call.model_type for call in ONE_PER_TYPE])
