"""The template's Jinja extension: its filters, and the answer checks while cookiecutter runs.

The rules live in hooks/answers.py; this module applies them inside cookiecutter:

- At the prompt, each answer is checked the moment it is given. A bad one prints its one line
  and the same question is asked again. Yes/no questions and choices are asked with
  cookiecutter's own yes/no prompt and numbered menu, which re-ask by themselves; free text is
  re-asked here. Answers that are not asked (`model_types`, `version`, ...) keep their value.
- Without prompts (`--no-input`, config files, cruft, pytest-cookies), `cookiecutter.json`'s last
  variable `"__checked": "{{ cookiecutter | check_answers }}"` reports every bad answer at once,
  one line each, and exits with status 1 before any directory exists.
- Answers cookiecutter does not know (typos) are refused on every path that can give them.

The module has a name no other template uses, because a user's pytest config may put this
template's folder on `sys.path` for good (docs/non-interactive.md#testing-the-template-in-your-ci),
where a `local_extensions.py` would stand in front of other templates' modules of that name.

cruft bakes two template commits in one process (`cruft update`). So that each bake runs the
rules and filters of its own commit, this module drops itself from `sys.modules` (and its
bytecode cache) once Jinja has loaded it, and imports hooks/answers.py afresh from its source.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

from jinja2.ext import Extension

TEMPLATE_DIR = Path(__file__).resolve().parent
RULES_NAME = "_dify_model_plugin_answers"


class _FromSource(importlib.machinery.SourceFileLoader):
    """Compiles the file from its source on every import, never through a bytecode cache.

    Two template commits checked out in the same second can hold an answers.py of the same size,
    which a cache keyed on modification time and size would take for the other.
    """

    def path_stats(self, path: str) -> Mapping:
        raise OSError("no bytecode cache for the template's rules")


def _load_rules() -> types.ModuleType:
    """hooks/answers.py, imported afresh for this bake."""
    path = str(TEMPLATE_DIR / "hooks" / "answers.py")
    spec = importlib.util.spec_from_file_location(RULES_NAME, path, loader=_FromSource(RULES_NAME, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[RULES_NAME] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


answers = _load_rules()


def _template_context() -> dict:
    """cookiecutter.json of this template, as written (its defaults may be Jinja on purpose)."""
    try:
        return json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


TEMPLATE_CONTEXT = _template_context()


class AnswersRefused(SystemExit):
    """Exit status 1 after the one-line errors were printed; `str()` and `lines` are those lines."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.code = 1
        self.lines = lines


def refuse(errors: list) -> NoReturn:
    """Print one line per bad answer on stderr and stop cookiecutter."""
    lines = [f"error: {error}" for error in errors]
    print("\n".join(lines), file=sys.stderr, flush=True)
    raise AnswersRefused(lines)


def _callers() -> Iterator[types.FrameType]:
    """The frames that called into this module, innermost first.

    Reading other libraries' frames is a last resort. It is used for two things cookiecutter
    gives a template no other way to learn: the answers as the caller gave them (cookiecutter
    drops unknown names silently before any template code runs) and whether its questions are
    being asked right now (so the prompt functions are replaced only for that while).
    """
    frame = sys._getframe(1)
    while frame is not None:
        yield frame
        frame = frame.f_back


# --- what the caller gave ------------------------------------------------------------------------


def _caller_locals() -> Mapping:
    """The local variables of the function that handed cookiecutter the answers, or {}.

    Cookiecutter drops answers it does not know, and renders the others as Jinja, before any
    template code runs; only its caller still holds them as given. Both callers that exist,
    `cookiecutter.main.cookiecutter` (the CLI, the Python API, pytest-cookies) and cruft's
    `generate_cookiecutter_context` (create, update, link, diff), keep them in the locals
    `extra_context` and `config_dict["default_context"]`. When none is found (pytest-cookies'
    own rendering of the answers before it calls cookiecutter), the name check waits for
    cookiecutter's call and every value is still checked.
    """
    for frame in _callers():
        names = frame.f_locals
        if "extra_context" in names and isinstance(names.get("config_dict"), Mapping):
            return names
    return {}


