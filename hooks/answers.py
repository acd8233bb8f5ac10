"""The rules for template answers, shared by both hooks and the Jinja extension.

Each rule mirrors what the Dify plugin daemon, the dify_plugin SDK or a YAML/TOML reader enforces
on the generated plugin, so a bad answer stops the bake with one line instead of breaking the
plugin at install time. `QUESTIONS` is the table of answers: how each is checked and how it is
asked. Everything here is plain data and pure functions: no I/O.
Importable on Python 3.9+, since users run cookiecutter with whatever Python they have.
"""

from __future__ import annotations

import datetime
import difflib
import json
import keyword
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ModelType:
    """One Dify model type and every name the generated plugin uses for it."""

    name: str  # provider YAML `supported_model_types` spelling, e.g. "text-embedding"
    folder: str  # `models/<folder>/<folder>.py` and the `models:` mapping key
    base_class: str  # dify_plugin base class the generated class subclasses
    title: str  # human name for README and prompts
    answer: str  # the yes/no answer in cookiecutter.json that chooses this type


MODEL_TYPES: tuple[ModelType, ...] = (
    ModelType("llm", "llm", "LargeLanguageModel", "LLM", "with_llm"),
    ModelType("text-embedding", "text_embedding", "TextEmbeddingModel", "Text embedding", "with_text_embedding"),
    ModelType("rerank", "rerank", "RerankModel", "Rerank", "with_rerank"),
    ModelType("speech2text", "speech2text", "Speech2TextModel", "Speech to text", "with_speech2text"),
    ModelType("tts", "tts", "TTSModel", "Text to speech", "with_tts"),
    ModelType("moderation", "moderation", "ModerationModel", "Moderation", "with_moderation"),
)
BY_NAME = {t.name: t for t in MODEL_TYPES} | {t.folder: t for t in MODEL_TYPES}

CONFIGURATE_METHODS = {
    "customizable-model": ("customizable-model",),
    "predefined-model": ("predefined-model",),
    "both": ("predefined-model", "customizable-model"),
}
IMPLEMENTATIONS = ("openai-compatible", "blank")

# cookiecutter's own yes/no spellings (its YesNoPrompt), in any letter case.
YES = {"y", "yes", "true", "t", "1", "on"}
NO = {"n", "no", "false", "f", "0", "off"}

# Daemon rules (manifest.yaml / provider YAML). The daemon's regexes are Go's: ASCII `\d`
# and `\w`, and `$` is the very end. Python needs re.ASCII and fullmatch() for the same
# meaning (its `$` also matches before a trailing newline).
NAME_RE = re.compile(r"^[a-z0-9_-]{1,128}$")
AUTHOR_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
VERSION_RE = re.compile(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$", re.ASCII)
# The SDK also parses the version with packaging.Version: the suffix must be a PEP 440 tag.
PEP440_SUFFIX_RE = re.compile(r"^(a|b|c|rc|alpha|beta|pre|preview|dev|post|rev|r)_?\d*$", re.I | re.ASCII)
# RFC 3339 as both the SDK (pydantic) and the daemon (Go's time) read it; checked for a real
# calendar time separately. Nine fraction digits is Go's limit (nanoseconds).
CREATED_AT_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))", re.ASCII
)
I18N_MAX = 1023
JINJA_MARKUP = ("{{", "}}", "{%", "%}", "{#", "#}")
# Characters YAML readers refuse or fold into line breaks (PyYAML and the daemon's Go yaml
# alike): C0/C1 controls, DEL, NEL, line/paragraph separators, surrogates, U+FEFF/FFFE/FFFF.
# Tab and newline are listed here too; the rules that allow them say so.
UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
SHOWN_MAX = 80  # longest value quoted back in an error line
# Names the generated modules import; a generated class must not shadow them.
RESERVED_CLASS_NAMES = frozenset({"ModelProvider"})
# Keys cookiecutter and cruft write into every context themselves (e.g. into a plugin's
# .cookiecutter.json or .cruft.json). Handing them back, as `--extra-context-file` does, is harmless.
BOOKKEEPING = frozenset({"_template", "_output_dir", "_repo_dir", "_checkout", "_commit"})


