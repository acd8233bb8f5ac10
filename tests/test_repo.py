"""The template repository's own code is held to the same standard as the code it generates."""

import subprocess
import sys

from conftest import TEMPLATE


def test_template_code_is_ruff_clean():
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", "."],
            cwd=TEMPLATE,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_template_holds_no_tool_caches():
    """Cookiecutter copies everything under the plugin template, caches included."""
    plugin_template = TEMPLATE / "{{cookiecutter.provider_name}}"
    leftovers = [
        p.relative_to(TEMPLATE).as_posix()
        for p in plugin_template.rglob("*")
        if p.name in {".ruff_cache", "__pycache__", ".pytest_cache", ".hypothesis", ".venv"}
    ]
    assert not leftovers, f"remove before baking: {leftovers}"
