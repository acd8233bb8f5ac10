"""The rules for template answers, shared by both hooks and the Jinja extension.

Each rule mirrors what the Dify plugin daemon (or the dify_plugin SDK) enforces on the
generated plugin, so a bad answer stops the bake with one line instead of breaking the
plugin at install time. Everything here is plain data and pure functions: no I/O.
Importable on Python 3.9+, since users run cookiecutter with whatever Python they have.
"""

from __future__ import annotations

import difflib
import json
import keyword
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ModelType:
    """One Dify model type and every name the generated plugin uses for it."""

    name: str  # provider YAML `supported_model_types` spelling, e.g. "text-embedding"
    folder: str  # `models/<folder>/<folder>.py` and the `models:` mapping key
    base_class: str  # dify_plugin base class the generated class subclasses
    title: str  # human name for README and prompts

    @property
    def answer(self) -> str:
        """The yes/no answer in cookiecutter.json that chooses this type."""
        return f"with_{self.folder}"


MODEL_TYPES: tuple[ModelType, ...] = (
    ModelType("llm", "llm", "LargeLanguageModel", "LLM"),
    ModelType("text-embedding", "text_embedding", "TextEmbeddingModel", "Text embedding"),
    ModelType("rerank", "rerank", "RerankModel", "Rerank"),
    ModelType("speech2text", "speech2text", "Speech2TextModel", "Speech to text"),
    ModelType("tts", "tts", "TTSModel", "Text to speech"),
    ModelType("moderation", "moderation", "ModerationModel", "Moderation"),
)
BY_NAME = {t.name: t for t in MODEL_TYPES} | {t.folder: t for t in MODEL_TYPES}

CONFIGURATE_METHODS = {
    "customizable-model": ("customizable-model",),
    "predefined-model": ("predefined-model",),
    "both": ("predefined-model", "customizable-model"),
}
IMPLEMENTATIONS = ("openai-compatible", "blank")

YES = {"y", "yes", "true", "1", "on"}
NO = {"n", "no", "false", "0", "off"}

# Daemon rules (manifest.yaml / provider YAML). The daemon's regexes are Go's: ASCII `\d`
# and `\w`, and `$` is the very end. Python needs re.ASCII and fullmatch() for the same
# meaning (its `$` also matches before a trailing newline).
NAME_RE = re.compile(r"^[a-z0-9_-]{1,128}$")
AUTHOR_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
VERSION_RE = re.compile(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$", re.ASCII)
# The SDK also parses the version with packaging.Version: the suffix must be a PEP 440 tag.
PEP440_SUFFIX_RE = re.compile(r"^(a|b|c|rc|alpha|beta|pre|preview|dev|post|rev|r)_?\d*$", re.I | re.ASCII)
CREATED_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.ASCII)
I18N_MAX = 1023
JINJA_MARKUP = ("{{", "}}", "{%", "%}", "{#", "#}")
# Characters YAML readers refuse or fold into line breaks (PyYAML and the daemon's Go yaml
# alike): C0/C1 controls, DEL, NEL, line/paragraph separators, surrogates, U+FEFF/FFFE/FFFF.
# Tab and newline are listed here too; the rules that allow them say so.
UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
SHOWN_MAX = 80  # longest value quoted back in an error line
# Names the generated modules import; a generated class must not shadow them.
RESERVED_CLASS_NAMES = frozenset({"ModelProvider"})


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


