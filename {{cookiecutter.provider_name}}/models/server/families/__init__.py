"""Server families: what tells one kind of model server from another, one small file each.

Every server is first an OpenAI-style server (openai.py): its models are listed at
`GET /v1/models`, and a model's type is told by one small real request. A family adds what its
servers say beyond that, in the words of models/server/vocabulary.py (`ModelInfo`). A family
file does no I/O: it names the requests to make and reads the answers; models/server/probes.py,
tokens.py and the LLM's overflow.py do the asking and the reading, in the order set here. No
SDK import in this folder (the check script reads Xinference's model types through it).

To add a family, write its file with the names of each role it plays, and list it below:

- describing a model: `NAME`, `ABSENT` (the statuses that mean "not this family"),
  `asks(uid) -> tuple[Ask, ...]` and `read(uid, answers) -> ModelInfo | None`. The first ask
  tells whether the server is of the family (`read` of its answer alone is not None); only then
  are the others asked (an error answer to one is None) and `read` given all the answers.
  In DESCRIBE_MODEL if the description of a running model names its type, else in
  DESCRIBE_FEATURES (also a gateway's, whose type is its config's word: a real request checks it);
- counting tokens: `count_request(uid, text)` and `read_count(body)`; a chat is counted with
  `chat_count_request(uid, messages, tools)` where the server renders the chat template itself,
  else with `template_request` and `read_prompt`. In TOKENIZERS;
- saying that a prompt and max_tokens exceed the context: `OVERFLOW`, patterns with the named
  groups `limit`, `prompt` and `asked`. In OVERFLOW_WORDINGS;
- refusing the API key otherwise than with 401 or 403: `refused_key(status, body)`, why, or None.
  In KEY_REFUSALS.
"""

from collections.abc import Callable
from typing import Any

from models.server.families import (
    litellm,
    llama_cpp,
    lm_studio,
    localai,
    ollama,
    openai,
    sglang,
    vllm,
    xinference,
)
from models.server.vocabulary import ModelInfo

GENERIC = openai  # what every server is asked: its model list, and small real requests of each type
# Asked first, in this order, while credentials are checked: the first description decides the type.
DESCRIBE_MODEL = (xinference,)
# Asked in this order once the type is settled, by the types that learn what a model can do;
# the first family that recognises the server describes the model.
DESCRIBE_FEATURES = (llama_cpp, vllm, sglang, ollama, lm_studio, litellm)
# Asked in this order to count tokens; the first endpoint a server has counts (remembered a while).
TOKENIZERS = (llama_cpp, vllm, localai)
# Whose words for "the prompt and max_tokens exceed the context" are read from a refusal.
OVERFLOW_WORDINGS = (vllm, sglang, llama_cpp, ollama, lm_studio)
# Whose error answers other than 401 and 403 can mean that the API key was not accepted.
KEY_REFUSALS = (litellm,)
ANY_ERROR = frozenset(range(400, 600))  # for the further asks of a family already recognised


def first_description(
    uid: str, asked: tuple[Any, ...], answer: Callable[[openai.Ask, frozenset[int]], Any]
) -> ModelInfo | None:
    """What the first of the `asked` families that recognises the server says about `uid`.

    `answer(ask, absent)` makes the request (None for a status in `absent`): the plugin's own
    transport while credentials are saved (probes.py), the standard library's when the model
    list is imported (scripts/refresh/). Each family's first ask tells whether the server is of
    that family; its further asks are made only then, and an error answer to one is None.
    """
    for family in asked:
        first, *more = family.asks(uid)
        answers = [answer(first, family.ABSENT)]
        info = family.read(uid, answers)
        if info is None:
            continue
        if more:
            answers += [answer(ask, ANY_ERROR) for ask in more]
            info = family.read(uid, answers) or info
        return info._replace(family=family.NAME)
    return None
