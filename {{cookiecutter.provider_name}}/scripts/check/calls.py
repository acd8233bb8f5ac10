{% set plan = cookiecutter | plan %}
"""The calls the check makes, as Dify makes them over stdio: validating credentials, then one
small real call per model type."""

{% if plan.has("speech2text") %}
import io
{% endif %}
import json
{% if plan.has("speech2text") %}
import math
import struct
import wave
{% endif %}
from collections.abc import Callable
from typing import Any

from scripts.check.failure import CheckFailed
from scripts.check.plugin import PluginProcess

# What validation keeps beside the answers (SERVER_FAMILY and DETECTED in models/server/vocabulary.py,
# which the blank variant does not have): reported as the family, not as learned answers.
SERVER_FAMILY, DETECTED = "server_family", "detected"


def send(plugin: PluginProcess, action: str, deadline: float, **data: Any) -> list[Any]:
    """One request as Dify sends it: the results streamed back, or CheckFailed with the plugin's error."""
    results, error = plugin.call(action, deadline=deadline, **data)
    if error is not None:
        args = error.get("args") if isinstance(error.get("args"), dict) else {}
        raise CheckFailed(
            str(error.get("error_type") or "Error"),
            str(error.get("message") or ""),
            str(args.get("traceback") or ""),
        )
    return results


def validate(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    """Validate credentials as Dify does when they are saved: the provider's, or one model's."""
    action = "validate_model_credentials" if "model_type" in model else "validate_provider_credentials"
    results = send(plugin, action, deadline, **model)
    if not results or results[0].get("result") is not True:
        raise CheckFailed(
            "CredentialsValidateFailedError", f"the plugin did not accept the credentials: {results!r:.100}"
        )
    stored = results[0].get("credentials") or {}
    given = model["credentials"]
    family = stored.get(SERVER_FAMILY)
    said = f"accepted ({family} server)" if family else "accepted"
    kept = ("api_key", SERVER_FAMILY, DETECTED)
    learned = [f"{k}={v}" for k, v in stored.items() if k not in kept and given.get(k) != v]
    return (f"{said}; learned " + ", ".join(learned)) if learned else said, results


def returned[T](found: T, what: str) -> T:
    """`found`, or CheckFailed if the plugin returned nothing of `what`."""
    if not found:
        raise CheckFailed("InvokeServerUnavailableError", f"the plugin returned no {what}")
    return found


def quoted(text: str, limit: int = 40) -> str:
    text = " ".join(str(text).split())
    return json.dumps(text[:limit] + ("..." if len(text) > limit else ""), ensure_ascii=False)


# A check: (plugin, the model's request fields, deadline) -> (what came back, in words; the results).
Call = Callable[[PluginProcess, dict[str, Any], float], tuple[str, list[Any]]]
# The small real call(s) made for each model type once its credentials passed, as Dify makes them.
CALLS: dict[str, list[tuple[str, Call]]] = {}


def check_of(model_type: str, name: str) -> Callable[[Call], Call]:
    """Register the decorated call as the check `name` of `model_type`."""

    def register(call: Call) -> Call:
        CALLS.setdefault(model_type, []).append((name, call))
        return call

    return register
{% if plan.has("llm") %}


PROMPT = "Reply with one short sentence."


def llm_chat(stream: bool) -> Call:
    def call(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
        results = send(
            plugin,
            "invoke_llm",
            deadline,
            **model,
            prompt_messages=[{"role": "user", "content": PROMPT}],
            model_parameters={"max_tokens": 16},
            stop=None,
            tools=None,
            stream=stream,
        )
        text = "".join(str(r["delta"]["message"].get("content") or "") for r in results)
        usage = (results[-1]["delta"].get("usage") or {}) if results else {}
        tokens = f", {usage['total_tokens']} tokens" if usage.get("total_tokens") else ""
        chunks = f"{len(results)} chunks" if stream else "1 answer"
        return f"{quoted(text) if text.strip() else 'an empty answer'} ({chunks}{tokens})", results

    return call


check_of("llm", "chat, streamed")(llm_chat(True))
check_of("llm", "chat, blocking")(llm_chat(False))
{% endif %}
{% if plan.has("text-embedding") %}


@check_of("text-embedding", "embedding")
def embed(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    texts = ["Dify checks this server."]
    results = send(plugin, "invoke_text_embedding", deadline, **model, texts=texts, input_type="document")
    vectors = results[0]["embeddings"] if results else []
    vector = returned(vectors[0] if vectors else [], "vector")
    return f"1 vector of {len(vector)} numbers", results
{% endif %}
{% if plan.has("rerank") %}


@check_of("rerank", "rerank")
def rerank(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    query, docs = "What does this check do?", ["It checks a model server for Dify."]
    results = send(
        plugin, "invoke_rerank", deadline, **model, query=query, docs=docs, score_threshold=None, top_n=None
    )
    scored = returned(results[0]["docs"] if results else [], "scored document")
    return f"1 document scored {float(scored[0]['score']):.4f}", results
{% endif %}
{% if plan.has("speech2text") %}


def tone_wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A short 440 Hz tone as a WAV file, made here: no sample file needed."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


@check_of("speech2text", "transcription")
def transcribe(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    audio = tone_wav().hex()  # Dify sends the audio hex-encoded
    results = send(plugin, "invoke_speech2text", deadline, **model, file=audio)
    text = str(results[0]["result"]) if results else ""
    return f"1 s of tone heard as {quoted(text) if text.strip() else 'silence'}", results
{% endif %}
{% if plan.has("tts") %}


@check_of("tts", "speech")
def speak(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    voices = send(plugin, "get_tts_model_voices", deadline, **model, language=None)
    names = [v["value"] for v in (voices[0]["voices"] if voices else [])]
    voice = names[0] if names else ""
    text = "Hello from Dify."
    chunks = send(plugin, "invoke_tts", deadline, **model, content_text=text, voice=voice, tenant_id="check")
    size = returned(sum(len(chunk["result"]) // 2 for chunk in chunks), "audio")
    return f"{size} bytes of audio, voice {voice!r}", chunks
{% endif %}
{% if plan.has("moderation") %}


@check_of("moderation", "moderation")
def moderate(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    results = send(plugin, "invoke_moderation", deadline, **model, text="Have a nice day.")
    return f"flagged: {'yes' if results and results[0]['result'] else 'no'}", results
{% endif %}
