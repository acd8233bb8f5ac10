"""The predefined model files: one YAML per imported model in models/<folder>/, and each type's
_position.yaml, written as text (no YAML library is needed to make them; the SDK reads them).

A model's schema follows what its customizable form would give with the answers validation
detects (models/llm/detection.py's learned_answers; the schema rules of models/<type>/<type>.py).
Every imported file starts with MARKER: only such files are rewritten or removed by a refresh.
"""

import json
import re
from pathlib import Path

from models.server.limits import DEFAULT_ANSWER_TOKENS
from models.server.vocabulary import THINKING_ALWAYS, THINKING_SWITCHABLE, YES
from scripts.refresh.discovery import Found

MARKER = "# Imported from the model server by scripts/refresh_models.py, which rewrites or removes this file."
POSITION = "_position.yaml"
FOLDERS = {
    "llm": "llm",
    "text-embedding": "text_embedding",
    "rerank": "rerank",
    "speech2text": "speech2text",
    "tts": "tts",
    "moderation": "moderation",
}
# The defaults of the model classes when the server does not say (llm/settings.py, llm/parameters.py,
# text_embedding/text_embedding.py).
LLM_CONTEXT_SIZE, LLM_MAX_TOKENS, THINKING_MAX_TOKENS = 4096, 512, 4096
EMBEDDING_CONTEXT_SIZE, EMBEDDING_MAX_CHUNKS = 512, 32
# As models/llm/capabilities.py's REASONING_EFFORTS and RESPONSE_FORMATS.
REASONING_EFFORTS, RESPONSE_FORMATS = ["low", "medium", "high"], ["text", "json_object", "json_schema"]
# An LLM's features per detected answer, as models/llm/capabilities.py's model_features.
LLM_FEATURES = (
    ("function_calling", ("tool-call", "multi-tool-call", "stream-tool-call")),
    ("vision", ("vision",)),
)


def q(text: str) -> str:
    """A double-quoted YAML scalar (JSON's quoting is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def file_name(uid: str, taken: set[str]) -> str:
    """A file name for the model id ("Qwen/Qwen2.5:7b" -> "Qwen-Qwen2.5-7b.yaml"), unique in `taken`."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", uid).strip("-._") or "model"
    if stem.endswith("_position"):
        stem += "-model"  # the SDK skips files named *_position.yaml
    name, number = f"{stem}.yaml", 2
    while name.lower() in taken:
        name, number = f"{stem}-{number}.yaml", number + 1
    taken.add(name.lower())
    return name


def model_yaml(model: Found) -> str:
    head = [
        MARKER,
        f"model: {q(model.uid)}",
        "label:",
        f"  en_US: {q(model.uid)}",
        f"model_type: {model.model_type}",
    ]
    body = BODIES[model.model_type](model)
    return "\n".join(head + body) + "\n"


def _llm(model: Found) -> list[str]:
    from models.llm.detection import learned_answers  # only in plugins with an LLM

    answers = learned_answers(model.info) if model.info else {}
    features = [name for answer, names in LLM_FEATURES if answers.get(answer) == YES for name in names]
    features += [
        kind for kind in ("audio", "video", "document") if kind in answers.get("extra_inputs", "").split(", ")
    ]
    thinks = answers.get("thinking") in (THINKING_SWITCHABLE, THINKING_ALWAYS)
    features += ["agent-thought"] if thinks else []
    features += ["structured-output"] if answers.get("structured_output") == YES else []
    context = int(answers.get("context_size") or LLM_CONTEXT_SIZE)
    longest = min(DEFAULT_ANSWER_TOKENS, context)  # the form's max_tokens left empty (llm/settings.py)
    default = min(THINKING_MAX_TOKENS if thinks else LLM_MAX_TOKENS, longest)
    lines = ["features:", *(f"  - {name}" for name in features)] if features else []
    lines += ["model_properties:", f"  mode: {answers.get('mode') or 'chat'}", f"  context_size: {context}"]
    lines += ["parameter_rules:"]
    for name in ("temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty"):
        lines += [f"  - name: {name}", f"    use_template: {name}"]
    lines += ["  - name: max_tokens", "    use_template: max_tokens", f"    default: {default}", "    min: 1"]
    lines += [f"    max: {longest}"]
    return lines + feature_rules(answers)