def _shown(value: object) -> str:
    """`value` as a JSON literal on one line, with nothing a terminal would treat as a break."""
    if isinstance(value, str) and len(value) > SHOWN_MAX:
        value = value[:SHOWN_MAX] + "..."
    text = json.dumps(value, ensure_ascii=False, default=str)
    return UNSAFE_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class AnswerError(ValueError):
    """A bad answer; `str()` is the one line shown to the user: answer, rule, value, fix."""

    def __init__(self, answer: str, rule: str, got: object, hint: str = "") -> None:
        name = answer if re.fullmatch(r"[A-Za-z0-9_]+", str(answer)) else _shown(str(answer))
        line = f"{name}: {rule} (got {_shown(got)})"
        if hint:
            line += f"; {hint}"
        super().__init__(line)
        self.answer = answer
        self.rule = rule


@dataclass(frozen=True)
class Plan:
    """What the answers resolve to: everything the templates and hooks need."""

    provider: str
    class_prefix: str
    types: tuple[ModelType, ...]
    methods: tuple[str, ...]
    implementation: str
    unchosen: tuple[ModelType, ...] = field(default=())
    imports_from: str = ""  # the server whose models the bake writes as predefined models

    @property
    def imports(self) -> bool:
        return bool(self.imports_from)

    @property
    def type_names(self) -> list[str]:
        return [t.name for t in self.types]

    @property
    def folders(self) -> list[str]:
        return [t.folder for t in self.types]

    @property
    def predefined(self) -> bool:
        return "predefined-model" in self.methods

    @property
    def customizable(self) -> bool:
        return "customizable-model" in self.methods

    def has(self, name: str) -> bool:
        return name in self.type_names or name in self.folders

    def class_name(self, model_type: ModelType | str) -> str:
        t = BY_NAME[model_type] if isinstance(model_type, str) else model_type
        return f"{self.class_prefix}{t.base_class}"

    @property
    def provider_class(self) -> str:
        return f"{self.class_prefix}Provider"


def slugify(text: str, separator: str = "_", limit: int = 128) -> str:
    """A name made of free text ("Acme AI!" -> "acme_ai"); "" if nothing is left."""
    slug = re.sub(r"[^a-z0-9]+", separator, str(text).lower()).strip(separator)
    return slug[:limit].rstrip(separator)


def class_prefix(provider: str) -> str:
    """A CamelCase identifier from a provider name; valid for every accepted name.

    "my-llm_server" -> "MyLlmServer"; names that would start with a digit, be a keyword
    ("none" -> "None") or shadow an imported SDK class ("model" -> "ModelProvider") get a
    "Provider" prefix.
    """
    prefix = "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]+", provider))
    if (
        not prefix
        or not prefix.isidentifier()
        or keyword.iskeyword(prefix)
        or f"{prefix}Provider" in RESERVED_CLASS_NAMES
    ):
        prefix = "Provider" + prefix
    return prefix


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _yaml_hint(value: object) -> str:
    """For a value a YAML config file turned into a non-string: how to keep it text."""
    kinds = {bool: "a boolean", int: "a number", float: "a number", datetime.date: "a date"}
    for kind, said in kinds.items():
        if isinstance(value, kind):
            return f"YAML read it as {said}: put the value in quotes"
    return "YAML read it as null: put the value in quotes" if value is None else ""


