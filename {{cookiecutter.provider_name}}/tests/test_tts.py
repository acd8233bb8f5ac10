{% set plan = cookiecutter | plan %}
"""Text to speech against the loopback server: streamed audio, voices, long texts, validation, errors.

Calls go through the public `invoke`, as Dify's executor makes them, so the SDK's own error
wrapping takes part, also while the audio streams.
"""

import types
from collections.abc import Generator

import pytest
from checks import HTTP_ERRORS, bounded, error_answer, raises_dify_error, spoil_validation, unreachable_server
from conftest import API_KEY
from dify_plugin.entities.model import ModelPropertyKey
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeServerUnavailableError,
)

from models import features
from models.server import limits
from models.server.memory import Memory
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


def test_tts_sends_pieces_of_the_size_the_form_gives(speaker, server, credentials):
    text = "This sentence is forty characters long. " * 10  # 400 characters
    given = credentials(UID, chars_per_request="100")

    b"".join(speak(speaker, given, text))

    pieces = [r["json"]["input"] for r in server.requests(SPEECH)]
    assert len(pieces) == 5 and all(len(piece) <= 100 for piece in pieces)  # two sentences of 40 each
    assert "".join(pieces) == text
    schema = speaker.get_customizable_model_schema(UID, given)
    assert schema.model_properties[ModelPropertyKey.WORD_LIMIT] == 100


def test_each_piece_has_request_timeout_to_itself(speaker, server, credentials, short_timeouts):
    """Three pieces of 0.3 s each take longer than request_timeout (0.5 s) together, and pass; one
    piece slower than that is cut off, naming the limit."""
    text = "One sentence here. Another one here. A third one here."
    given = credentials(UID, request_timeout="0.5", chars_per_request="20")
    server.fault(SPEECH, delay=0.3, times=3)

    with bounded(10):
        audio = b"".join(speak(speaker, given, text))

    assert len(server.requests(SPEECH)) == 3 and audio.startswith(b"ID3")
    server.fault(SPEECH, delay=2)
    with raises_dify_error(InvokeConnectionError, server.port) as caught, bounded(10):
        b"".join(speak(speaker, given, text))
    assert "did not complete within request_timeout = 0.5 s" in str(caught.value)


def test_a_piece_takes_4096_characters_at_most(speaker, server, credentials):
    """4096: OpenAI's /v1/audio/speech takes at most 4096 characters of input (its API reference),
    and the servers that copy the API keep that limit."""
    text = "x" * 5000  # no sentence end: cut at the limit

    b"".join(speak(speaker, credentials(UID, chars_per_request="9999"), text))
    speaker.validate_credentials(UID, credentials(UID, chars_per_request="4096"))
    with pytest.raises(CredentialsValidateFailedError) as caught:
        speaker.validate_credentials(UID, credentials(UID, chars_per_request="4097"))

    assert [len(r["json"]["input"]) for r in server.requests(SPEECH)][:2] == [4096, 904]
    assert str(caught.value) == "chars_per_request must be a whole number from 1 to 4096"


@pytest.fixture
def no_refusals_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that has not yet seen a server refuse mp3 (the memory is per process)."""
    fresh = Memory(limits.REMEMBERED_CONNECTIONS, limits.REFUSAL_MEMORY)
    monkeypatch.setattr(features, "REFUSALS", fresh)


def test_a_server_that_refuses_mp3_is_saved_as_wav(speaker, server, credentials, no_refusals_remembered):
    server.control("features", {"no_mp3": True})
    given = credentials(UID)

    speaker.validate_credentials(UID, given)

    assert given["audio_format"] == "wav"
    asked = [r["json"]["response_format"] for r in server.requests(SPEECH)]
    assert asked == ["mp3", "wav"]
    assert speaker.get_tts_model_mime_type(UID, given) == "audio/wav"


def test_a_400_to_mp3_leads_to_wav_once_and_is_remembered(
    speaker, server, credentials, no_refusals_remembered
):
    server.control("features", {"no_mp3": True})
    given = credentials(UID)  # saved before the server lost mp3: no audio_format answer

    first = b"".join(speak(speaker, given, "Hello."))
    second = b"".join(speak(speaker, given, "Hello."))

    assert first.startswith(b"RIFF") and second.startswith(b"RIFF")
    assert [r["json"]["response_format"] for r in server.requests(SPEECH)] == ["mp3", "wav", "wav"]
    schema = speaker.get_customizable_model_schema(UID, given)
    assert schema.model_properties[ModelPropertyKey.AUDIO_TYPE] == "wav"


def test_a_400_that_is_not_about_the_format_is_raised_and_not_retried(
    speaker, server, credentials, no_refusals_remembered
):
    server.fault(SPEECH, status=400, body={"detail": "voice 'echo' not found"})

    with raises_dify_error(InvokeBadRequestError, server.port, 400):
        speak(speaker, credentials(UID))

    assert [r["json"]["response_format"] for r in server.requests(SPEECH)] == ["mp3"]


def test_the_audio_format_comes_from_the_form(speaker, server, credentials):
    audio = b"".join(speak(speaker, credentials(UID, audio_format="wav"), "Hello."))

    assert audio.startswith(b"RIFF")
    assert server.requests(SPEECH)[0]["json"]["response_format"] == "wav"
    with pytest.raises(CredentialsValidateFailedError) as caught:
        speaker.validate_credentials(UID, credentials(UID, audio_format="ogg"))
    assert str(caught.value) == "audio_format must be one of mp3, wav"


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
