{% set plan = cookiecutter | plan %}
"""Rerank features against the loopback server: images ranked with texts (multimodal rerank),
with the images the tests make themselves.
"""

import pytest
from dify_plugin.entities.model import ModelFeature
from dify_plugin.errors.model import InvokeBadRequestError
from test_features import BLUE, RED, image, text

from models.rerank.rerank import {{ plan.class_name("rerank") }}

# -- rerank: images -------------------------------------------------------------------------------------


@pytest.fixture
def reranker() -> {{ plan.class_name("rerank") }}:
    return {{ plan.class_name("rerank") }}(model_schemas=[])


@pytest.mark.parametrize(
    ("query", "wire_query"),
    [(text("red square"), "red square"), (image(RED), {"image": f"data:image/png;base64,{RED}"})],
    ids=["text-query", "image-query"],
)
def test_images_are_ranked_with_texts(reranker, server, credentials, query, wire_query):
    given = credentials("vl-rerank-model", reranks_images="yes")
    docs = [image(BLUE), text("a red square"), image(RED)]

    result = reranker.invoke_multimodal(
        model="vl-rerank-model", credentials=given, query=query, docs=docs, top_n=2
    )

    [body] = [r["json"] for r in server.requests("/v1/rerank")]
    assert body["query"] == wire_query
    assert body["documents"] == [
        {"image": f"data:image/png;base64,{BLUE}"},
        {"text": "a red square"},
        {"image": f"data:image/png;base64,{RED}"},
    ]
    best = 2 if isinstance(wire_query, dict) else 1
    assert result.docs[0].index == best and result.docs[0].text == docs[best].content
    assert len(result.docs) == 2


def test_documents_refused_as_too_long_are_cut_and_images_sent_as_they_were(reranker, server, credentials):
    too_long = "input is too large to process. increase the physical batch size (current batch size: 32)"
    server.fault("/v1/rerank", status=500, body={"error": {"message": too_long}})
    given = credentials("vl-rerank-model", reranks_images="yes")
    long = "red square " * 60

    reranker.invoke_multimodal(
        model="vl-rerank-model", credentials=given, query=image(RED), docs=[text(long), image(BLUE)]
    )

    first, retry = [r["json"] for r in server.requests("/v1/rerank")]
    assert retry["query"] == first["query"] == {"image": f"data:image/png;base64,{RED}"}
    assert first["documents"][0] == {"text": long}
    # 32 tokens less 2 for the image query's (empty) text, less 2 special tokens: 28 bytes
    assert retry["documents"] == [{"text": long[:28]}, {"image": f"data:image/png;base64,{BLUE}"}]


def test_ranking_images_needs_the_answer_and_sends_nothing_without_it(reranker, server, credentials):
    with pytest.raises(InvokeBadRequestError, match="set reranks_images to yes"):
        reranker.invoke_multimodal(
            model="vl-rerank-model",
            credentials=credentials("vl-rerank-model"),
            query=text("q"),
            docs=[image(RED)],
        )
    assert server.requests("/v1/rerank") == []


def test_a_server_refusing_images_is_a_bad_request_naming_the_server(reranker, server, credentials):
    given = credentials("rerank-model", reranks_images="yes")  # the server ranks text only

    with pytest.raises(InvokeBadRequestError, match="does not support image input") as caught:
        reranker.invoke_multimodal(
            model="rerank-model", credentials=given, query=text("q"), docs=[image(RED)]
        )
    assert f"127.0.0.1:{server.port}" in str(caught.value)


def test_validation_stores_image_support_and_the_schema_declares_vision(reranker, server, credentials):
    given = credentials("vl-rerank-model")

    reranker.validate_credentials("vl-rerank-model", given)

    assert given["reranks_images"] == "yes"
    assert reranker.get_customizable_model_schema("vl-rerank-model", given).features == [ModelFeature.VISION]
    assert reranker.get_customizable_model_schema("rerank-model", {}).features == []


def test_dify_reranks_images_over_stdio(plugin, server, credentials):
    [result], error = plugin.call(
        "invoke_multimodal_rerank",
        model_type="rerank",
        model="vl-rerank-model",
        credentials=credentials("vl-rerank-model", reranks_images="yes"),
        query={"content": RED, "content_type": "image"},
        docs=[{"content": BLUE, "content_type": "image"}, {"content": RED, "content_type": "image"}],
        score_threshold=0.5,
        top_n=None,
    )
    assert error is None, error
    assert [doc["index"] for doc in result["docs"]] == [1]