def _closest(value: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(value.strip().lower(), list(options), n=1, cutoff=0.5)
    return close[0] if close else ""


# --- one rule per answer ---------------------------------------------------------------------


def check_no_markup(answer: str, value: object) -> None:
    """Answers are data: refuse anything cookiecutter would evaluate as a Jinja template."""
    if isinstance(value, str) and any(mark in value for mark in JINJA_MARKUP):
        raise AnswerError(
            answer,
            "must not contain Jinja markup ({{ }}, {% %} or {# #})",
            value,
            "answers are used as plain text; remove the braces",
        )


def check_given_value(answer: str, value: object) -> None:
    """Rules for a value as given, before cookiecutter renders it.

    Rendering would evaluate Jinja markup and turn a carriage return into a newline, so the
    rendered value would silently differ from the given one: refuse both.
    """
    check_no_markup(answer, value)
    if isinstance(value, str) and "\r" in value:
        raise AnswerError(
            answer, "must not contain control or non-printable characters (U+000D)", value, "remove the carriage return"
        )


def _check_i18n(answer: str, value: object, *, required: bool, single_line: bool) -> None:
    check_given_value(answer, value)
    text = _text(value)
    if not text.strip():
        if required:
            example = "Acme AI" if "label" in answer else "Models served by my own server"
            raise AnswerError(answer, "must not be empty", text, f"e.g. {answer}={_shown(example)}")
        return
    if len(text) > I18N_MAX:
        raise AnswerError(answer, f"must be at most {I18N_MAX} characters (Dify's limit)", text, "shorten it")
    if single_line and any(ch in text for ch in "\r\n\t"):
        raise AnswerError(answer, "must be a single line without tabs", text, "put it on one line")
    unsafe = UNSAFE_CHARS.search(text if single_line else text.replace("\n", "").replace("\t", ""))
    if unsafe:
        raise AnswerError(
            answer,
            f"must not contain control or non-printable characters (U+{ord(unsafe.group()):04X})",
            text,
            "remove it",
        )


def check_label(value: object, answers: Mapping) -> None:
    _check_i18n("provider_label", value, required=True, single_line=True)


def check_label_zh_hans(value: object, answers: Mapping) -> None:
    _check_i18n("provider_label_zh_hans", value, required=False, single_line=True)


def check_description(value: object, answers: Mapping) -> None:
    _check_i18n("description", value, required=True, single_line=False)


def check_provider_name(value: object, answers: Mapping) -> None:
    """The daemon's name pattern, and a valid Python package name for pyproject.toml.

    Values YAML would read as something else (`123`, `true`, `null`, `0x1f`) are fine: the
    templates quote the name wherever it is written as a YAML or TOML value.
    """
    check_given_value("provider_name", value)
    name = _text(value)
    if not NAME_RE.fullmatch(name):
        label = _text(answers.get("provider_label"))
        suggestion = slugify(name) or slugify(label)
        if suggestion:
            hint = f"try provider_name={suggestion}"
        elif not name and label.strip():
            hint = f"the display name {_shown(label)} has no ASCII letters or digits: e.g. provider_name=my_provider"
        else:
            hint = "use lowercase letters, digits, _ or -, e.g. provider_name=my_provider"
        raise AnswerError("provider_name", f"must match {NAME_RE.pattern}", name, hint)
    if not (name[0].isalnum() and name[-1].isalnum()):
        # pyproject.toml's [project] name; uv (which the newest daemon runs) refuses any other.
        trimmed = name.strip("_-")
        hint = f"try provider_name={trimmed}" if trimmed else "e.g. provider_name=my_provider"
        raise AnswerError(
            "provider_name", "must start and end with a letter or digit (a Python package name)", name, hint
        )


def check_author(value: object, answers: Mapping) -> None:
    check_given_value("author", value)
    author = _text(value)
    if not AUTHOR_RE.fullmatch(author):
        suggestion = slugify(author, "-", 64)
        if _yaml_hint(value):
            hint = _yaml_hint(value)
        elif suggestion and not UUID_RE.fullmatch(suggestion) and not _reserved_author(suggestion):
            hint = f"try author={suggestion}"
        else:
            hint = "use your GitHub handle in lowercase"
        raise AnswerError("author", f"must match {AUTHOR_RE.pattern}", author, hint)
    if UUID_RE.fullmatch(author):
        raise AnswerError("author", "must not be a UUID (the daemon refuses it)", author, "use your GitHub handle")
    if _reserved_author(author):
        raise AnswerError(
            "author",
            "must not contain 'langgenius' or 'dify' (Marketplace refuses it)",
            author,
            "use your GitHub handle",
        )


def _reserved_author(author: str) -> bool:
    return "langgenius" in author or "dify" in author


def check_version(value: object, answers: Mapping) -> None:
    check_given_value("version", value)
    version = _text(value)
    match = VERSION_RE.fullmatch(version)
    if match and (not match.group(2) or PEP440_SUFFIX_RE.fullmatch(match.group(2)[1:])):
        return
    rule = r"must look like 1.2.3 or 1.2.3-beta1 (^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$, PEP 440 suffix)"
    core = re.fullmatch(r"[vV]?(\d{1,4}(?:\.\d{1,4}){0,2})", version.strip(), re.ASCII)
    if _yaml_hint(value):
        hint = _yaml_hint(value)
    elif core:
        parts = core.group(1).split(".")
        hint = f"try version={'.'.join(parts + ['0'] * (3 - len(parts)))}"
    elif match:
        hint = f"the suffix must be a pre- or post-release tag, e.g. version={match.group(0).split('-')[0]}-beta1"
    else:
        hint = "try version=0.0.1"
    raise AnswerError("version", rule, version, hint)


def _url_rule(answer: str, example: str) -> Callable[[object, Mapping], None]:
    """An optional http(s) URL with a host; a near miss gets the URL it probably means."""

    def check(value: object, answers: Mapping) -> None:
        check_given_value(answer, value)
        text = _text(value).strip()
        if not text:
            return
        try:
            parts = urlsplit(text)
            host = parts.hostname
        except ValueError:  # e.g. an unbalanced "[" in the host
            parts, host = None, None
        if (
            parts is not None
            and parts.scheme in ("http", "https")
            and host
            and not any(c.isspace() for c in text)
            and not UNSAFE_CHARS.search(text)
        ):
            return
        if re.fullmatch(r"[\w.-]+\.[a-z]{2,}(:\d+)?(/\S*)?", text, re.ASCII | re.I):
            hint = f"try {answer}=https://{text}"  # a host without the scheme
        elif answer == "repository_url" and re.fullmatch(r"[\w.-]+/[\w.-]+", text, re.ASCII):
            hint = f"try {answer}=https://github.com/{text}"  # owner/name, as GitHub shows it
        else:
            hint = f"e.g. {answer}={example}, or empty"
        raise AnswerError(answer, "must be an http(s) URL with a host", text, hint)

    return check


# An email address as the Marketplace's contact: local part, @, a domain of dotted labels. The
# limits are RFC 5321's (section 4.5.3.1): 64 octets for the local part, 254 for the address in
# a 256-octet path with its angle brackets.
EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+",
    re.ASCII,
)
EMAIL_LOCAL_MAX, EMAIL_MAX = 64, 254


