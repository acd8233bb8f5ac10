{% set plan = cookiecutter | plan %}
"""Speech-to-text models on the server's OpenAI-style `POST /v1/audio/transcriptions`.

Connections, auth and errors live in models/server/.
"""

import mimetypes
import os
from collections.abc import Mapping
from typing import IO

from dify_plugin import Speech2TextModel
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelType
from dify_plugin.errors.model import InvokeServerUnavailableError

from models import features
from models.server.connection import Connection, model_uid
from models.server.errors import ErrorMapping, excerpt
from models.server.probes import credential_check, validate_model
from models.server.transport import json_object, request

TRANSCRIPTIONS_PATH = "audio/transcriptions"
FALLBACK_FILENAME = "audio.mp3"  # for file objects without a name; servers read the format from it


class {{ plan.class_name("speech2text") }}(ErrorMapping, Speech2TextModel):
    """Speech-to-text models served by the {{ plan.provider }} server."""

    def _invoke(self, model: str, credentials: dict, file: IO[bytes], user: str | None = None) -> str:
        """Return the transcript of the audio in `file`, uploaded as a multipart form."""
        name = getattr(file, "name", None)
        filename = os.path.basename(name) if isinstance(name, str) and name else FALLBACK_FILENAME
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        # ADAPT: this is the form the server receives and the answer read back. URLs, auth
        # and errors: models/server/.
        answer = request(
            Connection.of(credentials),
            "POST",
            TRANSCRIPTIONS_PATH,
            data={"model": model_uid(credentials, model), **transcription_hints(credentials)},
            files={"file": (filename, file, content_type)},
        )
        body = json_object(answer)
        text = body.get("text")
        if not isinstance(text, str):
            raise InvokeServerUnavailableError(f"{answer.url} answered without a transcript: {excerpt(body)}")
        return text

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError unless the server runs `model` as speech to text."""
        with credential_check(credentials) as conn:
            validate_model(conn, credentials, model_uid(credentials, model), "speech2text")

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema; a speech-to-text model has no properties to declare."""
        return AIModelEntity(
            model=model,
            label=features.label(model, credentials),
            model_type=ModelType.SPEECH2TEXT,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={},
        )


def transcription_hints(credentials: Mapping) -> dict[str, str]:
    """The `language` (e.g. "en"; the server detects it when empty) and `prompt` (words to
    expect, e.g. names) form fields, from the answers of the same names."""
    hints = {"language": credentials.get("language"), "prompt": credentials.get("initial_prompt")}
    return {name: str(value).strip() for name, value in hints.items() if str(value or "").strip()}
