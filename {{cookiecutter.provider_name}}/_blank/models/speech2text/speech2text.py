{% set plan = cookiecutter | plan %}
from typing import IO

from dify_plugin import Speech2TextModel
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelType

from models.server.errors import ErrorMapping, not_implemented


class {{ plan.class_name("speech2text") }}(ErrorMapping, Speech2TextModel):
    """Speech-to-text models served by the {{ plan.provider }} server."""

    def _invoke(self, model: str, credentials: dict, file: IO[bytes], user: str | None = None) -> str:
        """Return the transcript of the audio in `file`."""
        # TODO: call your server here.
        raise not_implemented("_invoke", __file__)

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError if the server rejects these credentials."""
        # TODO: make a cheap real request to your server here.
        raise not_implemented("validate_credentials", __file__)

    def get_customizable_model_schema(self, model: str, credentials: dict) -> AIModelEntity:
        """Describe the model the user added."""
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=credentials.get("display_name") or model),
            model_type=ModelType.SPEECH2TEXT,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={},
        )
