{% set plan = cookiecutter | plan %}
"""Text embedding against the loopback server: batches, order, truncation, usage, validation, errors.

Calls go through the public `invoke`, as Dify's executor makes them, so the SDK's own error
wrapping takes part.
"""

import math

import gevent
import pytest
from checks import (
    HTTP_ERRORS,
    error_answer,
    raises_dify_error,
    received,
    spoil_validation,
    unreachable_server,
)
from conftest import API_KEY, HAND_ADDED
from dify_plugin.entities.model import EmbeddingInputType, ModelPropertyKey
from dify_plugin.entities.model.text_embedding import TextEmbeddingResult
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeConnectionError,
    InvokeServerUnavailableError,
)
from fake_server import vector

from models.server.tokens import SPECIAL_TOKENS, estimate_tokens
from models.text_embedding.text_embedding import {{ plan.class_name("text-embedding") }}

EMBEDDINGS = "/v1/embeddings"
UID = "embed-model"


@pytest.fixture
def embedder() -> {{ plan.class_name("text-embedding") }}:
    return {{ plan.class_name("text-embedding") }}(model_schemas=[])


def embed(
    embedder: {{ plan.class_name("text-embedding") }},
    credentials: dict,
    texts: list[str],
) -> TextEmbeddingResult:
    return embedder.invoke(
        model=UID, credentials=credentials, texts=texts, input_type=EmbeddingInputType.DOCUMENT
    )


def sent_inputs(server) -> list[list[str]]:
    """The `input` list of each embedding request the server received, in order."""
    return [r["json"]["input"] for r in server.requests(EMBEDDINGS)]


# -- answers --------------------------------------------------------------------------------


def test_embedding_returns_the_servers_vector_for_each_text(embedder, server, credentials):
    texts = ["first text", "second, longer text"]

    result = embed(embedder, credentials(UID), texts)

    assert result.model == UID
    assert result.embeddings == received([vector(text) for text in texts])
    assert server.requests(EMBEDDINGS)[0]["json"] == {"model": UID, "input": texts}


@pytest.mark.parametrize(
    ("count", "max_chunks", "sizes"),
    [(5, "2", [2, 2, 1]), (4, "2", [2, 2]), (3, "1", [1, 1, 1]), (3, "32", [3]), (33, None, [32, 1])],
)
def test_embedding_batches_by_max_chunks(embedder, server, credentials, count, max_chunks, sizes):
    texts = [f"text number {i}" for i in range(count)]
    known = {"dimension": "4"}  # learned at validation; an unknown one sends fewer texts at once
    given = credentials(UID, **known, **({} if max_chunks is None else {"max_chunks": max_chunks}))

    result = embed(embedder, given, texts)

    batches = sorted(sent_inputs(server), key=lambda batch: texts.index(batch[0]))  # sent at once
    assert len(batches) == math.ceil(count / int(max_chunks or 32))
    assert [len(batch) for batch in batches] == sizes
    assert [text for batch in batches for text in batch] == texts
    assert result.embeddings == received([vector(text) for text in texts])


def test_embedding_preserves_order(embedder, server, credentials):
    texts = ["alpha", "beta", "gamma"]
    shuffled = [{"index": i, "embedding": vector(texts[i])} for i in (2, 0, 1)]
    server.fault(EMBEDDINGS, status=200, body={"data": shuffled, "usage": {"total_tokens": 3}})

    result = embed(embedder, credentials(UID), texts)

    assert result.embeddings == received([vector(text) for text in texts])


def test_embedding_truncates_long_input_leaving_room_for_special_tokens(embedder, server, credentials):
    long_text = "word " * 100  # about 125 tokens
    given = credentials(UID, context_size="10")

    embed(embedder, given, [long_text, "short"])

    [[sent_long, sent_short]] = sent_inputs(server)
    assert long_text.startswith(sent_long)
    room = 10 - SPECIAL_TOKENS
    assert estimate_tokens(sent_long) <= room < estimate_tokens(sent_long + long_text[len(sent_long)])
    assert sent_short == "short"


