"""Text embedding as Dify runs it against real servers (all-MiniLM-L6-v2: 384 dimensions, 256 word
pieces at most): vectors in order, dense texts at and beyond the model's limit, token counts, errors."""

import json
import math
import time

import pytest

from real.conftest import needs_model_routing, validated
from real.test_real_tokens import server_count
from real.texts import KINDS, sample

# Real servers: `tests/run.sh` runs these in one process, after the rest, so each starts once.
pytestmark = pytest.mark.real

HELLO_WORLD = (-0.03448, 0.03102, 0.00673)  # all-MiniLM-L6-v2's first values for "hello world"


def embed(plugin, credentials, texts):
    return plugin.call(
        "invoke_text_embedding",
        model_type="text-embedding",
        model="text-embedding-model",
        credentials=credentials,
        texts=texts,
        input_type="document",
    )


@pytest.fixture(scope="module")
def embedder(real_server, real_plugin):
    return validated(real_plugin, real_server, "text-embedding")


def cosine(a, b) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.mark.parametrize("server", ["xinference", "gateway"])
def test_validation_stores_the_input_limit_the_server_describes(server, request, real_plugin):
    """Xinference's `max_tokens` (GET /v1/models/{uid}), the gateway's `max_input_tokens` (GET /v1/model/info)."""
    described = request.getfixturevalue(server)

    assert validated(real_plugin, described, "text-embedding")["context_size"] == "256"


@pytest.mark.gateway
def test_vectors_are_the_models_own_and_come_back_in_order(real_server, real_plugin, embedder):
    texts = ["hello world", "a cat sat on the mat", "hello world", "stock markets fell sharply"]

    results, error = embed(real_plugin, embedder, texts)

    assert error is None, error
    [result] = results
    vectors = result["embeddings"]
    assert len(vectors) == len(texts) and {len(v) for v in vectors} == {384}
    assert vectors[0][:3] == pytest.approx(HELLO_WORLD, abs=2e-3)
    assert cosine(vectors[0], vectors[2]) > 0.9999  # the same text, the same vector
    assert cosine(vectors[0], vectors[1]) < 0.9
    assert result["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("kind", KINDS)
def test_dense_texts_at_and_beyond_the_limit_embed_without_error(real_server, real_plugin, embedder, kind):
    """Around the limit (about 256 word pieces of that kind), and up to 20 times beyond it."""
    texts = [sample(kind, chars) for chars in (300, 600, 1000, 1400, 6000)] + ["hello world"]

    results, error = embed(real_plugin, {**embedder, "max_chunks": "3"}, texts)

    assert error is None, error
    [result] = results
    vectors = result["embeddings"]
    assert len(vectors) == len(texts) and {len(v) for v in vectors} == {384}
    assert vectors[-1][:3] == pytest.approx(HELLO_WORLD, abs=2e-3)  # order kept after any cut


def test_calls_after_the_servers_keep_alive_time_succeed(real_server, real_plugin, embedder):
    """Both servers close a connection idle for 5 s; the plugin must not send on one they are closing."""
    for idle in (4.9, 5.0, 5.1):
        time.sleep(idle)
        results, error = embed(real_plugin, embedder, ["hello world"])
        assert error is None, (idle, error)


@pytest.mark.gateway
def test_a_long_text_is_embedded_from_its_start(real_server, real_plugin, embedder):
    start = sample("prose", 600)
    results, error = embed(real_plugin, embedder, [start + sample("hex", 8000), start])

    assert error is None, error
    [result] = results
    long, short = result["embeddings"]
    assert cosine(long, short) > 0.8  # the cut keeps the beginning, not some other part


def test_token_counts_are_the_servers_own_where_it_has_a_tokenizer(llama_cpp, real_plugin):
    texts = ["hello world", sample("code", 400), sample("cjk", 100)]

    results, error = real_plugin.call(
        "get_text_embedding_num_tokens",
        model_type="text-embedding",
        model="text-embedding-model",
        credentials=llama_cpp.credentials("text-embedding"),
        texts=texts,
    )

    assert error is None, error
    [counted] = results
    assert counted["num_tokens"] == [server_count(llama_cpp, "text-embedding", text) for text in texts]


def test_a_wrong_key_is_an_authorization_error(real_server, real_plugin, embedder):
    results, error = embed(real_plugin, {**embedder, "api_key": "sk-wrong-key-123456"}, ["hi"])

    assert error["error_type"] == "InvokeAuthorizationError", error
    assert "sk-wrong-key-123456" not in json.dumps(error) and real_server.api_key not in json.dumps(error)


def test_an_unknown_model_is_a_bad_request_naming_the_server(real_server, real_plugin, embedder):
    needs_model_routing(real_server)
    results, error = embed(real_plugin, {**embedder, "model_uid": "no-such-model"}, ["hi"])

    assert error["error_type"] == "InvokeBadRequestError", error
    assert real_server.address("text-embedding") in error["message"]
