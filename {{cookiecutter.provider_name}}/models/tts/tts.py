{% set plan = cookiecutter | plan %}
"""Text-to-speech models on the server's OpenAI-style `POST /v1/audio/speech`.

A text is sent in pieces of at most `chars_per_request` characters, split at sentence ends, one
request after the other, each within request_timeout: a CPU server (Piper, Kokoro) answers a few
hundred characters in seconds, and several thousand in minutes. The audio is passed on to Dify as
the server streams it, as mp3, or wav from a server that cannot make mp3 (without ffmpeg).
Connections, auth and errors live in models/server/.
"""

import re
from collections.abc import Generator, Iterator, Mapping

from dify_plugin import TTSModel
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey, ModelType
from dify_plugin.errors.model import InvokeBadRequestError, InvokeError

from models import features
from models.server.connection import Connection, model_uid, positive_int, refused
from models.server.errors import ErrorMapping
from models.server.probes import credential_check, validate_model
from models.server.transport import stream_bytes
from models.server.vocabulary import Fault

SPEECH_PATH = "audio/speech"
DEFAULT_VOICES = "alloy"
DEFAULT_PIECE_CHARS = 3500
# The most characters one request may carry: OpenAI's /v1/audio/speech takes at most 4096 of
# input (its API reference), and the servers that copy the API keep that limit.
MAX_PIECE_CHARS = 4096
AUDIO_FORMATS = ("mp3", "wav")  # the `audio_format` answer; the SDK names their MIME types
# How a server without ffmpeg answers a request for mp3: one of these statuses, naming the format.
FORMAT_REFUSALS = frozenset({400, 415, 422})
FORMAT_WORDS = re.compile(r"mp3|format|ffmpeg", re.IGNORECASE)
REFUSED_MP3 = "response_format=mp3"  # remembered per connection and model, as a refused field is
MAX_WORKERS = 5
NOT_AUDIO = ("application/json", "text/")  # answers that are an error page, not audio
CHECK_TEXT = "Hi."


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
        """Return a generator of the audio for `content_text`, in chunks as they arrive.

        A text longer than `chars_per_request` is sent in several requests, split at sentence
        ends. The first request is made before this returns, so a refused one raises here; a
        server that refuses mp3 gets the request once more for wav, which is remembered.
        """
        conn, uid = Connection.of(credentials), model_uid(credentials, model)
        voice = voice or str(self._get_model_default_voice(model, credentials) or "")
        limit = piece_chars(credentials)
        pieces = [piece for piece in self._split_text_into_sentences(content_text, limit) if piece.strip()]
        audio_format = spoken_format(conn, uid, credentials)
        chunks = self._speak(conn, uid, pieces, voice, audio_format)
        try:
            first = next(chunks, b"")
        except InvokeBadRequestError as error:
            if not refuses_mp3(error, audio_format):
                raise
            chunks = self._speak(conn, uid, pieces, voice, "wav")
            first = next(chunks, b"")  # raised as it is if wav fails too
            features.remember_refusal(conn, uid, REFUSED_MP3)
        return prepend(first, chunks)

    def _speak(
        self, conn: Connection, uid: str, pieces: list[str], voice: str, audio_format: str
    ) -> Generator[bytes, None, None]:
        """Yield the audio of each piece of text in turn, as the server streams it; each piece
        within request_timeout."""
        for piece in pieces:
            # ADAPT: this is the request the server receives. URLs, auth and errors: models/server/.
            payload = {"model": uid, "input": piece, "voice": voice, "response_format": audio_format}
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
        """Raise CredentialsValidateFailedError unless the server runs `model` as text to speech
        and speaks a word in the chosen audio format; one that refuses mp3 but makes wav is
        stored as `audio_format` wav in `credentials`, which Dify keeps."""
        uid = model_uid(credentials, model)
        with credential_check(credentials) as conn:  # all requests together within request_timeout
            if credentials.get("chars_per_request") not in (None, ""):
                within_pieces(credentials.get("chars_per_request"))
            audio_format = format_answer(credentials)
            validate_model(conn, credentials, uid, "tts")
            voice = self._voices(credentials)[0]
            try:
                b"".join(self._speak(conn, uid, [CHECK_TEXT], voice, audio_format))
            except InvokeBadRequestError as error:
                if not refuses_mp3(error, audio_format):
                    raise
                b"".join(self._speak(conn, uid, [CHECK_TEXT], voice, "wav"))
                credentials["audio_format"] = "wav"

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema: its voices (the first is the default), audio format and
        characters per request."""
        voices = self._voices(credentials)
        try:
            conn = Connection.of(credentials)
            audio_format = spoken_format(conn, model_uid(credentials, model), credentials)
        except InvokeError:
            audio_format = "mp3"  # credentials no call could use: what the form offers first
        return AIModelEntity(
            model=model,
            label=features.label(model, credentials),
            model_type=ModelType.TTS,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={
                ModelPropertyKey.DEFAULT_VOICE: voices[0],
                ModelPropertyKey.VOICES: [{"name": name, "mode": name, "language": []} for name in voices],
                ModelPropertyKey.AUDIO_TYPE: audio_format,
                ModelPropertyKey.WORD_LIMIT: piece_chars(credentials),
                ModelPropertyKey.MAX_WORKERS: MAX_WORKERS,
            },
        )

    def _voices(self, credentials: Mapping) -> list[str]:
        """The `voices` answer as a list (the first is the default), never empty."""
        voices = [name.strip() for name in str(credentials.get("voices") or "").split(",") if name.strip()]
        return voices or [DEFAULT_VOICES]


def piece_chars(credentials: Mapping) -> int:
    """The `chars_per_request` answer, kept within 1 to MAX_PIECE_CHARS."""
    return min(positive_int(credentials.get("chars_per_request"), DEFAULT_PIECE_CHARS), MAX_PIECE_CHARS)


def within_pieces(value: object) -> None:
    """Raise InvokeBadRequestError unless `value` is a whole number from 1 to MAX_PIECE_CHARS."""
    text = str(value).strip()
    if not (text.isdigit() and 1 <= int(text) <= MAX_PIECE_CHARS):
        raise refused("chars_per_request", f"must be a whole number from 1 to {MAX_PIECE_CHARS}")


def format_answer(credentials: Mapping) -> str:
    """The `audio_format` answer: mp3 unless given, else one of AUDIO_FORMATS."""
    audio_format = str(credentials.get("audio_format") or "mp3").strip().lower()
    if audio_format not in AUDIO_FORMATS:
        raise refused("audio_format", f"must be one of {', '.join(AUDIO_FORMATS)}")
    return audio_format


def spoken_format(conn: Connection, uid: str, credentials: Mapping) -> str:
    """The audio format to ask for: the `audio_format` answer, unless the server refused mp3."""
    audio_format = format_answer(credentials)
    return "wav" if audio_format == "mp3" and REFUSED_MP3 in features.refused(conn, uid) else audio_format


def refuses_mp3(error: InvokeBadRequestError, audio_format: str) -> bool:
    """Whether `error` is a server refusing a request for mp3 (as one without ffmpeg does)."""
    fault = Fault.of(error)
    refusal = fault is not None and fault.status in FORMAT_REFUSALS
    return audio_format == "mp3" and refusal and bool(FORMAT_WORDS.search(str(error)))


def prepend(first: bytes, rest: Iterator[bytes]) -> Generator[bytes, None, None]:
    """Yield `first` (unless empty), then everything in `rest`."""
    if first:
        yield first
    yield from rest
