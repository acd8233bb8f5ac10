{% set plan = cookiecutter | plan %}
"""What the speech-to-text model does already, and what is left to fill in (reported as xfail until done).

Nothing here needs a running server: the unfinished methods are called as Dify calls them,
against an address where nothing listens, so once filled in they must answer with Dify's
own errors.
"""

import io

import pytest
from checks import INVOKE_ERROR_KINDS, unfinished, unreachable
from dify_plugin.entities.model import ModelType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeConnectionError

from models.speech2text.speech2text import {{ plan.class_name("speech2text") }}

AUDIO = b"ID3" + bytes(512)  # stands in for a short recording


@pytest.fixture
def transcriber() -> {{ plan.class_name("speech2text") }}:
    return {{ plan.class_name("speech2text") }}(model_schemas=[])


def test_error_mapping_covers_every_kind_of_dify_error(transcriber):
    assert INVOKE_ERROR_KINDS <= set(transcriber._invoke_error_mapping)


def test_schema_describes_the_model(transcriber):
    schema = transcriber.get_customizable_model_schema("my-model", {})

    assert schema is not None
    assert (schema.model, schema.model_type) == ("my-model", ModelType.SPEECH2TEXT)


def test_invoke_reports_an_unreachable_server_as_a_connection_error(transcriber):
    with unfinished(transcriber, "_invoke"), pytest.raises(InvokeConnectionError):
        transcriber.invoke("my-model", unreachable(), io.BytesIO(AUDIO))


def test_validate_credentials_rejects_an_unreachable_server(transcriber):
    with unfinished(transcriber, "validate_credentials"), pytest.raises(CredentialsValidateFailedError):
        transcriber.validate_credentials("my-model", unreachable())
