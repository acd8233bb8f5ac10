{% set plan = cookiecutter | plan %}
"""LiteLLM's proxy, a gateway: what its admin or its price list says of each model it routes,
at `GET /v1/model/info` (under the API's path, like its other routes).

Shapes read from LiteLLM's source (github.com/BerriAI/litellm; litellm 1.106.12 from PyPI):
- `GET /v1/model/info` (litellm/proxy/proxy_server.py, `model_info_v1`) answers `{"data": [...]}`,
  one entry per deployment: `model_name`, the public name a client sends as `model`;
  `litellm_params` without its keys; `model_info`, the config's `model_info` over what LiteLLM's
  price list knows of the model (`_enrich_model_info_with_litellm_data`). Its keys
  (litellm/types/utils.py, `ModelInfoBase` and `ProviderSpecificModelInfo`): `mode` (`chat`,
  `completion`, `embedding`, `rerank`, the audio modes...),
  `max_input_tokens`, `max_output_tokens`, `supports_function_calling`, `supports_vision`,
  `supports_response_schema`, `supports_reasoning`; null or absent where nobody said;
- `GET /v1/models` (`model_list`, litellm/proxy/utils.py `create_model_info_response`) gives every
  model `owned_by: "openai"`, as OpenAI does: it does not tell LiteLLM from another server;
- a proxy without a database (`prisma_client` None) takes only its master key: any other key is
  answered 400 `{"error": {"message": "No connected db.", "type": "no_db_connection"}}` before
  anything else is looked at (litellm/proxy/auth/user_api_key_auth.py), so that answer means the
  key was not accepted (`refused_key`).

One public name may route to several deployments (load balancing) and a request may reach any
of them: the smallest limit holds, and a capability only if every one of them has it. LiteLLM
does not say whether a reasoning model's thinking can be switched off: "switchable" is the
answer that assumes nothing about how an answer starts. The `mode` names the model's type, so
an embedding model's `max_input_tokens` is its input limit; the type itself is still checked
with a real request, since a gateway's config can route a name to a backend that is down.
"""

from typing import Any

from models.server.families.openai import Ask
from models.server.vocabulary import CHAT, COMPLETION, NO, THINKING_SWITCHABLE, ModelInfo

NAME = "LiteLLM"
ABSENT = frozenset(range(400, 600))
INFO_PATH = "model/info"  # under the API's path: /v1/model/info
# LiteLLM's modes, as Dify model types.
MODES = {
    "chat": "llm",
    "completion": "llm",
    "embedding": "text-embedding",
    "rerank": "rerank",
{% if plan.has("speech2text") %}
    "audio_transcription": "speech2text",
{% endif %}
{% if plan.has("tts") %}
    "audio_speech": "tts",
{% endif %}
}


def refused_key(status: int, body: Any) -> str | None:
    """Why the key was not accepted, if this error answer says so; None otherwise."""
    error = body.get("error") if isinstance(body, dict) else None
    if status == 400 and isinstance(error, dict) and error.get("type") == "no_db_connection":
        return "LiteLLM without a database takes only its master key"
    return None


def asks(uid: str) -> tuple[Ask, ...]:
    return (Ask("GET", INFO_PATH),)


def read(uid: str, answers: list[Any]) -> ModelInfo | None:
    """The model as LiteLLM's deployments of `uid` say, or None if the answer is not LiteLLM's."""
    infos = _deployments(answers[0], uid)
    if not infos:
        return None
    modes = {info.get("mode") for info in infos}
    mode = modes.pop() if len(modes) == 1 else None
    reasoning = _every(infos, "supports_reasoning")
    return ModelInfo(
        model_type=MODES.get(mode) if isinstance(mode, str) else None,
        context_size=_smallest(infos, "max_input_tokens"),
        max_output=_smallest(infos, "max_output_tokens"),
        mode={"chat": CHAT, "completion": COMPLETION}.get(mode) if isinstance(mode, str) else None,
        tools=_every(infos, "supports_function_calling"),
        images=_every(infos, "supports_vision"),
        structured_output=_every(infos, "supports_response_schema"),
        thinking=None if reasoning is None else THINKING_SWITCHABLE if reasoning else NO,
    )


def _deployments(body: Any, uid: str) -> list[dict[str, Any]]:
    """The `model_info` of each deployment named `uid` in the answer."""
    data = body.get("data") if isinstance(body, dict) else None
    entries = [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []
    return [
        entry["model_info"]
        for entry in entries
        if entry.get("model_name") == uid and isinstance(entry.get("model_info"), dict)
    ]


def _smallest(infos: list[dict[str, Any]], key: str) -> int | None:
    """The smallest positive whole number the deployments give for `key`, or None."""
    found = [info.get(key) for info in infos]
    numbers = [n for n in found if type(n) is int and n > 0]
    return min(numbers) if numbers else None


def _every(infos: list[dict[str, Any]], key: str) -> bool | None:
    """True if every deployment says so, False if one says not, else None (unknown)."""
    found = [info.get(key) for info in infos]
    if any(value is False for value in found):
        return False
    return True if all(value is True for value in found) else None