def check_contact(value: object, answers: Mapping) -> None:
    """An optional email address (the Marketplace asks for one with repository_url)."""
    check_given_value("contact", value)
    text = _text(value).strip()
    if not text:
        return
    rule = "must be an email address like you@example.com"
    bare = re.search(r"<([^<>\s]+@[^<>\s]+)>|mailto:(\S+@\S+)", text)
    if bare:
        raise AnswerError("contact", rule, text, f"give the address alone: contact={bare.group(1) or bare.group(2)}")
    if not EMAIL_RE.fullmatch(text):
        raise AnswerError("contact", rule, text, "e.g. contact=you@example.com, or empty")
    if len(text) > EMAIL_MAX or len(text.split("@")[0]) > EMAIL_LOCAL_MAX:
        raise AnswerError(
            "contact",
            f"must be at most {EMAIL_MAX} characters, {EMAIL_LOCAL_MAX} before the @ (RFC 5321)",
            text,
            "use a shorter address",
        )


def check_import_models_from(value: object, answers: Mapping) -> None:
    """An optional server URL whose model list the bake imports; it is recorded in the plugin's
    `.cookiecutter.json`, so it may not carry a password (the key comes from MODEL_SERVER_API_KEY)."""
    _url_rule("import_models_from", "http://192.168.1.10:9997")(value, answers)
    text = _text(value).strip()
    if text and "@" in urlsplit(text).netloc:
        bare = urlsplit(text)._replace(netloc=urlsplit(text).netloc.rsplit("@", 1)[-1]).geturl()
        raise AnswerError(
            "import_models_from",
            "must not contain a user or password (the plugin's answers record the URL)",
            bare,
            f"give import_models_from={bare} and the key in the environment variable {IMPORT_KEY_VARIABLE}",
        )


IMPORT_KEY_VARIABLE = "MODEL_SERVER_API_KEY"  # the server's API key for import_models_from, never an answer
IMPORT_CHECK_SECONDS = 10  # the listing asked before any file exists: one request, at most this long


