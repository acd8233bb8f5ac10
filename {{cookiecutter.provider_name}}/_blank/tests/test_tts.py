{% set plan = cookiecutter | plan %}
"""What the text-to-speech model does already, and what is left to fill in (reported as xfail until done).

Nothing here needs a running server: the unfinished methods are called as Dify calls them,
against an address where nothing listens, so once filled in they must answer with Dify's
own errors.
"""

import socket

import pytest
from dify_plugin.entities.model import ModelPropertyKey, ModelType
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from models.tts.tts import {{ plan.class_name("tts") }}

SOURCE = "models/tts/tts.py"


@pytest.fixture
def speaker() -> {{ plan.class_name("tts") }}:
    return {{ plan.class_name("tts") }}(model_schemas=[])


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


def test_error_mapping_covers_every_kind_of_dify_error(speaker):
    kinds = {
        InvokeAuthorizationError,
        InvokeBadRequestError,
        InvokeConnectionError,
        InvokeRateLimitError,
        InvokeServerUnavailableError,
    }

    assert kinds <= set(speaker._invoke_error_mapping)


def test_schema_describes_the_model_and_its_voices(speaker):
    schema = speaker.get_customizable_model_schema("my-model", {"voices": "alloy,echo"})

    assert schema is not None
    assert (schema.model, schema.model_type) == ("my-model", ModelType.TTS)
    assert schema.model_properties[ModelPropertyKey.DEFAULT_VOICE] == "alloy"
    assert speaker.get_tts_model_voices("my-model", {"voices": "alloy,echo"}) == [
        {"name": "alloy", "value": "alloy"},
        {"name": "echo", "value": "echo"},
    ]


def test_invoke_reports_an_unreachable_server_as_a_connection_error(speaker, unreachable):
    with pytest.raises(InvokeError) as caught:
        audio = speaker.invoke("my-model", "tenant", unreachable, "Hello there.", "alloy")
        if not isinstance(audio, bytes):
            list(audio)
    if isinstance(caught.value.__cause__, NotImplementedError):
        pytest.xfail(f"_invoke is not implemented yet: fill it in {SOURCE}")
    assert isinstance(caught.value, InvokeConnectionError), repr(caught.value)


def test_validate_credentials_rejects_an_unreachable_server(speaker, unreachable):
    try:
        with pytest.raises(CredentialsValidateFailedError):
            speaker.validate_credentials("my-model", unreachable)
    except NotImplementedError:
        pytest.xfail(f"validate_credentials is not implemented yet: fill it in {SOURCE}")
