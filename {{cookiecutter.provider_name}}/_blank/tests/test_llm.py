{% set plan = cookiecutter | plan %}
"""What the LLM does already, and what is left to fill in (reported as xfail until done).

Nothing here needs a running server: the unfinished methods are called against an address
where nothing listens, so once filled in they must answer with Dify's own errors.
"""

import pytest
from checks import drain, unfinished, unreachable
from dify_plugin.entities.model import ModelPropertyKey, ModelType
from dify_plugin.entities.model.message import SystemPromptMessage, UserPromptMessage
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeError

from models.llm.llm import {{ plan.class_name("llm") }}

MESSAGES = [SystemPromptMessage(content="Be brief."), UserPromptMessage(content="What is a plugin?")]


@pytest.fixture
def llm() -> {{ plan.class_name("llm") }}:
    return {{ plan.class_name("llm") }}(model_schemas=[])


def test_schema_describes_the_model_from_its_credentials(llm):
    schema = llm.get_customizable_model_schema("my-model", {"context_size": "2048", "mode": "chat"})

    assert schema is not None
    assert (schema.model, schema.model_type) == ("my-model", ModelType.LLM)
    assert schema.model_properties[ModelPropertyKey.MODE] == "chat"
    assert schema.model_properties[ModelPropertyKey.CONTEXT_SIZE] == 2048
    max_tokens = next(rule for rule in schema.parameter_rules if rule.name == "max_tokens")
    assert max_tokens.max <= 2048
    assert llm.get_customizable_model_schema("my-model", {}) is not None


def test_get_num_tokens_works_offline(llm):
    assert llm.get_num_tokens("my-model", unreachable("chat-model"), MESSAGES) > 0


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_invoke_reports_an_unreachable_server_as_a_dify_error(llm, stream):
    given = unreachable("chat-model")

    with unfinished(llm, "_invoke"), pytest.raises(InvokeError):
        drain(llm._invoke("my-model", given, MESSAGES, {"max_tokens": 16}, stream=stream))


def test_validate_credentials_rejects_an_unreachable_server(llm):
    with unfinished(llm, "validate_credentials"), pytest.raises(CredentialsValidateFailedError):
        llm.validate_credentials("my-model", unreachable("chat-model"))
