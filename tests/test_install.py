"""The baked plugin's dependencies install the same way on old and new Dify daemons, and for its developer.

Dify's daemon (dify-plugin-daemon 0.6.10, internal/core/local_runtime/setup_python_environment.go)
makes the plugin's venv with `uv venv .venv --python 3.12`, then runs `uv sync --no-dev --frozen`
when the package holds pyproject.toml and uv.lock, or `uv pip install -r requirements.txt` (older
daemons, or when a pip mirror is set). Here both run for real with uv from PyPI, into fresh venvs
and an empty uv cache, and must give the same versions; then the developer commands that the
plugin's DEVELOPMENT.md gives run word for word, offline, from that cache.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import NETWORK_NAMESPACE, offline_env, registration
from packaging.requirements import Requirement

UV = Path(sys.executable).parent / "uv"
# How the plugin's requirements files are exported from uv.lock (DEVELOPMENT.md, ci.yml): as
# `dify plugin package` would export a missing requirements.txt, but with every file's hash kept.
EXPORT = ["export", "--frozen", "--format", "requirements.txt", "--no-group", "dev", "--no-emit-project"]
EXPORT += ["--no-header", "--no-annotate"]
DEV_EXPORT = [arg if arg != "--no-group" else "--only-group" for arg in EXPORT]

pytestmark = pytest.mark.skipif(not UV.is_file(), reason="uv is installed by requirements-dev.txt")


class Uv:
    """uv with a private cache, and `python3.12` on PATH as Dify's daemon expects to find it."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        (self.bin / "python3.12").symlink_to(sys._base_executable)
        (self.bin / "uv").symlink_to(UV)
        self.env = {k: v for k, v in offline_env().items() if not k.startswith(("UV_", "VIRTUAL_ENV", "PYTHON"))}
        self.env |= {
            "PATH": f"{self.bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "UV_CACHE_DIR": str(root / "uv-cache"),
            "UV_PYTHON_DOWNLOADS": "never",
            # No user or system uv.toml of this machine; the plugin's own pyproject.toml counts, as for the daemon.
            "XDG_CONFIG_HOME": str(root / "no-config"),
            "XDG_CONFIG_DIRS": str(root / "no-config"),
        }
        self.figures: dict[str, float] = {}

    def run(self, cwd: Path, *args: str, offline: bool = False, env: dict | None = None, label: str = ""):
        started = time.monotonic()
        done = subprocess.run(
            [*(NETWORK_NAMESPACE if offline else []), *args],
            cwd=cwd,
            env=self.env | (env or {}),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if label:
            self.figures[label] = time.monotonic() - started
        assert done.returncode == 0, f"{args} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        return done

    def freeze(self, venv: Path) -> set[str]:
        """`name==version` of every package in the venv but the installers' own (pip)."""
        done = self.run(venv.parent, "uv", "pip", "freeze", "--python", str(venv / "bin" / "python"))
        return {line for line in done.stdout.split() if not line.startswith(("pip==", "setuptools==", "wheel=="))}


def pinned(requirements: Path) -> list[Requirement]:
    """The requirements of a pip requirements file, each line's `--hash` options left out."""
    logical = requirements.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    return [Requirement(line.split(" --hash=")[0].strip()) for line in logical if line.strip()]


def package_listing(plugin: Path) -> set[str]:
    """The files `dify plugin package` would put in the .difypkg, as the plugin's own test computes them."""
    spec = importlib.util.spec_from_file_location("plugin_package_test", plugin / "tests" / "test_package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.package_listing(plugin)


def unpack(plugin: Path, target: Path) -> Path:
    """What the daemon has after unpacking the plugin's .difypkg."""
    for name in package_listing(plugin):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(plugin / name, target / name)
    return target


def code_block(markdown: str, heading: str, index: int = 0) -> list[str]:
    """The lines of the index-th ```bash block under a `## heading` of a Markdown page."""
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    return [line for line in blocks[index].splitlines() if line.strip()]


@pytest.fixture(scope="module")
def plugin(bake) -> Path:
    return bake("default")


@pytest.fixture(scope="module")
def uv(tmp_path_factory) -> Uv:
    return Uv(tmp_path_factory.mktemp("uv"))


def test_requirements_files_are_the_lock_exported_with_a_hash_for_every_file(plugin, uv):
    uv.run(plugin, "uv", "lock", "--check")
    assert uv.run(plugin, "uv", *EXPORT).stdout == (plugin / "requirements.txt").read_text()
    assert uv.run(plugin, "uv", *DEV_EXPORT).stdout == (plugin / "requirements-dev.txt").read_text()
    for name in ("requirements.txt", "requirements-dev.txt"):
        logical = (plugin / name).read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
        assert all("==" in line and "--hash=sha256:" in line for line in logical if line.strip()), name


def test_requirements_install_offline_from_a_wheelhouse_only_with_matching_hashes(plugin, uv, tmp_path):
    """As a daemon behind a pip mirror or an air-gapped install would: files fetched once, then
    installed with no index at all, and pip refuses any file whose hash requirements.txt lacks."""
    python = str(uv.bin / "python3.12")
    wheelhouse = tmp_path / "wheelhouse"
    uv.run(plugin, python, "-m", "pip", "download", "--quiet", "-r", "requirements.txt", "-d", str(wheelhouse))
    uv.run(tmp_path, python, "-m", "venv", "venv")
    pip = [str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "install"]
    uv.run(
        plugin,
        *pip,
        "--quiet",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        "--require-hashes",
        "-r",
        "requirements.txt",
        offline=True,
    )
    installed = uv.freeze(tmp_path / "venv")
    assert {
        f"{r.name}{r.specifier}" for r in pinned(plugin / "requirements.txt") if r.marker is None or r.marker.evaluate()
    } == installed

    # The same install with one file swapped for another build of that version is refused.
    httpx = next(wheelhouse.glob("httpx-*.whl"))
    httpx.write_bytes(httpx.read_bytes() + b"\0")
    refused = subprocess.run(
        [
            *NETWORK_NAMESPACE,
            *pip,
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--require-hashes",
            "--force-reinstall",
            "--no-deps",
            "-r",
            "requirements.txt",
        ],
        cwd=plugin,
        env=uv.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert refused.returncode != 0 and "do not match the hashes" in (refused.stdout + refused.stderr).lower()


def test_old_and_new_daemons_install_the_same_versions_and_the_plugin_starts(plugin, uv, tmp_path):
    old = unpack(plugin, tmp_path / "old")
    uv.run(old, "uv", "venv", ".venv", "--python", "3.12")
    venv = {"VIRTUAL_ENV": str(old / ".venv")}
    uv.run(old, "uv", "pip", "install", "-r", "requirements.txt", env=venv, label="old daemon, empty cache")

    new = unpack(plugin, tmp_path / "new")
    uv.run(new, "uv", "venv", ".venv", "--python", "3.12")
    venv = {"VIRTUAL_ENV": str(new / ".venv"), "UV_CACHE_DIR": str(tmp_path / "new-cache")}
    uv.run(new, "uv", "sync", "--no-dev", "--frozen", env=venv, label="new daemon, empty cache")

    installed = uv.freeze(old / ".venv")
    assert installed == uv.freeze(new / ".venv")
    locked = pinned(plugin / "requirements.txt")
    assert installed == {f"{r.name}{r.specifier}" for r in locked if r.marker is None or r.marker.evaluate()}
    assert {"dify-plugin==0.10.2", "httpx==0.28.1"} <= installed
    # pyproject's compile-bytecode: the daemon's uv sync leaves the SDK compiled, so no start compiles it
    # again (nor every start, where PYTHONDONTWRITEBYTECODE is set).
    assert list((new / ".venv").glob("lib/python3*/site-packages/dify_plugin/__pycache__/__init__.*.pyc"))
    for unpacked in (old, new):
        assert registration(unpacked / ".venv" / "bin" / "python", unpacked, uv.env)["name"] == plugin.name
    sizes = [sum(f.stat().st_size for f in (d / ".venv").rglob("*") if f.is_file()) >> 20 for d in (old, new)]
    times = ", ".join(f"{k}: {v:.1f} s" for k, v in uv.figures.items())
    print(f"{len(installed)} packages in both venvs ({sizes[0]} MiB, {sizes[1]} MiB); {times}")


def test_developer_commands_work_verbatim_offline_in_a_fresh_venv(plugin, uv, tmp_path):
    guide = (plugin / "DEVELOPMENT.md").read_text(encoding="utf-8")
    uv_commands, pip_commands = code_block(guide, "Set up and test", 0), code_block(guide, "Set up and test", 1)
    assert uv_commands[0] == "uv sync --frozen" and "pytest" in uv_commands[1]

    warm = shutil.copytree(plugin, tmp_path / "warm")
    uv.run(warm, "uv", "sync", "--frozen", label="uv sync --frozen, online")  # fills the cache, as a first run does

    fresh = shutil.copytree(plugin, tmp_path / "fresh", ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    for command in uv_commands:
        done = uv.run(fresh, "bash", "-euo", "pipefail", "-c", command, offline=True, label=command)
        if "pytest" in command:
            assert re.search(r"\b\d+ passed\b", done.stdout) and " failed" not in done.stdout, done.stdout[-2000:]

    # Without uv: pip, online for the download, then the tests offline; same versions as uv sync.
    with_pip = shutil.copytree(plugin, tmp_path / "pip", ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    for command in pip_commands:
        uv.run(with_pip, "bash", "-euo", "pipefail", "-c", command, offline="pytest" in command, label=command)
    assert uv.freeze(with_pip / ".venv") == uv.freeze(fresh / ".venv")
    print(", ".join(f"{k}: {v:.1f} s" for k, v in uv.figures.items()))