def import_problem(answers: Mapping) -> AnswerError | None:
    """Why the server of `import_models_from` cannot be imported, asked before any file exists.

    One bounded GET of its model list (under the URL's path, else /v1, as the plugin's
    families/openai.py api_base), the key from IMPORT_KEY_VARIABLE: unreachable, a refused key or an
    empty list is a bad answer, one line like any other. The plugin's own scripts/refresh_models.py
    then reads the list again and describes each model (post_gen_project.py).
    """
    text = _text(answers.get("import_models_from")).strip()
    if not text:
        return None
    parts = urlsplit(text)
    url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/') or '/v1'}/models"
    key = os.environ.get(IMPORT_KEY_VARIABLE, "")
    headers = {"Accept": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=IMPORT_CHECK_SECONDS
        ) as reply:
            status, body = reply.status, reply.read(8 * 1024 * 1024)
    except urllib.error.HTTPError as error:
        status, body = error.code, b""
        error.close()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return AnswerError("import_models_from", f"the server must answer at {url}: got no answer: {reason}", text)
    if status in (401, 403):
        said = "the API key was refused" if key else "it needs an API key"
        return AnswerError(
            "import_models_from", f"{url} answered {status} ({said})", text, f"set {IMPORT_KEY_VARIABLE} to its API key"
        )
    try:
        data = json.loads(body).get("data") if status < 400 else None
    except (ValueError, AttributeError):
        data = None
    if not isinstance(data, list):
        return AnswerError(
            "import_models_from", f"{url} must answer an OpenAI-style model list; it answered {status}", text
        )
    if not data:
        return AnswerError("import_models_from", f"{url} lists no models", text, "start one on the server first")
    return None


