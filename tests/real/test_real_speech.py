"""Speech to text and text to speech as Dify runs them, against real speech servers: faster-whisper-server
(Whisper tiny.en), a Piper server (local-tts-studio) with and without an ffmpeg, and both through
LiteLLM's gateway (tests/real/speech.py, gateway.py). The plugin is baked with speech2text and tts.

What is spoken is real speech: Piper's voice saying SENTENCE. What the plugin's text to speech
returns is checked by giving it to Whisper; what its speech to text returns, by the words in it.
"""

import json
import re

import pytest

from real import speech
from real.conftest import validated

# Real servers: `tests/run.sh` runs these in one process, after the rest, so each starts once.
pytestmark = pytest.mark.real

SENTENCE = "The quick brown fox jumps over the lazy dog."
WORDS = {"quick", "brown", "fox", "jumps", "lazy", "dog"}
STT = {"faster-whisper-server": "whisper"}  # parameter -> fixture
TTS = {"piper-ffmpeg": "piper_ffmpeg", "piper": "piper"}
# ...and the (text to speech, speech to text) fixtures of the last test: the gateway's cases are
# that test and a wrong key (what its speech calls prove beyond its backends')
BOTH_WAYS = {"faster-whisper-server": ("piper_ffmpeg", "whisper"), "gateway": ("gateway", "gateway")}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture(scope="module", params=list(STT))
def stt_server(request):
    return request.getfixturevalue(STT[request.param])


@pytest.fixture(scope="module", params=list(TTS))
def tts_server(request):
    return request.getfixturevalue(TTS[request.param])


@pytest.fixture(scope="module")
def spoken(piper) -> bytes:
    """SENTENCE spoken by Piper, as the WAV the server makes by itself (no plugin involved)."""
    status, content_type, audio = speech.speak(piper, SENTENCE, "wav")
    assert status == 200 and content_type == "audio/wav", (status, audio[:300])
    return audio


def transcribe(plugin, credentials, audio: bytes):
    return plugin.call(
        "invoke_speech2text",
        model_type="speech2text",
        model="speech2text-model",
        credentials=credentials,
        file=audio.hex(),  # Dify sends the audio hex-encoded
    )


def speak(plugin, credentials, text: str = SENTENCE):
    return plugin.call(
        "invoke_tts",
        model_type="tts",
        model="tts-model",
        credentials=credentials,
        content_text=text,
        voice="",  # the model's default voice, as Dify sends when none was picked
        tenant_id="real-tier",
    )


# --- speech to text ---------------------------------------------------------------------------


def test_a_speech_to_text_model_validates(stt_server, real_speech_plugin):
    stored = validated(real_speech_plugin, stt_server, "speech2text")

    assert stored["model_uid"] == stt_server.models["speech2text"]


def test_real_speech_is_transcribed_word_for_word(stt_server, real_speech_plugin, spoken):
    results, error = transcribe(real_speech_plugin, stt_server.credentials("speech2text"), spoken)

    assert error is None, error
    [result] = results
    assert WORDS <= words(result["result"]), result


def test_a_wrong_key_is_refused_for_speech_to_text_without_showing_it(gateway, real_speech_plugin, spoken):
    """Through the gateway: faster-whisper-server has no API key and answers any key."""
    wrong = gateway.credentials("speech2text", api_key="sk-wrong-key-123456")

    results, error = transcribe(real_speech_plugin, wrong, spoken)

    assert results == []
    assert error["error_type"] == "InvokeAuthorizationError", error
    assert "sk-wrong-key-123456" not in json.dumps(error) and gateway.api_key not in json.dumps(error)


# --- text to speech ---------------------------------------------------------------------------


def test_a_text_to_speech_model_validates(tts_server, real_speech_plugin):
    stored = validated(real_speech_plugin, tts_server, "tts")

    assert stored["model_uid"] == tts_server.models["tts"]


def test_the_speech_made_is_audio_whisper_hears_the_text_in(tts_server, real_speech_plugin, whisper):
    chunks, error = speak(real_speech_plugin, tts_server.credentials("tts"))

    assert error is None, error
    audio = b"".join(bytes.fromhex(chunk["result"]) for chunk in chunks)
    assert len(audio) > 10_000, len(audio)  # seconds of speech, not an error page
    assert WORDS <= words(speech.transcribe(whisper, audio, "speech")), audio[:64]


def test_a_wrong_key_is_refused_for_text_to_speech_without_showing_it(tts_server, real_speech_plugin):
    wrong = tts_server.credentials("tts", api_key="sk-wrong-key-123456")

    chunks, error = speak(real_speech_plugin, wrong)

    assert chunks == []
    assert error["error_type"] == "InvokeAuthorizationError", error
    assert "sk-wrong-key-123456" not in json.dumps(error) and tts_server.api_key not in json.dumps(error)


# --- both ways, the plugin's own speech heard by the plugin ---------------------------------------


@pytest.mark.parametrize("route", list(BOTH_WAYS))
def test_the_plugins_own_speech_is_transcribed_by_it(route, request, real_speech_plugin):
    """Straight to the servers (Piper with ffmpeg, then Whisper), or both ways through the gateway."""
    speaker, listener = (request.getfixturevalue(name) for name in BOTH_WAYS[route])

    chunks, error = speak(real_speech_plugin, validated(real_speech_plugin, speaker, "tts"))
    assert error is None, error
    audio = b"".join(bytes.fromhex(chunk["result"]) for chunk in chunks)
    results, error = transcribe(real_speech_plugin, validated(real_speech_plugin, listener, "speech2text"), audio)

    assert error is None, error
    assert WORDS <= words(results[0]["result"]), results
