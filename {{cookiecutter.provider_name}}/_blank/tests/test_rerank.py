{% set plan = cookiecutter | plan %}
"""What the rerank model does already, and what is left to fill in (reported as xfail until done).

Nothing here needs a running server: the unfinished methods are called as Dify calls them,
against an address where nothing listens, so once filled in they must answer with Dify's
own errors.
"""

import socket

import pytest
from dify_plugin.entities.model import ModelType
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from models.rerank.rerank import {{ plan.class_name("rerank") }}

SOURCE = "models/rerank/rerank.py"
DOCS = ["Paris is the capital of France.", "Bananas are yellow."]


@pytest.fixture
def reranker() -> {{ plan.class_name("rerank") }}:
    return {{ plan.class_name("rerank") }}(model_schemas=[])


@pytest.fixture
def unreachable() -> dict[str, str]:
    """Credentials naming a loopback port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return {
        "server_url": f"http://127.0.0.1:{port}",
        "model_uid": "my-model",
        "request_timeout": "2",
        "max_retries": "0",
    }


def test_error_mapping_covers_every_kind_of_dify_error(reranker):
    kinds = {
        InvokeAuthorizationError,
        InvokeBadRequestError,
        InvokeConnectionError,
        InvokeRateLimitError,
        InvokeServerUnavailableError,
    }

    assert kinds <= set(reranker._invoke_error_mapping)


def test_schema_describes_the_model(reranker):
    schema = reranker.get_customizable_model_schema("my-model", {})

    assert schema is not None
    assert (schema.model, schema.model_type) == ("my-model", ModelType.RERANK)


def test_invoke_reports_an_unreachable_server_as_a_connection_error(reranker, unreachable):
    with pytest.raises(InvokeError) as caught:
        reranker.invoke("my-model", unreachable, "capital of France", DOCS, top_n=1)
    if isinstance(caught.value.__cause__, NotImplementedError):
        pytest.xfail(f"_invoke is not implemented yet: fill it in {SOURCE}")
    assert isinstance(caught.value, InvokeConnectionError), repr(caught.value)


def test_validate_credentials_rejects_an_unreachable_server(reranker, unreachable):
    try:
        with pytest.raises(CredentialsValidateFailedError):
            reranker.validate_credentials("my-model", unreachable)
    except NotImplementedError:
        pytest.xfail(f"validate_credentials is not implemented yet: fill it in {SOURCE}")