def slugify(text: str) -> str:
    """A provider name derived from free text ("Acme AI!" -> "acme_ai"); "" if nothing is left."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug[:128].rstrip("_")


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


def parse_yes_no(answer: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise AnswerError(answer, "must be yes or no", value, f"try {answer}=yes or {answer}=no")


def parse_model_types(value: str) -> tuple[ModelType, ...]:
    """Parse the comma-separated form, e.g. "llm, text-embedding"."""
    names = [part.strip() for part in value.split(",")]
    known = ",".join(t.name for t in MODEL_TYPES)
    chosen: list[ModelType] = []
    for name in names:
        if not name:
            raise AnswerError(
                "model_types", "must be a comma-separated list with no empty items", value, f"e.g. model_types={known}"
            )
        model_type = BY_NAME.get(name.lower())
        if model_type is None:
            raise AnswerError("model_types", f"has unknown model type {_shown(name)}", value, f"choose from {known}")
        if model_type in chosen:
            raise AnswerError("model_types", f"must not list {model_type.name} twice", value, "list each type once")
        chosen.append(model_type)
    # Keep Dify's canonical order so output does not depend on how the list was typed.
    return tuple(t for t in MODEL_TYPES if t in chosen)


def resolve_model_types(answers: Mapping) -> tuple[ModelType, ...]:
    """A non-empty `model_types` answer wins; otherwise the yes/no answers decide.

    Every yes/no answer must still be a yes or a no, even when `model_types` wins.
    """
    chosen = tuple(t for t in MODEL_TYPES if parse_yes_no(t.answer, answers.get(t.answer, "no")))
    listed = _text(answers, "model_types").strip()
    if listed:
        return parse_model_types(listed)
    if not chosen:
        raise AnswerError(
            "model_types",
            "at least one model type must be chosen",
            "",
            "answer yes to one with_* question or pass model_types=llm",
        )
    return chosen


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


def check_given_names(given: Mapping, known: Iterable[str]) -> None:
    """Refuse answers the template does not ask for (cookiecutter would silently ignore them)."""
    public = [name for name in known if not name.startswith("_")]
    for name, value in given.items():
        if name in public:
            continue
        if str(name).startswith("_"):
            raise AnswerError(name, "is set by the template and cannot be given", value, "leave it out")
        close = difflib.get_close_matches(str(name), public, n=1)
        hint = f"did you mean {close[0]}?" if close else f"the answers are {', '.join(public)}"
        raise AnswerError(name, "is not an answer of this template", value, hint)


def _text(answers: Mapping, key: str) -> str:
    value = answers.get(key)
    return "" if value is None else str(value)


def _check_i18n(answer: str, value: object, *, required: bool, single_line: bool) -> None:
    text = "" if value is None else str(value)
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


def _check_url(answer: str, value: object, *, required: bool) -> None:
    text = "" if value is None else str(value).strip()
    if not text and not required:
        return
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced "[" in the host
        parts, host = None, None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not host
        or any(c.isspace() for c in text)
        or UNSAFE_CHARS.search(text)
    ):
        raise AnswerError(answer, "must be an http(s) URL with a host", text, f"try {answer}=https://example.com/docs")


def validate(answers: Mapping, original: Mapping | None = None, defaults: Mapping | None = None) -> Plan:
    """Check every answer; return the plan or raise AnswerError for the first bad one.

    `answers` are the values as rendered by cookiecutter. `original` holds them as given,
    before cookiecutter rendered them as Jinja, and `defaults` the template's own values
    (cookiecutter.json), which may be Jinja on purpose. Any given value with template
    markup is refused: answers are data and never evaluated.
    """
    defaults = defaults or {}
    for values in (original or {}, answers):
        for key, given in values.items():
            if str(key).startswith("_") or given == defaults.get(key):
                continue
            check_given_value(key, given)

    label = _text(answers, "provider_label")
    _check_i18n("provider_label", label, required=True, single_line=True)
    _check_i18n("provider_label_zh_hans", answers.get("provider_label_zh_hans"), required=False, single_line=True)
    _check_i18n("description", answers.get("description"), required=True, single_line=False)

    provider = _text(answers, "provider_name")
    if not NAME_RE.fullmatch(provider):
        suggestion = slugify(provider) or slugify(label)
        hint = (
            f"try provider_name={suggestion}"
            if suggestion
            else "use lowercase letters, digits, _ or -, e.g. provider_name=my_provider"
        )
        raise AnswerError("provider_name", f"must match {NAME_RE.pattern}", provider, hint)

    author = _text(answers, "author")
    if not AUTHOR_RE.fullmatch(author):
        suggestion = slugify(author)[:64].rstrip("_")
        if suggestion and not UUID_RE.fullmatch(suggestion) and not _reserved_author(suggestion):
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

    version = _text(answers, "version")
    match = VERSION_RE.fullmatch(version)
    if not match or (match.group(2) and not PEP440_SUFFIX_RE.fullmatch(match.group(2)[1:])):
        raise AnswerError(
            "version",
            r"must look like 1.2.3 or 1.2.3-beta1 (^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$, PEP 440 suffix)",
            version,
            "try version=0.0.1",
        )

    _check_url("help_url", answers.get("help_url"), required=False)
    _check_url("repository_url", answers.get("repository_url"), required=False)

    types = resolve_model_types(answers)

    method = _text(answers, "configurate_method").strip()
    if method not in CONFIGURATE_METHODS:
        raise AnswerError(
            "configurate_method",
            f"must be one of {', '.join(CONFIGURATE_METHODS)}",
            method,
            "try configurate_method=customizable-model",
        )

    implementation = _text(answers, "implementation").strip()
    if implementation not in IMPLEMENTATIONS:
        raise AnswerError(
            "implementation",
            f"must be one of {', '.join(IMPLEMENTATIONS)}",
            implementation,
            "try implementation=openai-compatible",
        )

    created_at = answers.get("created_at")
    if created_at is not None and not CREATED_AT_RE.fullmatch(str(created_at)):
        raise AnswerError(
            "created_at", "must be an RFC 3339 time", created_at, "try created_at=2026-01-31T12:00:00Z or leave it out"
        )

    return Plan(
        provider=provider,
        class_prefix=class_prefix(provider),
        types=types,
        methods=CONFIGURATE_METHODS[method],
        implementation=implementation,
        unchosen=tuple(t for t in MODEL_TYPES if t not in types),
    )


def _reserved_author(author: str) -> bool:
    return "langgenius" in author or "dify" in author


# What the post-generation hook removes, as data. Paths are relative to the plugin root;
# "{folder}" stands for a model type's folder name.
PATHS_PER_TYPE = ("models/{folder}", "tests/test_{folder}.py")
PREDEFINED_ONLY = ("models/{folder}/_position.yaml", "models/{folder}/example-{folder}.yaml")
BLANK_OVERLAY = "_blank"  # files that replace the working code when implementation=blank
# Working-variant files the blank variant has no use for (it has no HTTP layer to test).
WORKING_ONLY = ("tests/fake_server.py", "tests/test_common.py", "tests/test_hostile.py")


def paths_to_remove(plan: Plan) -> list[str]:
    """Every path in the rendered tree that does not belong to this plugin."""
    paths = [p.format(folder=t.folder) for t in plan.unchosen for p in PATHS_PER_TYPE]
    if not plan.predefined:
        paths += [p.format(folder=t.folder) for t in plan.types for p in PREDEFINED_ONLY]
    return paths