def test_embedding_truncation_never_cuts_inside_a_character(embedder, server, credentials):
    pairs = "\ud83d\ude00" * 20  # an emoji as a UTF-16 surrogate pair, twenty times
    lone = "ok \ud83d"  # half a pair: cannot be sent as UTF-8 as it is

    embed(embedder, credentials(UID, context_size="7"), [pairs, lone])

    [[sent_pairs, sent_lone]] = sent_inputs(server)
    assert sent_pairs == "\U0001f600" * (7 - SPECIAL_TOKENS)
    assert sent_lone == "ok \ufffd"


def test_embedding_usage_from_server(embedder, server, credentials):
    texts = ["one two three", "four", "five six"]  # the fake server counts 6 tokens

    result = embed(embedder, credentials(UID, max_chunks="2"), texts)

    assert (result.usage.tokens, result.usage.total_tokens) == (6, 6)
    assert result.usage.total_price == 0 and result.usage.currency == "USD"
    assert result.usage.latency >= 0


def test_embedding_usage_is_estimated_when_the_server_reports_none(embedder, server, credentials):
    texts = ["some words here", "and more"]
    body = {"data": [{"index": i, "embedding": vector(t)} for i, t in enumerate(texts)]}
    server.fault(EMBEDDINGS, status=200, body=body)

    result = embed(embedder, credentials(UID), texts)

    assert result.usage.total_tokens == sum(estimate_tokens(text) for text in texts)


def test_get_num_tokens_estimates_where_the_server_has_no_tokenizer(embedder, server, credentials):
    texts = ["hello world", "你好", ""]

    counts = embedder.get_num_tokens(UID, credentials(UID), texts)
    again = embedder.get_num_tokens(UID, credentials(UID), texts)

    assert counts == again == [estimate_tokens(text) for text in texts] == [2, 2, 0]
    asked = [r["path"] for r in server.requests()]
    # llama.cpp's, vLLM's and LocalAI's tokenizers: asked once per connection and model, remembered
    assert asked in ([], ["/tokenize", "/tokenize", "/v1/tokenize"])


def test_schema_takes_context_size_and_max_chunks_from_credentials(embedder):
    given = embedder.get_customizable_model_schema(UID, {"context_size": "8192", "max_chunks": "4"})
    default = embedder.get_customizable_model_schema(
        UID, {"context_size": "", "max_chunks": "many", "dimension": "4"}
    )

    assert given.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 8192
    assert given.model_properties[ModelPropertyKey.MAX_CHUNKS] == 4
    assert default.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 512
    assert default.model_properties[ModelPropertyKey.MAX_CHUNKS] == 32


# -- batches sent at once (parallel_requests) -----------------------------------------------


@pytest.mark.parametrize(("given", "at_once"), [(None, 2), ("1", 1), ("3", 3), ("99", 8)])
def test_batches_are_sent_parallel_requests_at_once_and_never_more(
    embedder, server, credentials, given, at_once
):
    texts = [f"text number {i}" for i in range(2 * at_once)]  # two rounds of one-text batches
    extra = {"max_chunks": "1"} | ({"parallel_requests": given} if given else {})
    server.config(hold=at_once, hold_timeout=3)  # nothing is answered until `at_once` requests wait

    result = embed(embedder, credentials(UID, **extra), texts)

    assert result.embeddings == received([vector(text) for text in texts])
    assert server.peak() == at_once


def test_vectors_keep_the_text_order_when_batches_are_answered_out_of_order(embedder, server, credentials):
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    server.fault(EMBEDDINGS, delay=0.3)  # the first batch to arrive is answered last

    result = embed(embedder, credentials(UID, max_chunks="1", parallel_requests="2"), texts)

    assert result.embeddings == received([vector(text) for text in texts])
    assert result.usage.total_tokens == len(texts)
    first = server.requests(EMBEDDINGS)[0]  # alpha or beta: the two batches sent together race
    assert first["json"]["input"] in (["alpha"], ["beta"]) and first["answered"] > 0


