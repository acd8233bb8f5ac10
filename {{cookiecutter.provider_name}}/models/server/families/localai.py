"""LocalAI: counts tokens with the model's own tokenizer at `POST /v1/tokenize`.

Shape read from LocalAI's source (github.com/mudler/LocalAI, core/schema/tokenize.go, 6c9aee4):
`{"model", "content"}` answered `{"tokens": [...]}`. LocalAI says nothing else about a model
through its API (its `/v1/models` lists ids only); older releases end a stream with `[DONE]`
and no `finish_reason`, which the LLM's answers.py takes as a normal end.
"""

from typing import Any

from models.server.families import llama_cpp

NAME = "LocalAI"
TOKENIZE_PATH = "tokenize"  # under /v1


def count_request(uid: str, text: str) -> tuple[str, dict[str, Any]]:
    """The request that counts `text`'s tokens."""
    return TOKENIZE_PATH, {"model": uid, "content": text}


read_count = llama_cpp.read_count  # LocalAI answers in llama.cpp's shape: {"tokens": [...]}