class Given:
    """The answers a bake was given: on the command line or through an API, and by a config file."""

    def __init__(self, caller: Mapping) -> None:
        extra = caller.get("extra_context")
        config = caller.get("config_dict") or {}
        self.extra: Mapping = extra if isinstance(extra, Mapping) else {}
        defaults = config.get("default_context") if isinstance(config, Mapping) else None
        self.defaults: Mapping = defaults if isinstance(defaults, Mapping) else {}
        self.values = {**self.defaults, **self.extra}
        self.output_dir = caller.get("output_dir")
        self.overwrite = bool(caller.get("overwrite_if_exists"))

    def name_problems(self) -> list:
        known = list(TEMPLATE_CONTEXT)
        return answers.unknown_names(self.extra, known) + answers.unknown_names(self.defaults, known, typos_only=True)

    def conflicts(self) -> list:
        return answers.conflicts(self.extra, TEMPLATE_CONTEXT) + answers.conflicts(self.defaults, TEMPLATE_CONTEXT)

    def problems(self) -> list:
        """Every bad answer among those given, before cookiecutter renders or asks anything.

        The rules run over the given answers on top of the template's plain defaults, so rules
        across answers (at least one model type) see what the bake will use. Defaults made from
        other answers (the provider name from the label) are checked once rendered.
        """
        plain = {
            key: value
            for key, value in TEMPLATE_CONTEXT.items()
            if not key.startswith("_") and not (isinstance(value, str) and "{" in value)
        }
        public = {key: value for key, value in self.values.items() if not str(key).startswith("_")}
        found = self.name_problems() + self.conflicts() + answers.problems({**plain, **public}, derived=False)
        if "provider_name" in public and not any(error.answer == "provider_name" for error in found):
            folder = existing_plugin_folder(self, public["provider_name"])
            found += [folder] if folder else []
        return found


def existing_plugin_folder(given: Given, provider: str):
    """The error for a plugin folder that is already there (cookiecutter refuses it only after asking)."""
    if given.output_dir is None or given.overwrite or not answers.NAME_RE.fullmatch(str(provider)):
        return None
    target = Path(os.path.abspath(given.output_dir or "."), str(provider))
    if not (target.exists() or target.is_symlink()):
        return None
    return answers.AnswerError(
        "provider_name",
        "must not name a folder that already exists in the output directory",
        provider,
        f"{json.dumps(str(target))} is already there: choose another name, e.g. provider_name="
        f"{free_name(given, provider)}, or another --output-dir; to re-bake or "
        "update a plugin you edited see docs/non-interactive.md#re-baking-or-updating-a-plugin-you-edited "
        "(--overwrite-if-exists would overwrite your edits and delete the folders of types not chosen)",
    )


def free_name(given: Given, provider: str) -> str:
    """The first of provider_2, provider_3, ... with no folder in the output directory."""
    number = 2
    while True:
        suffix = f"_{number}"
        candidate = str(provider)[: 128 - len(suffix)] + suffix
        if not existing_plugin_folder(given, candidate):
            return candidate
        number += 1


def typed_back(key: str, value: object) -> object:
    """An answer typed at its own prompt as a hint shows it (`provider_name=my_provider`) is the value."""
    if isinstance(value, str):
        name, equals, rest = value.partition("=")
        if equals and name.strip() == key:
            return rest.strip()
    return value


# --- the prompt session ---------------------------------------------------------------------------

PROMPT_MODULE = "cookiecutter.prompt"
PREFIX_COUNT = re.compile(r"\[\d+/\d+\]")


def _prompting_frame():
    """cookiecutter's `prompt_for_config` frame if it is running (it asks the questions), else None."""
    return next(
        (
            frame
            for frame in _callers()
            if frame.f_code.co_name == "prompt_for_config" and frame.f_globals.get("__name__") == PROMPT_MODULE
        ),
        None,
    )


def _on_stack(target) -> bool:
    return any(frame is target for frame in _callers())


