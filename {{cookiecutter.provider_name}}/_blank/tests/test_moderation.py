{% set plan = cookiecutter | plan %}
"""What the moderation model does already, and what is left to fill in (reported as xfail until done).

Nothing here needs a running server: the unfinished methods are called as Dify calls them,
against an address where nothing listens, so once filled in they must answer with Dify's
own errors.
"""

import pytest
from checks import INVOKE_ERROR_KINDS, unfinished, unreachable
from dify_plugin.entities.model import ModelType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeConnectionError

from models.moderation.moderation import {{ plan.class_name("moderation") }}


@pytest.fixture
def moderator() -> {{ plan.class_name("moderation") }}:
    return {{ plan.class_name("moderation") }}(model_schemas=[])


def test_error_mapping_covers_every_kind_of_dify_error(moderator):
    assert INVOKE_ERROR_KINDS <= set(moderator._invoke_error_mapping)


def test_schema_describes_the_model(moderator):
    schema = moderator.get_customizable_model_schema("my-model", {})

    assert schema is not None
    assert (schema.model, schema.model_type) == ("my-model", ModelType.MODERATION)


def test_invoke_reports_an_unreachable_server_as_a_connection_error(moderator):
    with unfinished(moderator, "_invoke"), pytest.raises(InvokeConnectionError):
        moderator.invoke("my-model", unreachable(), "What a lovely day.")


def test_validate_credentials_rejects_an_unreachable_server(moderator):
    with unfinished(moderator, "validate_credentials"), pytest.raises(CredentialsValidateFailedError):
        moderator.validate_credentials("my-model", unreachable())
