{% set plan = cookiecutter | plan %}
"""What the LLM does already, and what is left to fill in (reported as xfail until done).

Nothing here needs a running server: the unfinished methods are called against an address
where nothing listens, so once filled in they must answer with Dify's own errors.
"""

import socket

import pytest
from dify_plugin.entities.model import ModelPropertyKey, ModelType
from dify_plugin.entities.model.message import SystemPromptMessage, UserPromptMessage
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeError

from models.llm.llm import {{ plan.class_name("llm") }}

SOURCE = "models/llm/llm.py"
MESSAGES = [SystemPromptMessage(content="Be brief."), UserPromptMessage(content="What is a plugin?")]


@pytest.fixture
def llm() -> {{ plan.class_name("llm") }}:
    return {{ plan.class_name("llm") }}(model_schemas=[])


@pytest.fixture
def unreachable() -> dict[str, str]:
    """Credentials naming a loopback port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return {
        "server_url": f"http://127.0.0.1:{port}",
        "model_uid": "chat-model",
        "request_timeout": "2",
        "max_retries": "0",
    }


def test_schema_describes_the_model_from_its_credentials(llm):
    schema = llm.get_customizable_model_schema("my-model", {"context_size": "2048", "mode": "chat"})

    assert schema is not None
    assert (schema.model, schema.model_type) == ("my-model", ModelType.LLM)
    assert schema.model_properties[ModelPropertyKey.MODE] == "chat"
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 2048
    max_tokens = next(rule for rule in schema.parameter_rules if rule.name == "max_tokens")
    assert max_tokens.max <= 2048
    assert llm.get_customizable_model_schema("my-model", {}) is not None


def test_get_num_tokens_works_offline(llm, unreachable):
    assert llm.get_num_tokens("my-model", unreachable, MESSAGES) > 0


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_invoke_reports_an_unreachable_server_as_a_dify_error(llm, unreachable, stream):
    try:
        with pytest.raises(InvokeError):
            result = llm._invoke("my-model", unreachable, MESSAGES, {"max_tokens": 16}, stream=stream)
            if stream:
                list(result)
    except NotImplementedError:
        pytest.xfail(f"_invoke is not implemented yet: fill it in {SOURCE}")


def test_validate_credentials_rejects_an_unreachable_server(llm, unreachable):
    try:
        with pytest.raises(CredentialsValidateFailedError):
            llm.validate_credentials("my-model", unreachable)
    except NotImplementedError:
        pytest.xfail(f"validate_credentials is not implemented yet: fill it in {SOURCE}")
