"""The speech servers of the real tier, from the `speech` virtualenv (tests/real/cache.py):

- faster-whisper-server (speech to text): Whisper tiny.en on faster-whisper/CTranslate2, CPU int8,
  `POST /v1/audio/transcriptions`. It has no API key and no model list; it reads the model from
  a form field `model_name` (not OpenAI's `model`), so the one model, `whisper-1`, answers
  whatever `model` a client sends.
- local-tts-studio (text to speech): Piper with the en_US-joe-medium voice, `POST /v1/audio/speech`
  and `GET /v1/models` (`tts-1`, `tts-1-hd`), API key on. It makes WAV and PCM itself and mp3
  (flac, aac, opus) only with an `ffmpeg` on its PATH, else it answers 400
  `unsupported_response_format`: started with `ffmpeg=True`, its PATH holds imageio-ffmpeg's
  static ffmpeg; with `ffmpeg=False`, no folder holding an ffmpeg.
"""

import json
import os
import secrets
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from real.servers import RealServer, start_on_free_port

STT_ID = "whisper-1"  # faster-whisper-server's default `model_name`
TTS_ID = "tts-1"  # the first id local-tts-studio lists; it speaks with the configured voice whatever the id
VOICE = "en_US-joe-medium"


def start_whisper(venv: Path, models: Path, work: Path) -> RealServer:
    """faster-whisper-server with the one model `whisper-1` (Whisper tiny.en, CPU, int8)."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "models.yaml"  # YAML is a superset of JSON
    model = {
        "name": STT_ID,
        "path": str(models / "whisper-tiny.en"),
        "model_options": {"device": "cpu", "compute_type": "int8", "cpu_threads": 1},
    }
    config.write_text(json.dumps({"models": [model]}))
    env = _without_proxies()
    env["HF_HUB_OFFLINE"] = "1"  # the model is a local folder; nothing may come from a hub
    command = [str(venv / "bin" / "faster-whisper-server"), "--config", str(config), "--host", "127.0.0.1"]
    process, url = start_on_free_port(
        lambda port: [*command, "--port", str(port), "--log-level", "info"], "/health", work / "server.log", env
    )
    return RealServer(
        name="faster-whisper-server",
        version=_versions(venv, "faster-whisper-server", "faster-whisper", "ctranslate2"),
        url=url,
        api_key="",  # the server has none: a Dify user leaves the field empty
        models={"speech2text": STT_ID},
        process=process,
        log=work / "server.log",
    )


def start_piper(venv: Path, models: Path, work: Path, ffmpeg: bool) -> RealServer:
    """local-tts-studio speaking with Piper's en_US-joe-medium voice, API key on; mp3 only with `ffmpeg`."""
    work.mkdir(parents=True, exist_ok=True)
    api_key = "sk-piper-" + secrets.token_hex(12)
    settings = {
        "voices_dir": str(models / "voices"),
        "device": "cpu",
        "api_key_enabled": True,
        "api_key": api_key,
        "api_default_voice": VOICE,
    }
    (work / "settings.json").touch(mode=0o600)  # holds the key, as the studio's own settings file does
    (work / "settings.json").write_text(json.dumps(settings))
    env = _without_proxies()
    env["LOCAL_TTS_DATA_DIR"] = str(work)
    env["PATH"] = _path_with_ffmpeg(venv, work) if ffmpeg else _path_without_ffmpeg()
    command = [str(venv / "bin" / "local-tts"), "--host", "127.0.0.1"]
    process, url = start_on_free_port(
        lambda port: [*command, "--port", str(port)], "/api/health", work / "server.log", env
    )
    return RealServer(
        name="piper-ffmpeg" if ffmpeg else "piper",
        version=_versions(venv, "local-tts-studio", "piper-tts", *(["imageio-ffmpeg"] if ffmpeg else [])),
        url=url,
        api_key=api_key,
        models={"tts": TTS_ID},
        process=process,
        log=work / "server.log",
        facts={"voice": VOICE},
    )


def _without_proxies() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def _path_with_ffmpeg(venv: Path, work: Path) -> str:
    """PATH with a folder first whose `ffmpeg` is imageio-ffmpeg's static build (libmp3lame in)."""
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    folder = work / "bin"
    folder.mkdir(exist_ok=True)
    (folder / "ffmpeg").unlink(missing_ok=True)
    (folder / "ffmpeg").symlink_to(found.stdout.strip())
    return os.pathsep.join([str(folder), os.environ.get("PATH", "")])


def _path_without_ffmpeg() -> str:
    """PATH less every folder holding an `ffmpeg`, so the server is one without it on any machine."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(f for f in folders if f and not shutil.which("ffmpeg", path=f))


def _versions(venv: Path, *distributions: str) -> str:
    """e.g. "faster-whisper-server 0.0.3, faster-whisper 1.2.1": the versions installed in `venv`."""
    code = "import sys, importlib.metadata as m; print(', '.join(d + ' ' + m.version(d) for d in sys.argv[1:]))"
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *distributions], capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip() or "unknown"


# --- Straight to the servers, no plugin: speech made to test the plugin with, and what was heard ---


def speak(server: RealServer, text: str, audio_format: str) -> tuple[int, str, bytes]:
    """POST /v1/audio/speech; returns (status, content type, body)."""
    body = {"model": server.models["tts"], "input": text, "voice": "alloy", "response_format": audio_format}
    request = urllib.request.Request(f"{server.url_for('tts')}/v1/audio/speech", json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    return _send(request, server.api_key)


def transcribe(server: RealServer, audio: bytes, filename: str) -> str:
    """The transcript POST /v1/audio/transcriptions gives for `audio` (sent as `filename`)."""
    boundary = secrets.token_hex(16)
    model = server.models["speech2text"]
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{model}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    request = urllib.request.Request(
        f"{server.url_for('speech2text')}/v1/audio/transcriptions", form + audio + f"\r\n--{boundary}--\r\n".encode()
    )
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    status, _, answer = _send(request, server.api_key)
    if status != 200:
        raise RuntimeError(f"{server.name} answered {status} to a transcription: {answer[:300]!r}")
    return json.loads(answer)["text"]


def _send(request: urllib.request.Request, api_key: str) -> tuple[int, str, bytes]:
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=120) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()