def test_a_failing_batch_raises_its_dify_error_and_the_batches_not_sent_yet_never_are(
    embedder, server, credentials
):
    server.fault(EMBEDDINGS, **error_answer(500))  # the first batch fails at once
    server.fault(EMBEDDINGS, delay=0.3, times=10)  # the others are slow

    given = credentials(UID, api_key=API_KEY, max_chunks="1", parallel_requests="2")

    with raises_dify_error(InvokeServerUnavailableError, server.port, 500):
        embed(embedder, given, list("abcdef"))

    gevent.sleep(0.6)  # time for a third batch to arrive, if one were still sent
    sent = sorted(text for r in server.requests(EMBEDDINGS) for text in r["json"]["input"])
    # The failed one, and the one started with it if it got out before the failure came back.
    assert sent in (["a"], ["a", "b"]), sent


@pytest.mark.parametrize("value", ["0", "9", "two", "1.5"])
def test_validation_refuses_parallel_requests_out_of_range_naming_the_rule(embedder, credentials, value):
    rule = "parallel_requests must be a whole number from 1 to 8"

    with pytest.raises(CredentialsValidateFailedError, match=rule):
        embedder.validate_credentials(UID, credentials(UID, parallel_requests=value))


# -- validation -----------------------------------------------------------------------------


def test_validation_stores_the_servers_input_limit_as_context_size(embedder, credentials):
    given = credentials(UID, context_size="8192")

    embedder.validate_credentials(UID, given)

    assert given["context_size"] == "512"  # the fake server's max_tokens for embed-model


def test_validation_keeps_context_size_when_the_server_does_not_describe_models(
    embedder, server, credentials
):
    server.control("config", {"describe": False})
    given = credentials(UID, context_size="8192")

    embedder.validate_credentials(UID, given)

    assert given["context_size"] == "8192"
    check, dimension = server.requests(EMBEDDINGS)  # no description: one small real request of this type
    assert check["json"]["input"] == ["Hi"]
    assert given["dimension"] == str(len(vector(dimension["json"]["input"][0])))  # learned with a second


{% if plan.has("llm") %}
def test_without_a_description_a_model_answering_as_another_type_is_refused_naming_it(
    embedder, server, credentials
):
    server.control("config", {"describe": False})
    server.fault(EMBEDDINGS, status=500, body={"detail": "the current context does not support embeddings"})

    with raises_dify_error(CredentialsValidateFailedError, server.port) as caught:
        embedder.validate_credentials(UID, credentials(UID, api_key=API_KEY))

    message = str(caught.value)
    assert "is an llm model, not a text-embedding model" in message
    assert "does not support embeddings" in message  # what failed, in the server's words
    assert [r["path"] for r in server.requests()][-2:] == [EMBEDDINGS, "/v1/chat/completions"]


{% endif %}
{% if plan.has("rerank") %}
def test_a_rerank_model_whose_server_also_answers_embeddings_is_refused_naming_it(
    embedder, server, credentials
):
    """llama.cpp's server answers embeddings of a rerank model with its one score and the memory
    after it (seen on xllamacpp 2026.10.11549: all zeros on a fresh server, a few non-zero values
    on a busy one), and its chats with a 500; the shapes below are what it sent."""
    server.control("config", {"describe": False})
    leftovers = [0.0] * 384
    leftovers[0], leftovers[17], leftovers[200] = -3.55, 1e-3, 2.5e-7
    answer = {"model": "rerank-model", "object": "list", "usage": {"prompt_tokens": 3, "total_tokens": 3}}
    answer["data"] = [{"embedding": leftovers, "index": 0, "object": "embedding"}]
    server.fault(EMBEDDINGS, status=200, body=answer, model="rerank-model")
    no_logits = {"code": 500, "message": "the current context does not support logits computation. skipping"}
    server.fault("/v1/chat/completions", status=500, body={"error": {**no_logits, "type": "server_error"}})

    with raises_dify_error(CredentialsValidateFailedError, server.port) as caught:
        embedder.validate_credentials("rerank-model", credentials("rerank-model", api_key=API_KEY))

    assert "is a rerank model, not a text-embedding model" in str(caught.value)


