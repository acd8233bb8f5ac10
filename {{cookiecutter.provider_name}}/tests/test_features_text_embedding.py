{% set plan = cookiecutter | plan %}
"""Text embedding features against the loopback server: query and document instructions, and
images (multimodal embedding) with the images the tests make themselves.
"""

import base64

import pytest
from checks import received
from dify_plugin.entities.model import EmbeddingInputType, ModelFeature
from dify_plugin.errors.model import InvokeBadRequestError
from fake_server import vector
from test_features import BLUE, RED, image, text

from models.text_embedding.text_embedding import {{ plan.class_name("text-embedding") }}

# -- text embedding: instructions and images ----------------------------------------------------------


@pytest.fixture
def embedder() -> {{ plan.class_name("text-embedding") }}:
    return {{ plan.class_name("text-embedding") }}(model_schemas=[])


def embedding_inputs(server) -> list:
    return [item for r in server.requests("/v1/embeddings") for item in r["json"]["input"]]


@pytest.mark.parametrize(
    ("input_type", "answers", "sent"),
    [
        (
            EmbeddingInputType.QUERY,
            {"query_prefix": "query:", "document_prefix": "passage:"},
            "query: tall tower",
        ),
        (
            EmbeddingInputType.DOCUMENT,
            {"query_prefix": "query:", "document_prefix": "passage: "},
            "passage: tall tower",
        ),
        (
            EmbeddingInputType.QUERY,
            {"query_prefix": "Instruct: find the landmark\nQuery: "},
            "Instruct: find the landmark\nQuery: tall tower",
        ),
        (EmbeddingInputType.DOCUMENT, {"query_prefix": "query:"}, "tall tower"),
        (EmbeddingInputType.QUERY, {}, "tall tower"),
    ],
    ids=["query", "document", "instruction", "no-document-prefix", "none"],
)
def test_instruction_prefixes_go_before_queries_and_documents(
    embedder, server, credentials, input_type, answers, sent
):
    result = embedder.invoke(
        model="embed-model",
        credentials=credentials("embed-model", **answers),
        texts=["tall tower"],
        input_type=input_type,
    )

    assert embedding_inputs(server) == [sent]
    assert result.embeddings == received([vector(sent)])


def test_images_and_texts_are_embedded_in_order_in_one_shape(embedder, server, credentials):
    given = credentials(  # one batch at a time: the server gets them in order (parallel batches race)
        "vl-embed-model", embeds_images="yes", max_chunks="2", parallel_requests="1", query_prefix="query:"
    )
    documents = [text("red square"), image(RED), image(BLUE)]

    result = embedder.invoke_multimodal(
        model="vl-embed-model", credentials=given, documents=documents, input_type=EmbeddingInputType.QUERY
    )

    assert embedding_inputs(server) == [
        {"text": "query: red square"},
        {"image": f"data:image/png;base64,{RED}"},
        {"image": f"data:image/png;base64,{BLUE}"},
    ]
    assert [len(r["json"]["input"]) for r in server.requests("/v1/embeddings")] == [2, 1]
    assert len(result.embeddings) == 3
    assert result.embeddings[1] != result.embeddings[2]  # two images, two vectors
    again = embedder.invoke_multimodal(model="vl-embed-model", credentials=given, documents=[image(RED)])
    assert again.embeddings == [result.embeddings[1]]


def test_an_image_url_is_sent_as_given(embedder, server, credentials):
    given = credentials("vl-embed-model", embeds_images="yes")
    url = f"data:image/png;base64,{RED}"

    embedder.invoke_multimodal(model="vl-embed-model", credentials=given, documents=[image(url)])

    assert embedding_inputs(server) == [{"image": url}]


@pytest.mark.parametrize(
    ("answers", "content", "rule"),
    [
        ({}, RED, "set embeds_images to yes"),
        ({"embeds_images": "yes"}, base64.b64encode(b"not an image at all").decode(), "not a PNG, JPEG"),
        ({"embeds_images": "yes"}, "%%% not base64 %%%", "neither a URL nor base64"),
    ],
    ids=["not-enabled", "not-an-image", "not-base64"],
)
def test_images_the_plugin_cannot_send_are_clear_errors_before_any_request(
    embedder, server, credentials, answers, content, rule
):
    with pytest.raises(InvokeBadRequestError, match=rule):
        embedder.invoke_multimodal(
            model="vl-embed-model",
            credentials=credentials("vl-embed-model", **answers),
            documents=[image(content)],
        )
    assert server.requests("/v1/embeddings") == []


def test_a_server_refusing_images_is_a_bad_request_naming_the_server(embedder, server, credentials):
    given = credentials("embed-model", embeds_images="yes")  # the server runs it as text-only

    with pytest.raises(InvokeBadRequestError, match="does not support image input") as caught:
        embedder.invoke_multimodal(model="embed-model", credentials=given, documents=[image(RED)])
    assert f"127.0.0.1:{server.port}" in str(caught.value)


TOO_LONG = "input is too large to process. increase the physical batch size (current batch size: 16)"


def test_a_text_refused_as_too_long_is_cut_and_images_go_as_they_were(embedder, server, credentials):
    server.fault("/v1/embeddings", status=500, body={"error": {"message": TOO_LONG}})
    given = credentials("vl-embed-model", embeds_images="yes")
    long = "tall tower " * 60
    documents = [text(long), image(RED)]

    result = embedder.invoke_multimodal(model="vl-embed-model", credentials=given, documents=documents)

    first, retry = [r["json"]["input"] for r in server.requests("/v1/embeddings")]
    assert first == [{"text": long}, {"image": f"data:image/png;base64,{RED}"}]
    assert retry == [{"text": long[:14]}, {"image": f"data:image/png;base64,{RED}"}]  # 16 tokens, 2 special
    assert len(result.embeddings) == 2


@pytest.mark.parametrize(
    ("uid", "describe", "props", "expected"),
    [
        ("vl-embed-model", True, None, "yes"),
        ("embed-model", True, None, None),
        ("embed-model", False, {"default_generation_settings": {}, "modalities": {"vision": True}}, "yes"),
        ("embed-model", False, None, None),
    ],
    ids=["xinference-vision", "xinference-text", "llama.cpp-vision", "undescribed"],
)
def test_validation_stores_image_support_the_server_reports(
    embedder, server, credentials, uid, describe, props, expected
):
    server.control("config", {"describe": describe})
    server.control("features", {"props": props})
    given = credentials(uid)

    embedder.validate_credentials(uid, given)

    assert given.get("embeds_images") == expected
    schema = embedder.get_customizable_model_schema(uid, given)
    assert schema.features == ([ModelFeature.VISION] if expected else [])


def test_dify_embeds_images_over_stdio(plugin, server, credentials):
    given = credentials("vl-embed-model", embeds_images="yes")
    [result], error = plugin.call(
        "invoke_multimodal_embedding",
        model_type="text-embedding",
        model="vl-embed-model",
        credentials=given,
        documents=[
            {"content": "red square", "content_type": "text"},
            {"content": RED, "content_type": "image"},
        ],
        input_type="document",
    )
    assert error is None, error
    assert len(result["embeddings"]) == 2
    assert embedding_inputs(server)[1] == {"image": f"data:image/png;base64,{RED}"}
