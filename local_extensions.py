"""Jinja filters the template files use; the rules behind them live in hooks/answers.py."""

import json
from pathlib import Path

from jinja2.ext import Extension

from hooks import answers


def quoted(value: object) -> str:
    """A double-quoted scalar that is valid, and round-trips exactly, in YAML, TOML and JSON."""
    return json.dumps(str(value), ensure_ascii=False)


def plan(cookiecutter: dict) -> answers.Plan:
    """Resolve the answers (already checked by the pre-generation hook) into a Plan."""
    return answers.validate(dict(cookiecutter))


def initials(label: str) -> str:
    """Up to two letters for the generated icon ("Xorbits Inference" -> "XI")."""
    words = [w for w in str(label).replace("-", " ").replace("_", " ").split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]) or "?"
    return letters.upper()


class DifyExtension(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["quoted"] = quoted
        environment.filters["plan"] = plan
        environment.filters["initials"] = initials
        # Where the hooks find answers.py: absolute, whatever directory cookiecutter ran from.
        environment.globals["hooks_dir"] = str(Path(__file__).resolve().parent / "hooks")