class Session:
    """One run of cookiecutter's questions for this template.

    Cookiecutter has no way to check an answer at its prompt, so three of its prompt functions
    are replaced for as long as this template's `prompt_for_config` runs, each for one reason:

    - `read_user_variable`, which cookiecutter 2.1 to 2.7 calls for every answer whose default
      is text: to check free text and ask again, and to ask the yes/no answers and the two
      choices with cookiecutter's own yes/no prompt and numbered menu. Their defaults stay text
      ("yes", "customizable-model") rather than native booleans and lists: for those,
      cookiecutter 2.7 turns a bad value given as `key=value` into a traceback, and one from a
      config file into a warning and a bake with the default, while 2.1 asks a boolean as free
      text and keeps whatever is typed. As text, every bad value gets its one-line error.
    - `read_user_yes_no`, which 2.2 on call for a YAML boolean from a config file (`with_tts:
      yes`): the same question, skipped like the others when `model_types` is given.
    - `prompt_choice_for_config`, which cookiecutter calls for a list: a YAML list given for
      `model_types` is the answer, not a menu (with `--no-input` cookiecutter would take its
      first item alone).
    """

    def __init__(self, prompting_frame, given: Given) -> None:
        import cookiecutter.prompt as prompt

        self.prompt = prompt
        self.frame = prompting_frame
        self.given = given
        self.answers: dict = {}
        self.asked = 0
        keys = [key for key in TEMPLATE_CONTEXT if key in answers.QUESTIONS]
        listed = answers.model_types_listed(given.values.get("model_types"))
        self.total = sum(
            1
            for key in keys
            if answers.QUESTIONS[key].form != answers.NOT_ASKED
            and not (listed and answers.QUESTIONS[key].form == answers.YES_NO)
        )
        self.read_text = self._original("read_user_variable")
        self.yes_no = self._original("read_user_yes_no")
        self.choose = self._original("prompt_choice_for_config")

    def _original(self, name: str):
        function = getattr(self.prompt, name)
        return getattr(function, "__wrapped__", function)  # left installed by an aborted session

    def install(self) -> None:
        def read_user_variable(var_name, default_value, *rest):
            return self.ask(var_name, default_value, rest, self.read_text)

        def read_user_yes_no(var_name, default_value, *rest):
            return self.ask(var_name, default_value, rest, self.yes_no)

        def prompt_choice_for_config(cookiecutter_dict, env, key, options, no_input, *rest):
            return self.choice_for_config(cookiecutter_dict, env, key, options, no_input, rest)

        for wrapper, original in (
            (read_user_variable, self.read_text),
            (read_user_yes_no, self.yes_no),
            (prompt_choice_for_config, self.choose),
        ):
            wrapper.__wrapped__ = original
            setattr(self.prompt, wrapper.__name__, wrapper)

    def uninstall(self) -> None:
        for original in (self.read_text, self.yes_no, self.choose):
            setattr(self.prompt, original.__name__, original)

    def _active(self) -> bool:
        """Still inside the `prompt_for_config` it was made for (not a later one, after an abort)."""
        if _on_stack(self.frame):
            return True
        self.uninstall()
        return False

    def choice_for_config(self, cookiecutter_dict, env, key, options, no_input, rest):
        question = answers.QUESTIONS.get(key)
        if not self._active() or question is None or question.form == answers.CHOICE:
            return self.choose(cookiecutter_dict, env, key, options, no_input, *rest)
        # A list given for a list answer (model_types: [llm, rerank]) is the answer, not a menu.
        value = [self.prompt.render_variable(env, item, cookiecutter_dict) for item in options]
        self.answers[key] = value
        return value

    def ask(self, key, default, rest, original):
        question = answers.QUESTIONS.get(key)
        if not self._active() or question is None:
            return original(key, default, *rest)
        value = self._ask(key, question, default, rest)
        self.answers[key] = value
        return value

    def _prefix(self, rest: tuple) -> tuple:
        """cookiecutter 2.3+ numbers its questions ("[3/17]"); count only the ones asked."""
        self.asked += 1
        if len(rest) >= 2 and isinstance(rest[1], str):
            return (rest[0], PREFIX_COUNT.sub(f"[{self.asked}/{self.total}]", rest[1], count=1), *rest[2:])
        return rest

    def _ask(self, key, question, default, rest):
        if question.form == answers.NOT_ASKED:
            return default
        if question.form == answers.YES_NO and answers.model_types_listed(self.answers.get("model_types")):
            listed = answers.parse_model_types(self.answers["model_types"])
            return "yes" if any(t.answer == key for t in listed) else "no"
        rest = self._prefix(rest)
        while True:
            if question.form == answers.YES_NO:
                value = "yes" if self.yes_no(key, self._yes(key, default), *rest) else "no"
            elif question.form == answers.CHOICE:
                options = [default, *(c for c in question.choices if c != default)]
                value = self.prompt.read_user_choice(key, options, *rest)
            else:
                value = typed_back(key, self.read_text(key, default, *rest))
            try:
                answers.check_answer(key, value, self.answers)
                if key == "provider_name":
                    error = existing_plugin_folder(self.given, value)
                    if error:
                        default = free_name(self.given, value)  # Enter now takes a name that is free
                        raise error
                return value
            except answers.AnswerError as error:
                print(f"error: {error}", file=sys.stderr, flush=True)

    @staticmethod
    def _yes(key, default) -> bool:
        try:
            return answers.parse_yes_no(key, default)
        except answers.AnswerError:
            return False


