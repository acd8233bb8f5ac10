"""What an LLM can do: the features and parameter rules its schema declares, the request fields
those parameters become, and what to do when the server refuses one."""

import json
import re
from collections.abc import Mapping
from typing import Any

from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import ModelFeature, ParameterRule, ParameterType
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeBadRequestError

from models import features
from models.llm import overflow
from models.server.connection import Connection
from models.server.vocabulary import FIELD, THINKING_ALWAYS, THINKING_SWITCHABLE, Fault

REASONING_EFFORTS = ["low", "medium", "high"]
# Response formats of a model with structured output, as Dify's structured output expects them.
RESPONSE_FORMATS = ["text", "json_object", "json_schema"]
# Inputs besides text and images, named in the `extra_inputs` credential.
EXTRA_INPUTS = {"audio": ModelFeature.AUDIO, "video": ModelFeature.VIDEO, "document": ModelFeature.DOCUMENT}


def extra_inputs(credentials: Mapping[str, Any], strict: bool = False) -> list[str]:
    """The inputs besides text and images named in `extra_inputs` (audio, video, document).

    With `strict`, an unknown name raises CredentialsValidateFailedError naming the answer.
    """
    answer = str(credentials.get("extra_inputs") or "")
    named = {item.strip().lower().removesuffix("s") for item in re.split(r"[,;\s]+", answer)} - {""}
    for item in sorted(named):
        if strict and item not in EXTRA_INPUTS:
            rule = f"{item!r} is not one of {', '.join(EXTRA_INPUTS)} (comma-separated)"
            raise Fault(FIELD, field="extra_inputs", rule=rule).on(
                CredentialsValidateFailedError(f"extra_inputs: {rule}")
            )
    return [kind for kind in EXTRA_INPUTS if kind in named]


def model_features(credentials: Mapping[str, Any]) -> list[ModelFeature]:
    """The features Dify shows for the model: only those its credentials enable."""
    found = []
    if features.enabled(credentials, "function_calling"):
        found += [ModelFeature.TOOL_CALL, ModelFeature.MULTI_TOOL_CALL, ModelFeature.STREAM_TOOL_CALL]
    if features.enabled(credentials, "vision"):
        found.append(ModelFeature.VISION)
    found += [EXTRA_INPUTS[kind] for kind in extra_inputs(credentials)]
    if credentials.get("thinking") in (THINKING_SWITCHABLE, THINKING_ALWAYS):
        found.append(ModelFeature.AGENT_THOUGHT)
    if features.enabled(credentials, "structured_output"):
        found.append(ModelFeature.STRUCTURED_OUTPUT)
    return found


def feature_rules(credentials: Mapping[str, Any]) -> list[ParameterRule]:
    """The parameters of the features the credentials enable (none for a plain model)."""
    rules = []
    thinking = credentials.get("thinking")
    if thinking == THINKING_SWITCHABLE:
        rules.append(
            rule(
                "enable_thinking",
                ParameterType.BOOLEAN,
                "Thinking",
                "思考模式",
                "Let the model reason before it answers.",
            )
        )
    if thinking in (THINKING_SWITCHABLE, THINKING_ALWAYS):
        effort = "How much the model reasons, for models that read this setting."
        rules.append(
            rule(
                "reasoning_effort",
                ParameterType.STRING,
                "Reasoning effort",
                "推理强度",
                effort,
                REASONING_EFFORTS,
            )
        )
    if features.enabled(credentials, "structured_output"):
        follow = "json_schema makes the answer follow the JSON schema below."
        rules.append(
            rule(
                "response_format",
                ParameterType.STRING,
                "Response format",
                "回复格式",
                follow,
                RESPONSE_FORMATS,
            )
        )
        rules.append(ParameterRule(name="json_schema", use_template="json_schema"))
    return rules


def rule(
    name: str,
    kind: ParameterType,
    label: str,
    label_zh: str,
    help_text: str,
    options: list[str] | None = None,
) -> ParameterRule:
    """A parameter rule of a feature, labelled in English and Chinese."""
    return ParameterRule(
        name=name,
        type=kind,
        options=options or [],
        label=I18nObject(en_US=label, zh_Hans=label_zh),
        help=I18nObject(en_US=help_text),
    )


def feature_fields(parameters: dict[str, Any]) -> dict[str, Any]:
    """Take the feature parameters out of `parameters`; return the request fields they become."""
    fields: dict[str, Any] = {}
    thinking = parameters.pop("enable_thinking", None)
    if thinking is not None:
        # Chat templates read either name (Qwen3 and GLM enable_thinking, DeepSeek thinking).
        fields["chat_template_kwargs"] = {"enable_thinking": bool(thinking), "thinking": bool(thinking)}
    effort = parameters.pop("reasoning_effort", None)
    if effort:
        fields["reasoning_effort"] = effort
    response_format = parameters.pop("response_format", None)
    schema = parameters.pop("json_schema", None)
    if response_format == "json_object":
        fields["response_format"] = {"type": "json_object"}
    elif response_format == "json_schema" or (response_format is None and schema):
        fields["response_format"] = {"type": "json_schema", "json_schema": json_schema_of(schema)}
    return fields


def json_schema_of(value: Any) -> dict[str, Any]:
    """The `json_schema` parameter as the request's `json_schema` object: {"name", "schema"}.

    Dify sends {"name": ..., "schema": {...}}; a bare JSON schema is accepted too.
    """
    if not value:
        raise InvokeBadRequestError("response_format json_schema needs the json_schema parameter")
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError as error:
        raise InvokeBadRequestError(f"json_schema is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise InvokeBadRequestError("json_schema must be a JSON object (a JSON schema)")
    if isinstance(parsed.get("schema"), dict):
        wrapped = {"name": str(parsed.get("name") or "answer"), "schema": parsed["schema"]}
        return wrapped | ({"strict": parsed["strict"]} if isinstance(parsed.get("strict"), bool) else {})
    return {"name": "answer", "schema": parsed}


def wants_json(payload: Mapping[str, Any]) -> bool:
    """Whether the request asks for a JSON answer (then reasoning is not put before it)."""
    response_format = payload.get("response_format")
    return isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")


# Request fields of a feature, and the credential answer that makes this plugin send them.
FEATURE_ANSWERS = {
    "response_format": "structured_output",
    "chat_template_kwargs": "thinking",
    "reasoning_effort": "thinking",
}


def recover(
    conn: Connection, payload: dict[str, Any], error: InvokeBadRequestError, first: dict[str, Any]
) -> dict[str, Any]:
    """The payload to send again after a 4xx answer, or raise that error, explained.

    A max_tokens beyond what the context leaves is lowered to fit, once (models/llm/overflow.py;
    `first` is the payload as first sent); an
    optional field the server refuses is left out (and remembered a while for this connection);
    a refused feature field gets an error saying which answer turns the feature off.
    """
    refitted = overflow.refit(payload, error, first)
    if refitted is not None:
        return refitted
    field = features.refused_field(error, payload)
    if field is None:
        message = str(error)
        for name, answer in FEATURE_ANSWERS.items():
            named = name in message or (name == "response_format" and "json_schema" in message)
            if name in payload and named:
                raise InvokeBadRequestError(
                    f"{message} (the server refused {name}: if it cannot do this, set {answer} to no "
                    "in this model's credentials)"
                ) from error
        raise error
    features.remember_refusal(conn, payload["model"], field)
    return features.without_refused(payload, frozenset({field}))
