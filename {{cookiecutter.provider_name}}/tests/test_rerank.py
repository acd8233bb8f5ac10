{% set plan = cookiecutter | plan %}
"""Rerank against the loopback server: ranking, top_n, thresholds, odd scores, validation, errors.

Calls go through the public `invoke`, as Dify's executor makes them, so the SDK's own error
wrapping takes part.
"""

import pytest
from conftest import API_KEY, closed_port
from dify_plugin.entities.model.rerank import RerankResult
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from models.rerank.rerank import {{ plan.class_name("rerank") }}

RERANK = "/v1/rerank"
UID = "rerank-model"
QUERY = "capital of france"
DOCS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital of France.",
    "The Eiffel Tower is in Paris, France.",
    "Bananas are yellow.",
]


@pytest.fixture
def reranker() -> {{ plan.class_name("rerank") }}:
    return {{ plan.class_name("rerank") }}(model_schemas=[])


def rerank(
    reranker: {{ plan.class_name("rerank") }},
    credentials: dict,
    docs: list[str] = DOCS,
    score_threshold: float | None = None,
    top_n: int | None = None,
) -> RerankResult:
    return reranker.invoke(
        model=UID,
        credentials=credentials,
        query=QUERY,
        docs=docs,
        score_threshold=score_threshold,
        top_n=top_n,
    )


def answered(*scores: object) -> dict:
    """A scripted rerank answer: one result per score, for documents 0, 1, 2, ... in that order."""
    return {"results": [{"index": i, "relevance_score": score} for i, score in enumerate(scores)]}


def assert_names_server_without_key(error: Exception, port: int) -> None:
    message = str(error)
    assert f"127.0.0.1:{port}" in message, message
    assert API_KEY not in message, message


# -- answers --------------------------------------------------------------------------------


def test_rerank_returns_the_documents_best_first_with_their_text(reranker, server, credentials):
    result = rerank(reranker, credentials(UID))

    assert result.model == UID
    assert [doc.index for doc in result.docs] == [1, 0, 2, 3]
    assert [doc.text for doc in result.docs] == [DOCS[doc.index] for doc in result.docs]
    assert [doc.score for doc in result.docs] == [1.0, 2 / 3, 1 / 3, 0.0]
    [request] = server.requests(RERANK)
    assert request["json"] == {
        "model": UID,
        "query": QUERY,
        "documents": DOCS,
        "top_n": len(DOCS),
        "return_documents": False,
    }


def test_rerank_respects_top_n(reranker, server, credentials):
    result = rerank(reranker, credentials(UID), top_n=2)

    assert [doc.index for doc in result.docs] == [1, 0]
    assert server.requests(RERANK)[0]["json"]["top_n"] == 2


def test_rerank_respects_top_n_when_the_server_ignores_it(reranker, server, credentials):
    server.fault(RERANK, status=200, body=answered(0.1, 0.9, 0.5, 0.7))

    result = rerank(reranker, credentials(UID), top_n=2)

    assert [doc.index for doc in result.docs] == [1, 3]


@pytest.mark.parametrize(
    ("threshold", "kept"), [(0.5, [1, 0]), (2 / 3, [1, 0]), (0.0, [1, 0, 2, 3]), (1.5, [])]
)
def test_rerank_applies_score_threshold(reranker, server, credentials, threshold, kept):
    result = rerank(reranker, credentials(UID), score_threshold=threshold)

    assert [doc.index for doc in result.docs] == kept
    assert all(doc.score >= threshold for doc in result.docs)


def test_rerank_sorts_by_raw_score(reranker, server, credentials):
    server.fault(RERANK, status=200, body=answered(-1.5, 7.25, 0.0, 3))  # unsorted, not normalised

    result = rerank(reranker, credentials(UID))

    assert [(doc.index, doc.score) for doc in result.docs] == [(1, 7.25), (3, 3.0), (2, 0.0), (0, -1.5)]


def test_rerank_tolerates_string_and_missing_scores(reranker, server, credentials):
    # Scores as strings ("1.0"), and none at all for documents 1 and 3: those count as 0.0.
    server.fault(RERANK, scores_as_strings=True, missing_scores=True)

    result = rerank(reranker, credentials(UID))

    scores = {doc.index: doc.score for doc in result.docs}
    assert scores == {0: 2 / 3, 1: 0.0, 2: 1 / 3, 3: 0.0}
    assert [doc.score for doc in result.docs] == sorted(scores.values(), reverse=True)


