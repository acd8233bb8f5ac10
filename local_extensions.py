"""Jinja filters the template files use, and the answer check that runs while cookiecutter prompts.

The rules themselves live in hooks/answers.py. This module applies them at prompt time, before
cookiecutter has created any directory: `cookiecutter.json` ends with the private variable
`"__checked": "{{ cookiecutter | check_answers }}"`, which cookiecutter renders after every
answer is known. A bad answer prints one line on stderr and exits with status 1, so the CLI
shows that line and nothing else, and no output directory is left behind. The pre-generation
hook runs the same rules again (e.g. for `--replay`, which skips prompting).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

from jinja2.ext import Extension

from hooks import answers

TEMPLATE_DIR = Path(__file__).resolve().parent


def _template_defaults() -> dict:
    """The template's own answer values from cookiecutter.json (they may be Jinja on purpose)."""
    try:
        data = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {key: value for key, value in data.items() if not key.startswith("_")}


TEMPLATE_DEFAULTS = _template_defaults()


class AnswersRefused(SystemExit):
    """Exit status 1 after the one-line error was printed; `line` is that line."""

    def __init__(self, line: str) -> None:
        super().__init__(1)
        self.line = line


def refuse(error: answers.AnswerError) -> NoReturn:
    """Print the one line for a bad answer on stderr and stop cookiecutter."""
    line = f"error: {error}"
    print(line, file=sys.stderr, flush=True)
    raise AnswersRefused(line)


def _cookiecutter_locals(function: str, module: str) -> Mapping | None:
    """The local variables of the running cookiecutter `module.function`, or None.

    Cookiecutter renders every answer as a Jinja template before any of our code can see it,
    and it ignores answers it does not know. Its own frames are the only place that still
    holds what the user gave: the unrendered value being prompted (`prompt_for_config`'s
    `key`) and the `extra_context` passed to `cookiecutter()`. If a future cookiecutter
    renames them, these checks are skipped and the pre-generation hook still refuses the
    same answers (with cookiecutter's longer report around its line).
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == function and frame.f_globals.get("__name__") == module:
            return frame.f_locals
        frame = frame.f_back
    return None


def quoted(value: object) -> str:
    """A double-quoted scalar that is valid, and round-trips exactly, in YAML, TOML and JSON."""
    return json.dumps(str(value), ensure_ascii=False)


def plan(cookiecutter: dict) -> answers.Plan:
    """Resolve the answers (already checked while prompting) into a Plan."""
    return answers.validate(dict(cookiecutter))


def answers_record(cookiecutter: dict) -> str:
    """The baked plugin's `.cookiecutter.json`: its public answers, as JSON.

    The template's address (and `--checkout`) is kept only when it is a remote URL, with any
    user:password removed; a local path says nothing useful on another machine.
    """
    record = {key: value for key, value in cookiecutter.items() if not key.startswith("_")}
    source = str(cookiecutter.get("_template") or "")
    parts = urlsplit(source)
    if parts.scheme in ("http", "https", "ssh", "git") and parts.hostname or source.startswith(("gh:", "gl:", "bb:")):
        if parts.hostname:
            netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
            source = urlunsplit(parts._replace(netloc=netloc))
        record["_template"] = source
        if cookiecutter.get("_checkout"):
            record["_checkout"] = cookiecutter["_checkout"]
    return json.dumps(record, indent=2, ensure_ascii=False)


def initials(label: str) -> str:
    """Up to two letters for the generated icon ("Xorbits Inference" -> "XI")."""
    words = [w for w in str(label).replace("-", " ").replace("_", " ").split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]) or "?"
    return letters.upper()


def check_answers(cookiecutter: dict) -> str:
    """The `__checked` variable: every rule over the rendered answers, before any file exists."""
    try:
        checked = answers.validate(dict(cookiecutter), defaults=TEMPLATE_DEFAULTS)
        _check_output_dir(checked.provider)
    except answers.AnswerError as error:
        refuse(error)
    return "ok"


def _check_output_dir(provider: str) -> None:
    """Cookiecutter refuses an existing plugin folder only after prompting; say why and what to do."""
    main = _cookiecutter_locals("cookiecutter", "cookiecutter.main")
    if main is None or main.get("overwrite_if_exists"):
        return
    target = Path(os.path.abspath(main.get("output_dir") or "."), provider)
    if target.exists() or target.is_symlink():
        raise answers.AnswerError(
            "provider_name",
            "must not name a folder that already exists in the output directory",
            provider,
            f"{json.dumps(str(target))} is already there (from an earlier or interrupted bake?): "
            "remove it, choose another --output-dir, or pass --overwrite-if-exists",
        )


class DifyExtension(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["quoted"] = quoted
        environment.filters["plan"] = plan
        environment.filters["initials"] = initials
        environment.filters["answers_record"] = answers_record
        environment.filters["check_answers"] = check_answers
        # Where the hooks find answers.py: absolute, whatever directory cookiecutter ran from.
        environment.globals["hooks_dir"] = str(TEMPLATE_DIR / "hooks")
        self._names_checked = False

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        """See each answer as given, just before cookiecutter renders it as a template.

        A value with Jinja markup is refused here, before rendering could evaluate it,
        fail on an undefined name or crash on a syntax error, and so is a carriage return,
        which rendering would turn into a newline. Answers cookiecutter does not know
        (typos) are refused too, instead of being silently ignored.
        """
        if name is None and filename is None:
            prompting = _cookiecutter_locals("prompt_for_config", "cookiecutter.prompt")
            if prompting is not None:
                try:
                    self._check_given(prompting, source)
                except answers.AnswerError as error:
                    refuse(error)
        return source

    def _check_given(self, prompting: Mapping, source: str) -> None:
        if not self._names_checked:
            self._names_checked = True
            main = _cookiecutter_locals("cookiecutter", "cookiecutter.main")
            given = main.get("extra_context") if main is not None else None
            context = prompting.get("context")
            known = context.get("cookiecutter") if isinstance(context, Mapping) else None
            if isinstance(given, Mapping) and isinstance(known, Mapping):
                answers.check_given_names(given, known)
        key = prompting.get("key")
        if isinstance(key, str) and not key.startswith("_") and source != TEMPLATE_DEFAULTS.get(key):
            answers.check_given_value(key, source)
