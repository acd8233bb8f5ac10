"""Rerank as Dify runs it against real servers. The model is a stand-in (MiniLM with a seeded,
untrained head): its scores mean nothing, but they are the server's own, computed per document."""

import json

import pytest

from real.conftest import needs_model_routing, validated
from real.texts import sample

# Real servers: `tests/run.sh` runs these in one process, after the rest, so each starts once.
pytestmark = pytest.mark.real

QUERY = "Where do farmers move their animals when the river floods?"
DOCS = [
    "Farmers moved their animals to the hills.",
    "The stock market closed higher on Friday.",
    "def merge(left, right): return sorted(left + right)",
    "河水在夜里慢慢上涨。",
    "The children watched from the old stone bridge.",
]


def rerank(plugin, credentials, docs=DOCS, top_n=None, score_threshold=None):
    return plugin.call(
        "invoke_rerank",
        model_type="rerank",
        model="rerank-model",
        credentials=credentials,
        query=QUERY,
        docs=docs,
        score_threshold=score_threshold,
        top_n=top_n,
    )


@pytest.fixture(scope="module")
def reranker(real_server, real_plugin):
    return validated(real_plugin, real_server, "rerank")


@pytest.fixture(scope="module")
def full_ranking(real_plugin, reranker):
    results, error = rerank(real_plugin, reranker)
    assert error is None, error
    return results[0]["docs"]


@pytest.mark.gateway
def test_every_document_comes_back_once_best_first_with_its_text(full_ranking):
    assert sorted(doc["index"] for doc in full_ranking) == list(range(len(DOCS)))
    assert all(doc["text"] == DOCS[doc["index"]] for doc in full_ranking)
    scores = [doc["score"] for doc in full_ranking]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) > 1  # real scores per document, not a constant


def test_top_n_keeps_the_best(real_plugin, reranker, full_ranking):
    results, error = rerank(real_plugin, reranker, top_n=2)

    assert error is None, error
    [result] = results
    assert [d["index"] for d in result["docs"]] == [d["index"] for d in full_ranking[:2]]


def test_score_threshold_drops_documents_below_it(real_plugin, reranker, full_ranking):
    middle = full_ranking[2]["score"]

    results, error = rerank(real_plugin, reranker, score_threshold=middle)

    assert error is None, error
    [result] = results
    assert [d["index"] for d in result["docs"]] == [d["index"] for d in full_ranking if d["score"] >= middle]


def test_documents_beyond_the_models_limit_are_ranked_without_error(real_plugin, reranker):
    docs = [sample("prose", 4000), sample("hex", 4000), sample("cjk", 2000), "short"]

    results, error = rerank(real_plugin, reranker, docs=docs)

    assert error is None, error
    [result] = results
    assert sorted(doc["index"] for doc in result["docs"]) == [0, 1, 2, 3]


def test_a_wrong_key_is_an_authorization_error(real_server, real_plugin, reranker):
    results, error = rerank(real_plugin, {**reranker, "api_key": "sk-wrong-key-123456"})

    assert error["error_type"] == "InvokeAuthorizationError", error
    assert "sk-wrong-key-123456" not in json.dumps(error) and real_server.api_key not in json.dumps(error)


def test_an_unknown_model_is_a_bad_request_naming_the_server(real_server, real_plugin, reranker):
    needs_model_routing(real_server)
    results, error = rerank(real_plugin, {**reranker, "model_uid": "no-such-model"})

    assert error["error_type"] == "InvokeBadRequestError", error
    assert real_server.address("rerank") in error["message"]
