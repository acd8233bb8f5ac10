{% set plan = cookiecutter | plan %}
"""Speech to text against the loopback server: the multipart upload, validation, errors.

Calls go through the public `invoke`, as Dify's executor makes them, so the SDK's own error
wrapping takes part.
"""

import io
from pathlib import Path
from typing import IO

import pytest
from checks import HTTP_ERRORS, error_answer, raises_dify_error, spoil_validation, unreachable_server
from conftest import API_KEY
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeConnectionError,
    InvokeServerUnavailableError,
)

from models.speech2text.speech2text import {{ plan.class_name("speech2text") }}

TRANSCRIPTIONS = "/v1/audio/transcriptions"
UID = "whisper"
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4  # stands in for a short recording


@pytest.fixture
def transcriber() -> {{ plan.class_name("speech2text") }}:
    return {{ plan.class_name("speech2text") }}(model_schemas=[])


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.wav"
    path.write_bytes(AUDIO)
    return path


def transcribe(
    transcriber: {{ plan.class_name("speech2text") }},
    credentials: dict,
    file: IO[bytes] | None = None,
) -> str:
    return transcriber.invoke(model=UID, credentials=credentials, file=file or io.BytesIO(AUDIO))


# -- answers --------------------------------------------------------------------------------


def test_speech2text_uploads_multipart(transcriber, server, credentials, clip):
    with clip.open("rb") as file:
        text = transcribe(transcriber, credentials(UID), file)

    [request] = server.requests(TRANSCRIPTIONS)
    assert request["content_type"].startswith("multipart/form-data; boundary=")
    assert request["form"] == {"model": UID, "file": f"clip.wav, {len(AUDIO)} bytes"}
    assert text == f"transcript of {request['size']} bytes"


def test_speech2text_gives_a_nameless_upload_a_file_name(transcriber, server, credentials):
    transcribe(transcriber, credentials(UID), io.BytesIO(AUDIO))

    [request] = server.requests(TRANSCRIPTIONS)
    assert request["form"]["file"] == f"audio.mp3, {len(AUDIO)} bytes"


def test_schema_is_never_none(transcriber):
    schema = transcriber.get_customizable_model_schema(UID, {})

    assert schema.model == UID
    assert schema.model_type.value == "speech2text"


# -- validation -----------------------------------------------------------------------------


def test_validation_accepts_a_speech_to_text_model(transcriber, credentials):
    transcriber.validate_credentials(UID, credentials(UID))


@pytest.mark.parametrize("case", ["unknown uid", "wrong model type", "wrong api key", "connection refused"])
def test_validation_failure_names_the_server_and_never_the_key(transcriber, server, credentials, case):
    given = credentials(UID, api_key=API_KEY)
    port = spoil_validation(case, server, given, other_type_uid="tts-model")  # audio too, but it speaks

    with raises_dify_error(CredentialsValidateFailedError, port):
        transcriber.validate_credentials(UID, given)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), HTTP_ERRORS)
def test_http_errors_map_to_difys_errors_by_cause(transcriber, server, credentials, status, expected):
    server.fault(TRANSCRIPTIONS, **error_answer(status))

    with raises_dify_error(expected, server.port, status):
        transcribe(transcriber, credentials(UID, api_key=API_KEY))


def test_connection_refused_is_a_connection_error(transcriber, credentials):
    url, port = unreachable_server()

    with raises_dify_error(InvokeConnectionError, port):
        transcribe(transcriber, credentials(UID, api_key=API_KEY, server_url=url))


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": "<html>busy</html>", "content_type": "text/html"},
        {"status": 200, "body": {"transcript": "hello"}},
        {"status": 200, "body": {"text": None}},
    ],
    ids=["non-json body", "no text", "text not a string"],
)
def test_malformed_answers_are_clear_dify_errors(transcriber, server, credentials, fault):
    server.fault(TRANSCRIPTIONS, **fault)

    with raises_dify_error(InvokeServerUnavailableError, server.port):
        transcribe(transcriber, credentials(UID, api_key=API_KEY))


# -- as Dify runs it ------------------------------------------------------------------------


def test_dify_validates_and_transcribes_over_stdio(plugin, server, credentials):
    results, error = plugin.call(
        "validate_model_credentials", model_type="speech2text", model=UID, credentials=credentials(UID)
    )
    assert error is None, error
    assert results[0]["result"] is True

    [result], error = plugin.call(
        "invoke_speech2text",
        model_type="speech2text",
        model=UID,
        credentials=results[0]["credentials"],
        file=AUDIO.hex(),  # Dify sends the audio hex-encoded
    )
    assert error is None, error
    [request] = server.requests(TRANSCRIPTIONS)
    assert result["result"] == f"transcript of {request['size']} bytes"
    assert request["form"]["model"] == UID
    assert request["form"]["file"].endswith(f", {len(AUDIO)} bytes")