def parse_yes_no(answer: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise AnswerError(answer, "must be yes or no", value, f"try {answer}=yes or {answer}=no")


def parse_model_types(value: object) -> tuple[ModelType, ...]:
    """The list form: "llm, text-embedding" on a command line, or a list from a config file."""
    names = [_text(item).strip() for item in value] if isinstance(value, (list, tuple)) else _text(value).split(",")
    names = [name.strip() for name in names]
    known = ",".join(t.name for t in MODEL_TYPES)
    chosen: list[ModelType] = []
    for name in names:
        if not name:
            raise AnswerError(
                "model_types", "must be a comma-separated list with no empty items", value, f"e.g. model_types={known}"
            )
        check_given_value("model_types", name)
        model_type = BY_NAME.get(name.lower())
        if model_type is None:
            close = _closest(name, BY_NAME)
            hint = f"did you mean {BY_NAME[close].name}?" if close else f"choose from {known}"
            raise AnswerError("model_types", f"has unknown model type {_shown(name)}", value, hint)
        if model_type in chosen:
            raise AnswerError("model_types", f"must not list {model_type.name} twice", value, "list each type once")
        chosen.append(model_type)
    # Keep Dify's canonical order so output does not depend on how the list was typed.
    return tuple(t for t in MODEL_TYPES if t in chosen)


def model_types_listed(value: object) -> bool:
    """Whether `model_types` was given (a non-empty list or text)."""
    return bool(value) if isinstance(value, (list, tuple)) else bool(_text(value).strip())


def check_model_types(value: object, answers: Mapping) -> None:
    if model_types_listed(value):
        parse_model_types(value)


def _yes_no_rule(answer: str) -> Callable[[object, Mapping], None]:
    def check(value: object, answers: Mapping) -> None:
        parse_yes_no(answer, value)

    return check


def _choice_rule(answer: str, choices: Iterable[str]) -> Callable[[object, Mapping], None]:
    options = tuple(choices)

    def check(value: object, answers: Mapping) -> None:
        check_given_value(answer, value)
        if _text(value).strip() in options:
            return
        close = _closest(_text(value), options)
        hint = f"did you mean {answer}={close}?" if close else f"try {answer}={options[0]}"
        raise AnswerError(answer, f"must be one of {', '.join(options)}", value, hint)

    return check


def check_created_at(value: object, answers: Mapping) -> None:
    """An RFC 3339 time that exists on the calendar (the plugin fails to start otherwise)."""
    check_given_value("created_at", value)
    text = _text(value)
    hint = _yaml_hint(value) or "e.g. created_at=2026-01-31T12:00:00Z, or leave it out for the time of the bake"
    match = CREATED_AT_RE.fullmatch(text)
    if not match:
        raise AnswerError("created_at", "must be an RFC 3339 time like 2026-01-31T12:00:00Z", value, hint)
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError as error:
        raise AnswerError("created_at", f"must be a real calendar time ({error})", value, hint) from None
    offset = match.group(7)
    if offset is not None and (int(offset) > 23 or int(match.group(8)) > 59):
        raise AnswerError("created_at", "must have a UTC offset between -23:59 and +23:59", value, hint)


# --- the table of answers --------------------------------------------------------------------

TEXT, YES_NO, CHOICE, NOT_ASKED = "text", "yes-no", "choice", "not asked"


@dataclass(frozen=True)
class Question:
    """How one answer is checked, and how cookiecutter's session asks it.

    `form` is TEXT (typed, re-asked until valid), YES_NO or CHOICE (cookiecutter's own yes/no
    and numbered-menu prompts, which re-ask by themselves), or NOT_ASKED (the default is kept
    unless the answer is given on the command line or in a config file).
    """

    check: Callable[[object, Mapping], None]
    form: str = TEXT
    choices: tuple[str, ...] = ()


QUESTIONS: dict[str, Question] = {
    "provider_label": Question(check_label),
    "provider_name": Question(check_provider_name),
    "author": Question(check_author),
    "description": Question(check_description),
    "help_url": Question(_url_rule("help_url", "https://example.com/docs")),
    "repository_url": Question(_url_rule("repository_url", "https://github.com/your-org/your-plugin"), NOT_ASKED),
    "contact": Question(check_contact, NOT_ASKED),
    "model_types": Question(check_model_types, NOT_ASKED),
    "with_llm": Question(_yes_no_rule("with_llm"), YES_NO),
    "with_text_embedding": Question(_yes_no_rule("with_text_embedding"), YES_NO),
    "with_rerank": Question(_yes_no_rule("with_rerank"), YES_NO),
    "with_speech2text": Question(_yes_no_rule("with_speech2text"), YES_NO),
    "with_tts": Question(_yes_no_rule("with_tts"), YES_NO),
    "with_moderation": Question(_yes_no_rule("with_moderation"), YES_NO),
    "configurate_method": Question(
        _choice_rule("configurate_method", CONFIGURATE_METHODS), CHOICE, tuple(CONFIGURATE_METHODS)
    ),
    "implementation": Question(_choice_rule("implementation", IMPLEMENTATIONS), CHOICE, IMPLEMENTATIONS),
    "import_models_from": Question(check_import_models_from, NOT_ASKED),
    "provider_label_zh_hans": Question(check_label_zh_hans, NOT_ASKED),
    "version": Question(check_version, NOT_ASKED),
    "created_at": Question(check_created_at, NOT_ASKED),
}


def check_types_chosen(answers: Mapping) -> None:
    """At least one model type, whichever way the types were chosen."""
    if model_types_listed(answers.get("model_types")):
        return
    if not any(parse_yes_no(t.answer, answers.get(t.answer, "no")) for t in MODEL_TYPES):
        raise AnswerError(
            "model_types",
            "at least one model type must be chosen",
            "",
            "answer yes to one with_* question or give model_types=llm",
        )


def check_marketplace_contact(answers: Mapping) -> None:
    """A bake for the Marketplace (one with repository_url) gives a contact too: a submission
    names both (the Marketplace's pull request template, and the plugin's README)."""
    if _text(answers.get("repository_url")).strip() and not _text(answers.get("contact")).strip():
        raise AnswerError(
            "contact",
            "must be given with repository_url (a Marketplace submission names a contact email)",
            "",
            "e.g. contact=you@example.com",
        )


def check_import_needs_code(answers: Mapping) -> None:
    """Importing models asks the server with the working code's own requests: blank has none."""
    if _text(answers.get("import_models_from")).strip() and _text(answers.get("implementation")).strip() == "blank":
        raise AnswerError(
            "import_models_from",
            "needs implementation=openai-compatible (the blank variant has no code that asks a server)",
            answers.get("import_models_from"),
            "leave import_models_from empty, or choose implementation=openai-compatible",
        )


# Rules over several answers: (the answers they read, the rule). At the prompt each one runs
# when the last answer it reads has been given.
ACROSS: tuple[tuple[tuple[str, ...], Callable[[Mapping], None]], ...] = (
    (("model_types", *(t.answer for t in MODEL_TYPES)), check_types_chosen),
    (("repository_url", "contact"), check_marketplace_contact),
    (("implementation", "import_models_from"), check_import_needs_code),
)


# Answers whose default cookiecutter.json makes from another answer: while that one is bad, an
# error in a value made from it only repeats the same mistake.
DERIVED: dict[str, tuple[str, Callable[[object, object], bool]]] = {
    "provider_name": ("provider_label", lambda value, label: _text(value) == slugify(_text(label))),
    "description": ("provider_label", lambda value, label: _text(label) in _text(value)),
}


def check_answer(key: str, value: object, answers: Mapping) -> None:
    """One answer as it is given at the prompt, with the answers given before it."""
    question = QUESTIONS.get(key)
    if question is None:
        return
    question.check(value, answers)
    for reads, rule in ACROSS:
        if reads[-1] == key:
            rule({**answers, key: value})


def problems(answers: Mapping, *, derived: bool = True) -> list[AnswerError]:
    """Every bad answer, one error each, in question order.

    With `derived`, values may have been made from other answers by cookiecutter.json (as after
    rendering): an error that only repeats a bad label is left out. Without, all were given.
    """
    found: dict[str, AnswerError] = {}
    for key, question in QUESTIONS.items():
        if key in answers:
            try:
                question.check(answers[key], answers)
            except AnswerError as error:
                found[key] = error
    for reads, rule in ACROSS:
        if not any(key in found for key in reads):
            try:
                rule(answers)
            except AnswerError as error:
                found.setdefault(error.answer, error)
    for key, (source, made_from) in DERIVED.items() if derived else ():
        if key in found and made_from(answers.get(key), answers.get(source)):
            if source in found:
                del found[key]  # the bad label is the one mistake
            elif key == "provider_name":
                found[key] = label_gives_no_name(answers.get(source))  # name the answer that was given
    return list(found.values())


def label_gives_no_name(label: object) -> AnswerError:
    """The error for a display name with nothing a provider name can be made of ("~", "阿里云")."""
    return AnswerError(
        "provider_label",
        "gives no usable provider_name: it has no ASCII letters or digits",
        label,
        "give provider_name=my_provider as well, or put such letters in the label",
    )


def unknown_names(given: Mapping, known: Iterable[str], *, typos_only: bool = False) -> list[AnswerError]:
    """Answers the template does not ask for (cookiecutter would silently ignore them).

    With `typos_only` (a config file's `default_context`, which every template reads) only
    names close to one of this template's answers are refused; the rest belong to other
    templates.
    """
    known = list(known)
    public = [name for name in known if not name.startswith("_")]
    errors = []
    for name, value in given.items():
        name = str(name)
        if name in public or name in BOOKKEEPING:
            continue
        close = difflib.get_close_matches(name.lower(), public, n=1, cutoff=0.8 if typos_only else 0.6)
        if typos_only and not close:
            continue
        if name in known:
            errors.append(AnswerError(name, "is set by the template and cannot be given", value, "leave it out"))
            continue
        hint = f"did you mean {close[0]}?" if close else f"the answers are {', '.join(public)}"
        errors.append(AnswerError(name, "is not an answer of this template", value, hint))
    return errors


def conflicts(given: Mapping, defaults: Mapping) -> list[AnswerError]:
    """A with_* answer changed from its default next to model_types must agree with the list.

    The answers a plugin records (`.cookiecutter.json`, cruft's `.cruft.json`) hold the list and
    the with_* defaults together; giving them back is not a contradiction.
    """
    if not model_types_listed(given.get("model_types")):
        return []
    try:
        listed = parse_model_types(given["model_types"])
    except AnswerError:
        return []
    errors = []
    for model_type in MODEL_TYPES:
        if model_type.answer in given:
            try:
                chosen = parse_yes_no(model_type.answer, given[model_type.answer])
                changed = chosen != parse_yes_no(model_type.answer, defaults.get(model_type.answer))
            except AnswerError:
                continue
            if changed and chosen != (model_type in listed):
                errors.append(
                    AnswerError(
                        model_type.answer,
                        "contradicts model_types",
                        given[model_type.answer],
                        "give the types one way: model_types or the with_* answers",
                    )
                )
    return errors


# Defaults of cookiecutter.json that stand for the author's own values; a bake that keeps them
# works, but publishes someone else's name or help page.
PLACEHOLDER_AUTHOR = "your-name"
XINFERENCE_HELP_URL = "https://inference.readthedocs.io/"


def placeholder_notice(answers: Mapping) -> str:
    """One line naming the placeholder answers kept unchanged, or "" when there are none."""
    kept = []
    if _text(answers.get("author")) == PLACEHOLDER_AUTHOR:
        kept.append(f"author is still {_shown(PLACEHOLDER_AUTHOR)} (manifest.yaml)")
    label = _text(answers.get("provider_label"))
    if _text(answers.get("help_url")) == XINFERENCE_HELP_URL and "xinference" not in label.lower():
        kept.append(f"help_url still links Xinference's docs (provider/{_text(answers.get('provider_name'))}.yaml)")
    return f"notice: {' and '.join(kept)}: edit before you publish" if kept else ""


def resolve_model_types(answers: Mapping) -> tuple[ModelType, ...]:
    """A non-empty `model_types` answer wins; otherwise the yes/no answers decide."""
    if model_types_listed(answers.get("model_types")):
        return parse_model_types(answers["model_types"])
    return tuple(t for t in MODEL_TYPES if parse_yes_no(t.answer, answers.get(t.answer, "no")))


def validate(answers: Mapping) -> Plan:
    """Check every answer; return the plan, or raise the first AnswerError."""
    found = problems(answers)
    if found:
        raise found[0]
    provider = _text(answers.get("provider_name"))
    types = resolve_model_types(answers)
    imports_from = _text(answers.get("import_models_from")).strip()
    methods = CONFIGURATE_METHODS[_text(answers.get("configurate_method")).strip()]
    if imports_from and "predefined-model" not in methods:
        methods = CONFIGURATE_METHODS["both"]  # imported models are predefined; adding by hand stays
    return Plan(
        provider=provider,
        class_prefix=class_prefix(provider),
        types=types,
        methods=methods,
        implementation=_text(answers.get("implementation")).strip(),
        unchosen=tuple(t for t in MODEL_TYPES if t not in types),
        imports_from=imports_from,
    )


# What the post-generation hook removes, as data. Paths are relative to the plugin root;
# "{folder}" stands for a model type's folder name.
PATHS_PER_TYPE = ("models/{folder}", "tests/test_{folder}.py", "tests/test_features_{folder}.py")
EXAMPLE_MODEL = "models/{folder}/example-{folder}.yaml"
PREDEFINED_ONLY = ("models/{folder}/_position.yaml", EXAMPLE_MODEL)
# The import of a server's model list (import_models_from), kept for refreshing it later.
MODEL_IMPORT = ("scripts/refresh_models.py", "scripts/refresh", "tests/test_refresh_models.py")
# Shared code that only one model type uses, by that type's folder (SSE streams and huge prompts are the LLM's).
SHARED_BY_ONE_TYPE = {"llm": ("models/server/events.py", "tests/test_event_loop.py", "tests/test_memory.py")}
BLANK_OVERLAY = "_blank"  # files that replace the working code when implementation=blank
# Working-variant files and folders the blank variant has no use for (it has no HTTP layer to test).
WORKING_ONLY = (
    "models/server",
    *MODEL_IMPORT,
    "models/llm/answers.py",
    "models/llm/capabilities.py",
    "models/llm/chunks.py",
    "models/llm/detection.py",
    "models/llm/messages.py",
    "models/llm/overflow.py",
    "models/llm/parameters.py",
    "models/llm/settings.py",
    "models/llm/thinking.py",
    "scripts/check/server.py",
    "tests/fake_families.py",
    "tests/fake_server.py",
    "tests/test_server_families.py",
    "tests/test_server.py",
    "tests/test_guide.py",
    "tests/test_hostile.py",
    "tests/test_network.py",
    "tests/test_credential_sizes.py",
    "tests/test_memory.py",
    "tests/test_privacy.py",
    "tests/forward_proxy.py",
    "tests/test_event_loop.py",
    "models/features.py",
    "tests/test_features.py",
    "tests/test_features_llm.py",
    "tests/test_features_text_embedding.py",
    "tests/test_features_rerank.py",
    "tests/test_features_speech2text.py",
)
# Files inside WORKING_ONLY's folders that the blank variant keeps: the daemon's limits bind every plugin.
KEPT_IN_BLANK = ("models/server/daemon.py",)


def paths_to_remove(plan: Plan) -> list[str]:
    """Every path in the rendered tree that does not belong to this plugin."""
    paths = [p.format(folder=t.folder) for t in plan.unchosen for p in PATHS_PER_TYPE]
    paths += [p for t in plan.unchosen for p in SHARED_BY_ONE_TYPE.get(t.folder, ())]
    if not plan.predefined:
        paths += [p.format(folder=t.folder) for t in plan.types for p in PREDEFINED_ONLY]
        paths += list(MODEL_IMPORT)
    elif plan.imports:
        paths += [EXAMPLE_MODEL.format(folder=t.folder) for t in plan.types]  # the server's models replace them
    return paths