def feature_rules(answers: dict[str, str]) -> list[str]:
    """The parameter rules of the detected features, as models/llm/capabilities.py's feature_rules."""
    rules: list[tuple[str, str, str, str, str, list[str]]] = []
    if answers.get("thinking") == THINKING_SWITCHABLE:
        rules.append(
            (
                "enable_thinking",
                "boolean",
                "Thinking",
                "思考模式",
                "Let the model reason before it answers.",
                [],
            )
        )
    if answers.get("thinking") in (THINKING_SWITCHABLE, THINKING_ALWAYS):
        effort = "How much the model reasons, for models that read this setting."
        rules.append(
            ("reasoning_effort", "string", "Reasoning effort", "推理强度", effort, REASONING_EFFORTS)
        )
    if answers.get("structured_output") == YES:
        follow = "json_schema makes the answer follow the JSON schema below."
        rules.append(("response_format", "string", "Response format", "回复格式", follow, RESPONSE_FORMATS))
    lines = []
    for name, kind, label, label_zh, help_text, options in rules:
        lines += [f"  - name: {name}", f"    type: {kind}", "    required: false", "    label:"]
        lines += [
            f"      en_US: {q(label)}",
            f"      zh_Hans: {q(label_zh)}",
            "    help:",
            f"      en_US: {q(help_text)}",
        ]
        lines += ["    options:", *(f"      - {option}" for option in options)] if options else []
    if answers.get("structured_output") == YES:
        lines += ["  - name: json_schema", "    use_template: json_schema"]
    return lines


def _embedding(model: Found) -> list[str]:
    context = (model.info.context_size if model.info else None) or EMBEDDING_CONTEXT_SIZE
    return ["model_properties:", f"  context_size: {context}", f"  max_chunks: {EMBEDDING_MAX_CHUNKS}"]


def _rerank(model: Found) -> list[str]:
    context = (model.info.context_size if model.info else None) or EMBEDDING_CONTEXT_SIZE
    return ["model_properties:", f"  context_size: {context}"]


def _speech2text(model: Found) -> list[str]:
    extensions = "flac,mp3,mp4,mpeg,mpga,m4a,ogg,wav,webm"
    return ["model_properties:", "  file_upload_limit: 25", f"  supported_file_extensions: {extensions}"]


def _tts(model: Found) -> list[str]:
    voice = ["    - mode: alloy", "      name: Alloy", '      language: ["en-US"]']
    return ["model_properties:", "  default_voice: alloy", "  voices:", *voice, "  word_limit: 3500"] + [
        "  audio_type: mp3",
        "  max_workers: 5",
    ]


def _moderation(model: Found) -> list[str]:
    return ["model_properties: {}"]


BODIES = {
    "llm": _llm,
    "text-embedding": _embedding,
    "rerank": _rerank,
    "speech2text": _speech2text,
    "tts": _tts,
    "moderation": _moderation,
}


def names_in(path: Path) -> list[str]:
    """The entries of a _position.yaml, or the `model:` of a model file (the lines as written here)."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(?:- |model: )(.+?)\s*", line)
        if match:
            value = match.group(1)
            found.append(json.loads(value) if value.startswith('"') else value.strip("'"))
    return found


def position_yaml(names: list[str]) -> str:
    return "".join(f"- {q(name)}\n" for name in names)


def imported(path: Path) -> bool:
    return path.read_text(encoding="utf-8").startswith(MARKER)


def wanted_files(root: Path, models: list[Found], types: tuple[str, ...]) -> dict[str, str]:
    """Every file the import owns, by path under `root`, with the text it should have: the
    models' YAMLs and each type's _position.yaml (hand-written models first, as they were; a
    hand-written file wins over a server model of the same name)."""
    files: dict[str, str] = {}
    for model_type in types:
        folder = root / "models" / FOLDERS[model_type]
        own = [p for p in sorted(folder.glob("*.yaml")) if p.name != POSITION and not imported(p)]
        taken = {p.name.lower() for p in own} | {POSITION}
        hand_written = [name for p in own for name in names_in(p)[:1]]
        earlier = names_in(folder / POSITION) if (folder / POSITION).exists() else []
        order = [name for name in earlier if name in hand_written]
        order += [name for name in hand_written if name not in order]
        for model in (m for m in models if m.model_type == model_type and m.uid not in hand_written):
            files[f"models/{folder.name}/{file_name(model.uid, taken)}"] = model_yaml(model)
            order.append(model.uid)
        files[f"models/{folder.name}/{POSITION}"] = position_yaml(order)
    return files


def owned_files(root: Path, types: tuple[str, ...]) -> dict[str, str]:
    """The files an earlier import wrote (and the position files), with their text now."""
    files: dict[str, str] = {}
    for model_type in types:
        folder = root / "models" / FOLDERS[model_type]
        for path in sorted(folder.glob("*.yaml")):
            if path.name == POSITION or imported(path):
                files[f"models/{folder.name}/{path.name}"] = path.read_text(encoding="utf-8")
    return files
