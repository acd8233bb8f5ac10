"""Validation as Dify runs it against real servers: the right model passes, anything else is refused."""

import json

import pytest

from real.conftest import key_refusal, validated
from real.gateway import ROUTES
from real.servers import TYPES

# Real servers: `tests/run.sh` runs these in one process, after the rest, so each starts once.
pytestmark = pytest.mark.real


@pytest.mark.parametrize("model_type", TYPES)
def test_each_model_validates_as_its_own_type(real_server, real_plugin, model_type):
    stored = validated(real_plugin, real_server, model_type)

    assert stored["model_uid"] == real_server.models[model_type]


@pytest.mark.parametrize(
    "model_type, other",
    [(asked, other) for asked in TYPES for other in TYPES if other != asked],
    ids=lambda value: value,
)
def test_a_model_of_another_type_is_refused_and_the_message_says_what_it_is(
    real_server, real_plugin, model_type, other
):
    credentials = real_server.credentials(other)  # that model's id and URL, saved as `model_type`

    results, error = real_plugin.call(
        "validate_model_credentials", model_type=model_type, model="saved-as-wrong-type", credentials=credentials
    )

    assert results == []
    assert error["error_type"] == "CredentialsValidateFailedError", error
    message = error["message"]
    assert real_server.models[other] in message, message
    assert real_server.address(other) in message, message
    assert f"not {article(model_type)} {model_type} model" in message, message
    assert f"is {article(other)} {other} model" in message, message
    assert real_server.api_key not in json.dumps(error)


@pytest.mark.parametrize("model_type", TYPES)
def test_an_unknown_model_is_refused_naming_it(real_server, real_plugin, model_type):
    credentials = real_server.credentials(model_type, model_uid="no-such-model")

    results, error = real_plugin.call(
        "validate_model_credentials", model_type=model_type, model="missing", credentials=credentials
    )

    assert error["error_type"] == "CredentialsValidateFailedError", error
    assert "no-such-model" in error["message"], error
    assert real_server.api_key not in json.dumps(error)


@pytest.mark.parametrize("model_type", TYPES)
def test_a_wrong_api_key_is_refused_without_showing_either_key(real_server, real_plugin, model_type):
    wrong = "sk-wrong-" + "9" * 20
    credentials = real_server.credentials(model_type, api_key=wrong)

    results, error = real_plugin.call(
        "validate_model_credentials", model_type=model_type, model="m", credentials=credentials
    )

    assert error["error_type"] == "CredentialsValidateFailedError", error
    assert str(key_refusal(real_server)) in error["message"], error
    assert wrong not in json.dumps(error) and real_server.api_key not in json.dumps(error)


@pytest.mark.gateway
def test_provider_credentials_are_checked_against_the_server(real_server, real_plugin):
    good = {"server_url": real_server.url, "api_key": real_server.api_key}
    results, error = real_plugin.call("validate_provider_credentials", credentials=good)
    assert error is None, error
    assert results[0]["result"] is True

    results, error = real_plugin.call("validate_provider_credentials", credentials={**good, "api_key": "sk-nope-1"})
    assert error["error_type"] == "CredentialsValidateFailedError", error
    assert str(key_refusal(real_server)) in error["message"] and "sk-nope-1" not in error["message"]


def test_the_gateway_is_recognised_and_what_it_says_of_the_chat_model_is_stored(gateway, real_plugin):
    """LiteLLM's GET /v1/model/info: the `model_info` its config gives each model (gateway.ROUTES)."""
    said = ROUTES["llm"][2]

    stored = validated(real_plugin, gateway, "llm")

    assert stored["server_family"] == "LiteLLM"
    assert stored["context_size"] == str(said["max_input_tokens"])
    assert stored["max_tokens"] == str(said["max_output_tokens"])
    assert stored["structured_output"] == "yes" and said["supports_response_schema"] is True


def article(model_type: str) -> str:
    return "an" if model_type == "llm" else "a"
