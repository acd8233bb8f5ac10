"""Which models the server runs, of which Dify type, and what it says about each: the server's
list (`GET /v1/models`), then per model the same questions validation asks (families/): a
family's description where the server gives one (Xinference names the type), else one small
real request per type (families/openai.py's type checks), then what the LLM families say about
an LLM's features.
"""

from typing import NamedTuple

from models.server import families
from models.server.families import openai
from models.server.vocabulary import COMPLETION, ModelInfo
from scripts.refresh.server import Server, Unreachable

KEY_VARIABLE = "MODEL_SERVER_API_KEY"  # where the server's API key comes from, never an argument


class ImportFailed(Exception):
    """The import cannot go on; `str()` is the one line that says why and what to do."""


class Found(NamedTuple):
    uid: str
    model_type: str  # a Dify model type this plugin has
    info: ModelInfo | None  # what the server says about the model, if anything


def listed(server: Server, with_key: bool) -> list[str]:
    """The ids of the server's model list, each once, in the server's order."""
    url = server.url(openai.MODELS_PATH)
    try:
        reply = server.send("GET", openai.MODELS_PATH)
    except Unreachable as error:
        raise ImportFailed(f"the server must answer at {url}: {error}") from None
    if reply.status in (401, 403):
        said = "the API key was refused" if with_key else "it needs an API key"
        raise ImportFailed(
            f"{url} answered {reply.status} ({said}): set {KEY_VARIABLE} to the server's API key"
        )
    ids = openai.read_ids(reply.json()) if reply.status < 400 else None
    if ids is None:
        raise ImportFailed(
            f"{url} must answer an OpenAI-style model list (a data list); it answered {reply.status}"
        )
    if not ids:
        raise ImportFailed(f"{url} lists no models: start at least one model on the server first")
    return list(dict.fromkeys(ids))


def discover(server: Server, types: tuple[str, ...], with_key: bool) -> tuple[list[Found], list[str]]:
    """The models of `types` the server runs, and one note per model left out."""
    found: list[Found] = []
    left_out: list[str] = []
    try:
        for uid in listed(server, with_key):
            model = described(server, uid, types)
            if isinstance(model, Found):
                found.append(model)
            else:
                left_out.append(f"{uid} ({model})")
    except Unreachable as error:
        raise ImportFailed(f"the server stopped answering: {error}") from None
    if not found:
        chosen = ", ".join(types)
        raise ImportFailed(
            f"none of the server's models is of this plugin's types ({chosen}): {'; '.join(left_out[:10])}"
        )
    return found, left_out


def described(server: Server, uid: str, types: tuple[str, ...]) -> Found | str:
    """The model as validation would see it, or why it is left out."""
    info = families.first_description(uid, families.DESCRIBE_MODEL, server.answer)
    if info is not None:
        if info.model_type not in types:
            return f"the server describes it as {info.described}"
        return Found(uid, info.model_type, info)
    # The narrowest requests first: many servers answer a chat for any model they hold.
    for model_type in sorted(types, key=lambda name: name == "llm"):
        checks = openai.type_checks({}, uid)
        if model_type in checks and answers(server, checks[model_type]):
            info = families.first_description(uid, families.DESCRIBE_FEATURES, server.answer)
            return Found(uid, model_type, info)
        if model_type == "llm" and answers(server, openai.type_checks({"mode": COMPLETION}, uid)["llm"]):
            info = families.first_description(uid, families.DESCRIBE_FEATURES, server.answer)
            return Found(uid, model_type, (info or ModelInfo())._replace(mode=COMPLETION))
    return "it answered no request of this plugin's types"


def answers(server: Server, check: openai.TypeCheck) -> bool:
    reply = server.send("POST", check.path, **check.request)
    return reply.status < 400 and check.answered(reply)
