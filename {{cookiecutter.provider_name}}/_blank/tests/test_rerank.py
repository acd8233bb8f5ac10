{% set plan = cookiecutter | plan %}
"""What the rerank model does already, and what is left to fill in (reported as xfail until done).

Nothing here needs a running server: the unfinished methods are called as Dify calls them,
against an address where nothing listens, so once filled in they must answer with Dify's
own errors.
"""

import pytest
from checks import INVOKE_ERROR_KINDS, unfinished, unreachable
from dify_plugin.entities.model import ModelType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeConnectionError

from models.rerank.rerank import {{ plan.class_name("rerank") }}

DOCS = ["Paris is the capital of France.", "Bananas are yellow."]


@pytest.fixture
def reranker() -> {{ plan.class_name("rerank") }}:
    return {{ plan.class_name("rerank") }}(model_schemas=[])


def test_error_mapping_covers_every_kind_of_dify_error(reranker):
    assert INVOKE_ERROR_KINDS <= set(reranker._invoke_error_mapping)


def test_schema_describes_the_model(reranker):
    schema = reranker.get_customizable_model_schema("my-model", {})

    assert schema is not None
    assert (schema.model, schema.model_type) == ("my-model", ModelType.RERANK)


def test_invoke_reports_an_unreachable_server_as_a_connection_error(reranker):
    with unfinished(reranker, "_invoke"), pytest.raises(InvokeConnectionError):
        reranker.invoke("my-model", unreachable(), "capital of France", DOCS, top_n=1)


def test_validate_credentials_rejects_an_unreachable_server(reranker):
    with unfinished(reranker, "validate_credentials"), pytest.raises(CredentialsValidateFailedError):
        reranker.validate_credentials("my-model", unreachable())
