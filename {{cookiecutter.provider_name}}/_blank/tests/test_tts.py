{% set plan = cookiecutter | plan %}
"""What the text-to-speech model does already, and what is left to fill in (reported as xfail until done).

Nothing here needs a running server: the unfinished methods are called as Dify calls them,
against an address where nothing listens, so once filled in they must answer with Dify's
own errors.
"""

import pytest
from checks import INVOKE_ERROR_KINDS, drain, unfinished, unreachable
from dify_plugin.entities.model import ModelPropertyKey, ModelType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeConnectionError

from models.tts.tts import {{ plan.class_name("tts") }}


@pytest.fixture
def speaker() -> {{ plan.class_name("tts") }}:
    return {{ plan.class_name("tts") }}(model_schemas=[])


def test_error_mapping_covers_every_kind_of_dify_error(speaker):
    assert INVOKE_ERROR_KINDS <= set(speaker._invoke_error_mapping)


def test_schema_describes_the_model_and_its_voices(speaker):
    schema = speaker.get_customizable_model_schema("my-model", {"voices": "alloy,echo"})

    assert schema is not None
    assert (schema.model, schema.model_type) == ("my-model", ModelType.TTS)
    assert schema.model_properties[ModelPropertyKey.DEFAULT_VOICE] == "alloy"
    assert speaker.get_tts_model_voices("my-model", {"voices": "alloy,echo"}) == [
        {"name": "alloy", "value": "alloy"},
        {"name": "echo", "value": "echo"},
    ]


def test_invoke_reports_an_unreachable_server_as_a_connection_error(speaker):
    with unfinished(speaker, "_invoke"), pytest.raises(InvokeConnectionError):
        drain(speaker.invoke("my-model", "tenant", unreachable(), "Hello there.", "alloy"))


def test_validate_credentials_rejects_an_unreachable_server(speaker):
    with unfinished(speaker, "validate_credentials"), pytest.raises(CredentialsValidateFailedError):
        speaker.validate_credentials("my-model", unreachable())
