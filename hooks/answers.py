"""The rules for template answers, shared by both hooks and the Jinja extension.

Each rule mirrors what the Dify plugin daemon (or the dify_plugin SDK) enforces on the
generated plugin, so a bad answer stops the bake with one line instead of breaking the
plugin at install time. Everything here is plain data and pure functions: no I/O.
"""

from __future__ import annotations

import json
import keyword
import re
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

# Daemon rules (manifest.yaml / provider YAML).
NAME_RE = re.compile(r"^[a-z0-9_-]{1,128}$")
AUTHOR_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
VERSION_RE = re.compile(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$")
# The SDK also parses the version with packaging.Version: the suffix must be a PEP 440 tag.
PEP440_SUFFIX_RE = re.compile(r"^(a|b|c|rc|alpha|beta|pre|preview|dev|post|rev|r)_?\d*$", re.I)
I18N_MAX = 1023
JINJA_MARKUP = ("{{", "}}", "{%", "%}", "{#", "#}")


class AnswerError(ValueError):
    """A bad answer; `str()` is the one line shown to the user."""

    def __init__(self, answer: str, rule: str, got: object, hint: str = "") -> None:
        line = f"{answer}: {rule} (got {json.dumps(got, ensure_ascii=False)})"
        if hint:
            line += f"; {hint}"
        super().__init__(line)
        self.answer = answer


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
    """A provider name derived from free text ("Acme AI!" -> "acme_ai")."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug[:128]


def class_prefix(provider: str) -> str:
    """A CamelCase identifier from a provider name; valid for every accepted name."""
    prefix = "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]+", provider))
    if not prefix or not prefix.isidentifier() or keyword.iskeyword(prefix):
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
            raise AnswerError("model_types", "must be a comma-separated list with no empty items", value)
        model_type = BY_NAME.get(name.lower())
        if model_type is None:
            raise AnswerError("model_types", f"unknown model type {name!r}; known: {known}", value)
        if model_type in chosen:
            raise AnswerError("model_types", f"lists {model_type.name!r} twice", value)
        chosen.append(model_type)
    # Keep Dify's canonical order so output does not depend on how the list was typed.
    return tuple(t for t in MODEL_TYPES if t in chosen)


def resolve_model_types(answers: dict) -> tuple[ModelType, ...]:
    """A non-empty `model_types` answer wins; otherwise the yes/no answers decide."""
    listed = str(answers.get("model_types") or "").strip()
    if listed:
        return parse_model_types(listed)
    chosen = tuple(t for t in MODEL_TYPES if parse_yes_no(t.answer, answers.get(t.answer, "no")))
    if not chosen:
        raise AnswerError(
            "model_types",
            "at least one model type must be chosen",
            "",
            "answer yes to one with_* question or pass model_types=llm",
        )
    return chosen


def _check_i18n(answer: str, value: object, *, required: bool, single_line: bool) -> None:
    text = "" if value is None else str(value)
    if not text.strip():
        if required:
            raise AnswerError(answer, "must not be empty", text)
        return
    if len(text) > I18N_MAX:
        raise AnswerError(answer, f"must be at most {I18N_MAX} characters (Dify's limit)", text[:40] + "...")
    if single_line and any(ch in text for ch in "\r\n\t"):
        raise AnswerError(answer, "must be a single line without tabs", text)
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise AnswerError(answer, "must not contain control characters", text)


def _check_url(answer: str, value: object, *, required: bool) -> None:
    text = str(value or "").strip()
    if not text and not required:
        return
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in text):
        raise AnswerError(answer, "must be an http(s) URL with a host", text, f"try {answer}=https://example.com/docs")


def validate(answers: dict, original: dict | None = None) -> Plan:
    """Check every answer; return the plan or raise AnswerError for the first bad one.

    `original` holds the answers as given, before cookiecutter rendered them as Jinja:
    a value that changed while rendering carried template markup, which is refused.
    """
    for key, given in (original or {}).items():
        if key.startswith("_") or not isinstance(given, str):
            continue
        if any(mark in given for mark in JINJA_MARKUP):
            raise AnswerError(key, "must not contain Jinja markup such as {{ or {%", given)

    label = str(answers.get("provider_label", ""))
    _check_i18n("provider_label", label, required=True, single_line=True)
    _check_i18n("provider_label_zh_hans", answers.get("provider_label_zh_hans"), required=False, single_line=True)
    _check_i18n("description", answers.get("description"), required=True, single_line=False)

    provider = str(answers.get("provider_name", ""))
    if not NAME_RE.match(provider):
        suggestion = slugify(provider) or slugify(label)
        hint = f"try provider_name={suggestion}" if suggestion else "use lowercase letters, digits, _ or -"
        raise AnswerError("provider_name", f"must match {NAME_RE.pattern}", provider, hint)

    author = str(answers.get("author", ""))
    if not AUTHOR_RE.match(author):
        suggestion = slugify(author)[:64]
        hint = f"try author={suggestion}" if suggestion else "use your GitHub handle in lowercase"
        raise AnswerError("author", f"must match {AUTHOR_RE.pattern}", author, hint)
    if UUID_RE.match(author):
        raise AnswerError("author", "must not be a UUID (the daemon refuses it)", author)
    if "langgenius" in author or "dify" in author:
        raise AnswerError("author", "must not contain 'langgenius' or 'dify' (Marketplace refuses it)", author)

    version = str(answers.get("version", ""))
    match = VERSION_RE.match(version)
    if not match or (match.group(2) and not PEP440_SUFFIX_RE.match(match.group(2)[1:])):
        raise AnswerError(
            "version",
            r"must look like 1.2.3 or 1.2.3-beta1 (^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$)",
            version,
            "try version=0.0.1",
        )

    _check_url("help_url", answers.get("help_url"), required=False)

    types = resolve_model_types(answers)

    method = str(answers.get("configurate_method", "")).strip()
    if method not in CONFIGURATE_METHODS:
        raise AnswerError("configurate_method", f"must be one of {', '.join(CONFIGURATE_METHODS)}", method)

    implementation = str(answers.get("implementation", "")).strip()
    if implementation not in IMPLEMENTATIONS:
        raise AnswerError("implementation", f"must be one of {', '.join(IMPLEMENTATIONS)}", implementation)

    return Plan(
        provider=provider,
        class_prefix=class_prefix(provider),
        types=types,
        methods=CONFIGURATE_METHODS[method],
        implementation=implementation,
        unchosen=tuple(t for t in MODEL_TYPES if t not in types),
    )


# What the post-generation hook removes, as data. Paths are relative to the plugin root;
# "{folder}" stands for a model type's folder name.
PATHS_PER_TYPE = ("models/{folder}", "tests/test_{folder}.py")
PREDEFINED_ONLY = ("models/{folder}/_position.yaml", "models/{folder}/example-{folder}.yaml")
BLANK_OVERLAY = "_blank"  # files that replace the working code when implementation=blank
WORKING_ONLY = ("tests/fake_server.py",)  # working-variant files the blank variant has no use for


def paths_to_remove(plan: Plan) -> list[str]:
    """Every path in the rendered tree that does not belong to this plugin."""
    paths = [p.format(folder=t.folder) for t in plan.unchosen for p in PATHS_PER_TYPE]
    if not plan.predefined:
        paths += [p.format(folder=t.folder) for t in plan.types for p in PREDEFINED_ONLY]
    return paths
