{% set plan = cookiecutter | plan %}
from collections.abc import Generator

from dify_plugin import TTSModel
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey, ModelType

from models.server.errors import ErrorMapping, not_implemented


class {{ plan.class_name("tts") }}(ErrorMapping, TTSModel):
    """Text-to-speech models served by the {{ plan.provider }} server."""

    def _invoke(
        self,
        model: str,
        tenant_id: str,
        credentials: dict,
        content_text: str,
        voice: str,
        user: str | None = None,
    ) -> bytes | Generator[bytes, None, None]:
        """Return the audio for `content_text`, whole or as a generator of chunks."""
        # TODO: call your server here.
        raise not_implemented("_invoke", __file__)

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError if the server rejects these credentials."""
        # TODO: make a cheap real request to your server here.
        raise not_implemented("validate_credentials", __file__)

    def get_customizable_model_schema(self, model: str, credentials: dict) -> AIModelEntity:
        """Describe the model the user added, including the voices it offers."""
        voices = [v.strip() for v in str(credentials.get("voices") or "alloy").split(",") if v.strip()]
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=credentials.get("display_name") or model),
            model_type=ModelType.TTS,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={
                ModelPropertyKey.DEFAULT_VOICE: voices[0],
                ModelPropertyKey.VOICES: [{"name": v, "mode": v, "language": ["en-US"]} for v in voices],
                ModelPropertyKey.AUDIO_TYPE: "mp3",
                ModelPropertyKey.WORD_LIMIT: 3500,
                ModelPropertyKey.MAX_WORKERS: 5,
            },
        )