def test_rerank_scores_that_are_not_numbers_count_as_zero(reranker, server, credentials):
    server.fault(RERANK, status=200, body=answered("high", None, 0.5, "NaN"))

    result = rerank(reranker, credentials(UID), score_threshold=0.1)

    assert [(doc.index, doc.score) for doc in result.docs] == [(2, 0.5)]


def test_rerank_without_documents_sends_no_request(reranker, server, credentials):
    result = rerank(reranker, credentials(UID), docs=[])

    assert result.docs == []
    assert server.requests() == []


def test_schema_is_never_none(reranker):
    schema = reranker.get_customizable_model_schema(UID, {})

    assert schema.model == UID
    assert schema.model_type.value == "rerank"


# -- validation -----------------------------------------------------------------------------


def test_validation_accepts_a_rerank_model(reranker, credentials):
    reranker.validate_credentials(UID, credentials(UID))


@pytest.mark.parametrize("case", ["unknown uid", "wrong model type", "wrong api key", "connection refused"])
def test_validation_failure_names_the_server_and_never_the_key(reranker, server, credentials, case):
    given = credentials(UID, api_key=API_KEY)
    port = server.port
    if case == "unknown uid":
        given["model_uid"] = "no-such-model"  # Xinference answers 400
    elif case == "wrong model type":
        given["model_uid"] = "chat-model"
    elif case == "wrong api key":
        server.control("config", {"api_key": "sk-the-servers-own-key"})  # answers 401 to API_KEY
    else:
        port = closed_port()
        given["server_url"] = f"http://127.0.0.1:{port}"

    with pytest.raises(CredentialsValidateFailedError) as caught:
        reranker.validate_credentials(UID, given)

    assert_names_server_without_key(caught.value, port)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, InvokeAuthorizationError),
        (403, InvokeAuthorizationError),
        (429, InvokeRateLimitError),
        (500, InvokeServerUnavailableError),
        (503, InvokeServerUnavailableError),
        (400, InvokeBadRequestError),
        (404, InvokeBadRequestError),
    ],
)
def test_http_errors_map_to_difys_errors_by_cause(reranker, server, credentials, status, expected):
    server.fault(RERANK, status=status, body={"detail": f"scripted failure for key {API_KEY}"})

    with pytest.raises(expected) as caught:
        rerank(reranker, credentials(UID, api_key=API_KEY))

    assert type(caught.value) is expected
    assert str(status) in str(caught.value)
    assert_names_server_without_key(caught.value, server.port)


def test_connection_refused_is_a_connection_error(reranker, credentials):
    port = closed_port()
    given = credentials(UID, api_key=API_KEY, server_url=f"http://127.0.0.1:{port}")

    with pytest.raises(InvokeConnectionError) as caught:
        rerank(reranker, given)

    assert_names_server_without_key(caught.value, port)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": "<html>busy</html>", "content_type": "text/html"},
        {"status": 200, "body": {"id": "rerank-1"}},
        {"status": 200, "body": {"results": [{"index": 9, "relevance_score": 0.5}]}},
        {"status": 200, "body": {"results": ["0.5"]}},
    ],
    ids=["non-json body", "no results", "index out of range", "result not an object"],
)
def test_malformed_answers_are_clear_dify_errors(reranker, server, credentials, fault):
    server.fault(RERANK, **fault)

    with pytest.raises(InvokeServerUnavailableError) as caught:
        rerank(reranker, credentials(UID, api_key=API_KEY))

    assert_names_server_without_key(caught.value, server.port)


# -- as Dify runs it ------------------------------------------------------------------------


def test_dify_validates_and_reranks_over_stdio(plugin, server, credentials):
    results, error = plugin.call(
        "validate_model_credentials", model_type="rerank", model=UID, credentials=credentials(UID)
    )
    assert error is None, error
    assert results[0]["result"] is True

    [result], error = plugin.call(
        "invoke_rerank",
        model_type="rerank",
        model=UID,
        credentials=results[0]["credentials"],
        query=QUERY,
        docs=DOCS,
        score_threshold=0.5,
        top_n=3,
    )
    assert error is None, error
    assert [(doc["index"], doc["text"]) for doc in result["docs"]] == [(1, DOCS[1]), (0, DOCS[0])]
    assert server.requests(RERANK)[0]["json"]["top_n"] == 3
