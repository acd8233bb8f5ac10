{% set plan = cookiecutter | plan %}
"""Rerank against the loopback server: ranking, top_n, thresholds, odd scores, validation, errors.

Calls go through the public `invoke`, as Dify's executor makes them, so the SDK's own error
wrapping takes part.
"""

import pytest
from checks import HTTP_ERRORS, error_answer, raises_dify_error, spoil_validation, unreachable_server
from conftest import API_KEY
from dify_plugin.entities.model.rerank import RerankResult
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeConnectionError,
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
    port = spoil_validation(case, server, given, other_type_uid="chat-model")

    with raises_dify_error(CredentialsValidateFailedError, port):
        reranker.validate_credentials(UID, given)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), HTTP_ERRORS)
def test_http_errors_map_to_difys_errors_by_cause(reranker, server, credentials, status, expected):
    server.fault(RERANK, **error_answer(status))

    with raises_dify_error(expected, server.port, status):
        rerank(reranker, credentials(UID, api_key=API_KEY))


def test_connection_refused_is_a_connection_error(reranker, credentials):
    url, port = unreachable_server()

    with raises_dify_error(InvokeConnectionError, port):
        rerank(reranker, credentials(UID, api_key=API_KEY, server_url=url))


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

    with raises_dify_error(InvokeServerUnavailableError, server.port):
        rerank(reranker, credentials(UID, api_key=API_KEY))


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
