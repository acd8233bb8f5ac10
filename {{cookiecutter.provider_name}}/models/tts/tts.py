{% set plan = cookiecutter | plan %}
"""Text-to-speech models on the server's OpenAI-style `POST /v1/audio/speech`.

The audio is passed on to Dify as the server streams it. Connections, auth and errors live
in models/server/.
"""

from collections.abc import Generator, Iterator, Mapping

from dify_plugin import TTSModel
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey, ModelType

from models import features
from models.server.connection import Connection, model_uid
from models.server.errors import ErrorMapping
from models.server.probes import credential_check, validate_model
from models.server.transport import stream_bytes

SPEECH_PATH = "audio/speech"
AUDIO_TYPE = "mp3"
DEFAULT_VOICES = "alloy"
WORD_LIMIT = 3500  # characters per request; longer texts are split at sentence ends
MAX_WORKERS = 5
NOT_AUDIO = ("application/json", "text/")  # answers that are an error page, not audio


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
        """Return a generator of the audio (mp3) for `content_text`, in chunks as they arrive.

        A text longer than the word limit is sent in several requests, split at sentence ends.
        The first request is made before this returns, so a refused one raises here.
        """
        voice = voice or str(self._get_model_default_voice(model, credentials) or "")
        limit = self._get_model_word_limit(model, credentials) or WORD_LIMIT
        pieces = [piece for piece in self._split_text_into_sentences(content_text, limit) if piece.strip()]
        chunks = self._speak(Connection.of(credentials), model_uid(credentials, model), pieces, voice)
        first = next(chunks, b"")
        return prepend(first, chunks)

    def _speak(
        self, conn: Connection, uid: str, pieces: list[str], voice: str
    ) -> Generator[bytes, None, None]:
        """Yield the audio of each piece of text in turn, as the server streams it."""
        for piece in pieces:
            # ADAPT: this is the request the server receives. URLs, auth and errors: models/server/.
            payload = {"model": uid, "input": piece, "voice": voice, "response_format": AUDIO_TYPE}
            yield from stream_bytes(conn, SPEECH_PATH, payload, expected="audio", refused=NOT_AUDIO)

    def get_tts_model_voices(self, model: str, credentials: dict, language: str | None = None) -> list | None:
        """Return the voices as [{"name", "value"}]: those for `language`, or all if none is marked for it.

        Voices set in the credentials are not marked with languages, as servers do not say
        which languages a voice speaks.
        """
        voices = super().get_tts_model_voices(model, credentials, language)
        if language and not voices:
            voices = super().get_tts_model_voices(model, credentials)
        return voices

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError unless the server runs `model` as text to speech."""
        with credential_check(credentials) as conn:
            validate_model(conn, credentials, model_uid(credentials, model), "tts")

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema: its voices (the first is the default) and audio format."""
        voices = [name.strip() for name in str(credentials.get("voices") or "").split(",") if name.strip()]
        voices = voices or [DEFAULT_VOICES]
        return AIModelEntity(
            model=model,
            label=features.label(model, credentials),
            model_type=ModelType.TTS,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={
                ModelPropertyKey.DEFAULT_VOICE: voices[0],
                ModelPropertyKey.VOICES: [{"name": name, "mode": name, "language": []} for name in voices],
                ModelPropertyKey.AUDIO_TYPE: AUDIO_TYPE,
                ModelPropertyKey.WORD_LIMIT: WORD_LIMIT,
                ModelPropertyKey.MAX_WORKERS: MAX_WORKERS,
            },
        )


def prepend(first: bytes, rest: Iterator[bytes]) -> Generator[bytes, None, None]:
    """Yield `first` (unless empty), then everything in `rest`."""
    if first:
        yield first
    yield from rest