# --- filters ---------------------------------------------------------------------------------------


def quoted(value: object) -> str:
    """A double-quoted scalar that is valid, and round-trips exactly, in YAML, TOML and JSON."""
    return json.dumps(str(value), ensure_ascii=False)


def plan(cookiecutter: dict):
    """Resolve the answers (already checked while prompting) into a Plan."""
    return answers.validate(dict(cookiecutter))


def as_provider_name(label: str) -> str:
    """The provider name a display name suggests ("Acme AI (Ana)" -> "acme_ai_ana")."""
    return answers.slugify(label)


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
    """Up to two letters for the generated icon ("Acme AI" -> "AA")."""
    words = [w for w in str(label).replace("-", " ").replace("_", " ").split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]) or "?"
    return letters.upper()


class DifyExtension(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        # The next environment (maybe another template commit, for cruft) imports this file again.
        sys.modules.pop(__name__, None)
        try:
            os.unlink(importlib.util.cache_from_source(__file__))
        except (OSError, NotImplementedError):
            pass
        self.given = Given(_caller_locals())
        self.session = None
        prompting = _prompting_frame()
        if prompting is not None:
            found = self.given.problems()
            if found:
                refuse(found)
            self.session = Session(prompting, self.given)
            self.session.install()
        environment.filters["quoted"] = quoted
        environment.filters["plan"] = plan
        environment.filters["initials"] = initials
        environment.filters["answers_record"] = answers_record
        environment.filters["as_provider_name"] = as_provider_name
        environment.filters["check_answers"] = self.check_answers
        # Where the hooks find answers.py: absolute, whatever directory cookiecutter ran from.
        environment.globals["hooks_dir"] = str(TEMPLATE_DIR / "hooks")

    def check_answers(self, cookiecutter: dict) -> str:
        """The `__checked` variable: every rule over every answer, before any file exists."""
        if self.session is not None:
            self.session.uninstall()
        found = answers.problems(dict(cookiecutter))
        if not any(error.answer == "provider_name" for error in found):
            folder = existing_plugin_folder(self.given, cookiecutter.get("provider_name", ""))
            found += [folder] if folder else []
        if not found:  # every answer is good: only then ask the server to import from, if any
            found += [problem] if (problem := answers.import_problem(cookiecutter)) else []
        if found:
            refuse(found)
        if self.session is not None and self.session.asked:
            # The end of the questions: the last thing an interactive bake prints. Bakes without
            # prompts (CI, cruft, pytest-cookies) chose their answers on purpose and stay quiet.
            notice = answers.placeholder_notice(cookiecutter)
            if notice:
                print(notice, file=sys.stderr, flush=True)
        return "ok"