{% endif %}
@pytest.mark.parametrize("case", ["unknown uid", "wrong model type", "wrong api key", "connection refused"])
def test_validation_failure_names_the_server_and_never_the_key(embedder, server, credentials, case):
    given = credentials(UID, api_key=API_KEY)
    port = spoil_validation(case, server, given, other_type_uid="rerank-model")

    with raises_dify_error(CredentialsValidateFailedError, port):
        embedder.validate_credentials(UID, given)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), HTTP_ERRORS)
def test_http_errors_map_to_difys_errors_by_cause(embedder, server, credentials, status, expected):
    server.fault(EMBEDDINGS, **error_answer(status))

    with raises_dify_error(expected, server.port, status):
        embed(embedder, credentials(UID, api_key=API_KEY), ["hello"])


def test_connection_refused_is_a_connection_error(embedder, credentials):
    url, port = unreachable_server()

    with raises_dify_error(InvokeConnectionError, port):
        embed(embedder, credentials(UID, api_key=API_KEY, server_url=url), ["hello"])


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": "<html>busy</html>", "content_type": "text/html"},
        {"status": 200, "body": {"data": []}},
        {"status": 200, "body": {"data": [{"index": 5, "embedding": [0.1]}]}},
        {"status": 200, "body": {"data": [{"index": 0, "embedding": "AAAA"}]}},
        {"status": 200, "body": {"data": [{"index": 0, "embedding": [0.5, "0.5"]}]}},
        {"status": 200, "body": {"data": [{"index": 0, "embedding": [0.5, True]}]}},
        {"status": 200, "body": {"data": [{"index": 0, "embedding": [[0.5]]}]}},
        {"status": 200, "body": {"object": "list"}},
    ],
    ids=[
        "non-json body",
        "too few embeddings",
        "index out of range",
        "embedding not numbers",
        "a string among numbers",
        "a boolean among numbers",
        "nested lists",
        "no data",
    ],
)
def test_malformed_answers_are_clear_dify_errors(embedder, server, credentials, fault):
    server.fault(EMBEDDINGS, **fault)

    with raises_dify_error(InvokeServerUnavailableError, server.port):
        embed(embedder, credentials(UID, api_key=API_KEY), ["hello"])


def test_whole_numbers_in_an_embedding_come_back_as_floats(embedder, server, credentials):
    server.fault(EMBEDDINGS, status=200, body={"data": [{"index": 0, "embedding": [1, 0.5, 0]}]})

    vector = embed(embedder, credentials(UID, api_key=API_KEY), ["hello"]).embeddings[0]

    assert vector == [1.0, 0.5, 0.0]
    assert [type(x) for x in vector] == [float, float, float]


# -- as Dify runs it ------------------------------------------------------------------------


def test_dify_validates_embeds_and_counts_tokens_over_stdio(plugin, server, credentials):
    results, error = plugin.call(
        "validate_model_credentials",
        model_type="text-embedding",
        model=HAND_ADDED,
        credentials=credentials(UID, context_size="8192", max_chunks="2"),
    )
    assert error is None, error
    assert results[0]["result"] is True
    stored = results[0]["credentials"]
    assert stored["context_size"] == "512"
    assert stored["dimension"] == "4"  # vectors_per_answer: how many texts Dify may send at once

    texts = ["one", "two words", "three more words"]
    request = {"model_type": "text-embedding", "model": HAND_ADDED, "credentials": stored, "texts": texts}
    [result], error = plugin.call("invoke_text_embedding", **request, input_type="document")
    assert error is None, error
    assert result["embeddings"] == received([vector(text) for text in texts])
    assert result["usage"]["total_tokens"] == 6
    assert len(server.requests(EMBEDDINGS)) == 3  # the dimension learned at validation, then two batches

    [counted], error = plugin.call("get_text_embedding_num_tokens", **request)
    assert error is None, error
    assert counted["num_tokens"] == [estimate_tokens(text) for text in texts]
