{% set plan = cookiecutter | plan %}
"""Text to speech against the loopback server: streamed audio, voices, long texts, validation, errors.

Calls go through the public `invoke`, as Dify's executor makes them, so the SDK's own error
wrapping takes part, also while the audio streams.
"""

import types
from collections.abc import Generator

import pytest
from checks import HTTP_ERRORS, error_answer, raises_dify_error, spoil_validation, unreachable_server
from conftest import API_KEY
from dify_plugin.entities.model import ModelPropertyKey
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeConnectionError,
    InvokeServerUnavailableError,
)

from models.tts.tts import {{ plan.class_name("tts") }}

SPEECH = "/v1/audio/speech"
UID = "tts-model"
VOICES = "alloy, echo ,nova"


@pytest.fixture
def speaker() -> {{ plan.class_name("tts") }}:
    return {{ plan.class_name("tts") }}(model_schemas=[])


def speak(
    speaker: {{ plan.class_name("tts") }},
    credentials: dict,
    text: str = "Hello.",
    voice: str = "echo",
) -> Generator[bytes, None, None]:
    """The generator `invoke` returns."""
    return speaker.invoke(
        model=UID, tenant_id="tenant-1", credentials=credentials, content_text=text, voice=voice
    )


def audio_for(text: str, voice: str) -> bytes:
    """What the fake server answers for one request."""
    return b"ID3" + text.encode() * 3 + voice.encode()


# -- answers --------------------------------------------------------------------------------


def test_tts_streams_audio_bytes(speaker, server, credentials):
    audio = speak(speaker, credentials(UID, voices=VOICES), "Hello there.", "echo")

    assert isinstance(audio, types.GeneratorType)
    chunks = list(audio)
    assert len(chunks) > 1  # passed on as the server streams it, not gathered first
    assert b"".join(chunks) == audio_for("Hello there.", "echo")
    [request] = server.requests(SPEECH)
    assert request["json"] == {
        "model": UID,
        "input": "Hello there.",
        "voice": "echo",
        "response_format": "mp3",
    }


def test_tts_uses_the_default_voice_when_none_is_chosen(speaker, server, credentials):
    audio = b"".join(speak(speaker, credentials(UID, voices=VOICES), "Hi.", voice=""))

    assert audio == audio_for("Hi.", "alloy")


def test_tts_sends_a_long_text_in_pieces_split_at_sentence_ends(speaker, server, credentials):
    text = "This sentence is forty characters long. " * 100  # 4000 characters

    audio = b"".join(speak(speaker, credentials(UID), text))

    pieces = [r["json"]["input"] for r in server.requests(SPEECH)]
    assert len(pieces) == 2
    assert "".join(pieces) == text
    assert all(len(piece) <= 3500 and piece.rstrip().endswith(".") for piece in pieces)
    assert audio == b"".join(audio_for(piece, "echo") for piece in pieces)


def test_tts_lists_voices(speaker, credentials):
    given = credentials(UID, voices=VOICES)
    expected = [{"name": v, "value": v} for v in ("alloy", "echo", "nova")]

    schema = speaker.get_customizable_model_schema(UID, given)

    assert schema.model_properties[ModelPropertyKey.DEFAULT_VOICE] == "alloy"
    assert schema.model_properties[ModelPropertyKey.AUDIO_TYPE] == "mp3"
    assert speaker.get_tts_model_voices(UID, given) == expected
    assert speaker.get_tts_model_voices(UID, given, language="zh-Hans") == expected
    assert speaker.get_tts_model_mime_type(UID, given) == "audio/mpeg"


def test_tts_schema_has_a_voice_when_none_is_configured(speaker):
    schema = speaker.get_customizable_model_schema(UID, {"voices": " , "})

    assert schema.model_properties[ModelPropertyKey.DEFAULT_VOICE] == "alloy"


# -- validation -----------------------------------------------------------------------------


def test_validation_accepts_a_text_to_speech_model(speaker, credentials):
    speaker.validate_credentials(UID, credentials(UID))


@pytest.mark.parametrize("case", ["unknown uid", "wrong model type", "wrong api key", "connection refused"])
def test_validation_failure_names_the_server_and_never_the_key(speaker, server, credentials, case):
    given = credentials(UID, api_key=API_KEY)
    port = spoil_validation(case, server, given, other_type_uid="whisper")  # audio too, but it listens

    with raises_dify_error(CredentialsValidateFailedError, port):
        speaker.validate_credentials(UID, given)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), HTTP_ERRORS)
def test_http_errors_map_to_difys_errors_by_cause(speaker, server, credentials, status, expected):
    server.fault(SPEECH, **error_answer(status))

    with raises_dify_error(expected, server.port, status):
        speak(speaker, credentials(UID, api_key=API_KEY))  # raises before any audio is read


def test_connection_refused_is_a_connection_error(speaker, credentials):
    url, port = unreachable_server()

    with raises_dify_error(InvokeConnectionError, port):
        speak(speaker, credentials(UID, api_key=API_KEY, server_url=url))


def test_a_stream_cut_midway_is_a_connection_error_after_the_audio_so_far(speaker, server, credentials):
    server.fault(SPEECH, cut_after=2)
    audio = speak(speaker, credentials(UID, api_key=API_KEY), "A sentence long enough for several chunks.")
    received = []

    with raises_dify_error(InvokeConnectionError, server.port):
        for chunk in audio:
            received.append(chunk)

    assert b"".join(received).startswith(b"ID3")


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": "<html>busy</html>", "content_type": "text/html"},
        {"status": 200, "body": {"error": "model is loading"}},
    ],
    ids=["html page", "json instead of audio"],
)
def test_an_answer_that_is_not_audio_is_a_clear_dify_error(speaker, server, credentials, fault):
    server.fault(SPEECH, **fault)

    with raises_dify_error(InvokeServerUnavailableError, server.port) as caught:
        speak(speaker, credentials(UID, api_key=API_KEY))

    assert "instead of audio" in str(caught.value)


# -- as Dify runs it ------------------------------------------------------------------------


def test_dify_validates_lists_voices_and_streams_speech_over_stdio(plugin, server, credentials):
    results, error = plugin.call(
        "validate_model_credentials", model_type="tts", model=UID, credentials=credentials(UID, voices=VOICES)
    )
    assert error is None, error
    assert results[0]["result"] is True
    stored = results[0]["credentials"]

    [voices], error = plugin.call(
        "get_tts_model_voices", model_type="tts", model=UID, credentials=stored, language="en-US"
    )
    assert error is None, error
    assert [voice["value"] for voice in voices["voices"]] == ["alloy", "echo", "nova"]

    chunks, error = plugin.call(
        "invoke_tts",
        model_type="tts",
        model=UID,
        credentials=stored,
        content_text="Streamed over stdio.",
        voice="nova",
        tenant_id="tenant-1",
    )
    assert error is None, error
    assert len(chunks) > 1
    assert {chunk["mime_type"] for chunk in chunks} == {"audio/mpeg"}
    assert b"".join(bytes.fromhex(chunk["result"]) for chunk in chunks) == audio_for(
        "Streamed over stdio.", "nova"
    )
