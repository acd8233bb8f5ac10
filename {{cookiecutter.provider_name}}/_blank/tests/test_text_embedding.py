{% set plan = cookiecutter | plan %}
"""What the text embedding model does already, and what is left to fill in (reported as xfail until done).

Nothing here needs a running server: the unfinished methods are called as Dify calls them,
against an address where nothing listens, so once filled in they must answer with Dify's
own errors.
"""

import pytest
from checks import INVOKE_ERROR_KINDS, unfinished, unreachable
from dify_plugin.entities.model import ModelPropertyKey, ModelType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeConnectionError

from models.text_embedding.text_embedding import {{ plan.class_name("text-embedding") }}

TEXTS = ["The first text.", "A second, longer text to embed."]


@pytest.fixture
def embedder() -> {{ plan.class_name("text-embedding") }}:
    return {{ plan.class_name("text-embedding") }}(model_schemas=[])


def test_error_mapping_covers_every_kind_of_dify_error(embedder):
    assert INVOKE_ERROR_KINDS <= set(embedder._invoke_error_mapping)


def test_schema_describes_the_model_from_its_credentials(embedder):
    schema = embedder.get_customizable_model_schema("my-model", {"context_size": "2048", "max_chunks": "8"})

    assert schema is not None
    assert (schema.model, schema.model_type) == ("my-model", ModelType.TEXT_EMBEDDING)
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 2048
    assert schema.model_properties[ModelPropertyKey.MAX_CHUNKS] == 8
    assert embedder.get_customizable_model_schema("my-model", {}) is not None


def test_get_num_tokens_counts_each_text_offline(embedder):
    counts = embedder.get_num_tokens("my-model", unreachable(), TEXTS)

    assert len(counts) == len(TEXTS)
    assert all(count > 0 for count in counts)


def test_invoke_reports_an_unreachable_server_as_a_connection_error(embedder):
    with unfinished(embedder, "_invoke"), pytest.raises(InvokeConnectionError):
        embedder.invoke("my-model", unreachable(), TEXTS)


def test_validate_credentials_rejects_an_unreachable_server(embedder):
    with unfinished(embedder, "validate_credentials"), pytest.raises(CredentialsValidateFailedError):
        embedder.validate_credentials("my-model", unreachable())
