"""Ollama: describes a model at `POST /api/show` and the models it has loaded at `GET /api/ps`,
both beside its OpenAI routes under `/v1`.

Shapes read from Ollama's source (github.com/ollama/ollama, fb30760):
- `POST /api/show` `{"model"}` answers `ShowResponse` (api/types.go): `capabilities`, a list of
  `completion`, `tools`, `insert`, `vision`, `embedding`, `thinking`, `image`, `audio`
  (types/model/capability.go); `model_info`, whose `general.architecture` names the key of the
  trained context, `<architecture>.context_length`; `parameters`, the Modelfile's, one per line
  (`num_ctx 8192`);
- `GET /api/ps` answers `ProcessResponse`: the loaded models (`name`, `model`) with the
  `context_length` they run with, which is what a request may fill: by default Ollama runs a
  model with less than it was trained for (4k, 32k or 256k by memory, envconfig/config.go);
- the MLX runner's refusal of a prompt longer than the context (x/mlxrunner/pipeline.go).

Its OpenAI routes take `response_format` with a JSON schema for every model.
"""

import re
from typing import Any

from models.server.families.openai import Ask
from models.server.vocabulary import NO, THINKING_SWITCHABLE, ModelInfo

NAME = "Ollama"
ABSENT = frozenset(range(400, 600))  # 404 for a model Ollama does not have, and other servers' errors
NUM_CTX = re.compile(r"^num_ctx\s+(\d+)\s*$", re.MULTILINE)

# Named groups: limit (the context), prompt (the prompt's tokens).
OVERFLOW = (
    re.compile(
        r"input length \((?P<prompt>\d+) tokens\) exceeds the model's maximum context length "
        r"\((?P<limit>\d+) tokens\)"
    ),
)


def asks(uid: str) -> tuple[Ask, ...]:
    return (Ask("POST", "/api/show", {"model": uid}), Ask("GET", "/api/ps"))


def read(uid: str, answers: list[Any]) -> ModelInfo | None:
    """The model as `/api/show` (and `/api/ps`, once asked) says, or None if not Ollama's answer."""
    show = answers[0]
    if not isinstance(show, dict) or not isinstance(show.get("model_info"), dict):
        return None
    capabilities = {str(c) for c in show.get("capabilities") or [] if isinstance(c, str)}
    return ModelInfo(
        context_size=_running(uid, answers[1] if len(answers) > 1 else None) or _configured(show),
        images="vision" in capabilities,
        tools="tools" in capabilities,
        thinking=THINKING_SWITCHABLE if "thinking" in capabilities else NO,
        extra_inputs=("audio",) if "audio" in capabilities else (),
        structured_output=True,
    )


def _running(uid: str, ps: Any) -> int | None:
    """The context the loaded model runs with, if `/api/ps` lists it."""
    models = ps.get("models") if isinstance(ps, dict) else None
    names = {uid, f"{uid}:latest"}
    for model in models if isinstance(models, list) else []:
        if isinstance(model, dict) and names & {model.get("name"), model.get("model")}:
            context = model.get("context_length")
            return context if type(context) is int and context > 0 else None
    return None


def _configured(show: dict[str, Any]) -> int | None:
    """The Modelfile's num_ctx, else the context the model was trained for."""
    found = NUM_CTX.search(str(show.get("parameters") or ""))
    if found:
        return int(found.group(1)) or None
    info = show["model_info"]
    trained = info.get(f"{info.get('general.architecture')}.context_length")
    return trained if type(trained) is int and trained > 0 else None
