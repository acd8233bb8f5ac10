"""An LLM's parameter rules (the common ones, sampling beyond them, the features'), and the extra
body a call may add to its request.

Dify's parameter templates (the SDK's `DefaultParameterName`: temperature, top_p, top_k, the
penalties, max_tokens, response_format, json_schema) are used where one exists: top_k has one.
seed, min_p and repetition_penalty have none, so their rules say type, range and help here.
`extra_body` is a JSON object merged into the request as it is: the options a server has beyond
these (llama.cpp's `repeat_penalty`, vLLM's `guided_choice`, ...), without a plugin of its own.
"""

import json
from collections.abc import Mapping
from typing import Any

from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import ParameterRule, ParameterType

from models.llm.capabilities import feature_rules
from models.llm.settings import LLMSettings
from models.server.connection import refused

# The largest seed every server takes: a signed 32-bit integer (llama.cpp reads an unsigned one,
# vLLM and OpenAI a 64-bit one).
MAX_SEED = 2**31 - 1
# Request fields the plugin builds itself; extra_body may not set them, nor any field the
# request already has from a parameter of its own.
OWNED_FIELDS = frozenset({"model", "messages", "prompt", "stream", "stream_options", "tools", "stop", "user"})
EXTRA_BODY_EXAMPLE = '{"repeat_penalty": 1.1}'
DEFAULT_MAX_TOKENS = 512
THINKING_MAX_TOKENS = 4096  # the default for a thinking model: its reasoning counts against max_tokens


def parameter_rules(llm: LLMSettings, credentials: Mapping[str, Any]) -> list[ParameterRule]:
    """Every parameter an app may set for the model, max_tokens within what the form allows."""
    default_tokens = THINKING_MAX_TOKENS if llm.thinks else DEFAULT_MAX_TOKENS
    return [
        ParameterRule(name="temperature", use_template="temperature"),
        ParameterRule(name="top_p", use_template="top_p"),
        ParameterRule(name="presence_penalty", use_template="presence_penalty"),
        ParameterRule(name="frequency_penalty", use_template="frequency_penalty"),
        ParameterRule(
            name="max_tokens",
            use_template="max_tokens",
            min=1,
            max=llm.max_tokens,
            default=min(default_tokens, llm.max_tokens),
        ),
        *sampling_rules(),
        *feature_rules(credentials),
        extra_body_rule(),
    ]


def sampling_rules() -> list[ParameterRule]:
    """top_k, min_p, repetition_penalty and seed: sent as named, by the servers that read them."""
    return [
        ParameterRule(name="top_k", use_template="top_k"),
        _rule(
            "min_p",
            ParameterType.FLOAT,
            ("Min P", "Min P"),
            (
                "Drops tokens less likely than this share of the likeliest one (llama.cpp, vLLM, SGLang).",
                "舍弃概率低于最可能 token 的此比例的 token（llama.cpp、vLLM、SGLang）。",
            ),
            default=0.05,
            min=0.0,
            max=1.0,
            precision=2,
        ),
        _rule(
            "repetition_penalty",
            ParameterType.FLOAT,
            ("Repetition penalty", "重复惩罚"),
            (
                "Above 1 discourages repeating tokens, 1 leaves them be (vLLM, SGLang, Xinference; "
                "llama.cpp calls it repeat_penalty: give that in Extra request fields).",
                "大于 1 抑制重复，1 不作处理（vLLM、SGLang、Xinference；llama.cpp 称为 repeat_penalty，"
                "请在额外请求字段中填写）。",
            ),
            default=1.0,
            min=0.1,
            max=2.0,
            precision=2,
        ),
        _rule(
            "seed",
            ParameterType.INT,
            ("Seed", "随机种子"),
            (
                "The same seed and input give the same answer, on servers that support it.",
                "相同的种子和输入得到相同的回答（服务器支持时）。",
            ),
            min=0,
            max=MAX_SEED,
        ),
    ]


def extra_body_rule() -> ParameterRule:
    """The extra body: a JSON object, per call (a text box in Dify's model settings)."""
    return _rule(
        "extra_body",
        ParameterType.TEXT,
        ("Extra request fields (JSON)", "额外请求字段（JSON）"),
        (
            f"A JSON object added to the request as it is, for options of this server, e.g. "
            f"{EXTRA_BODY_EXAMPLE}. Fields the plugin sets (model, messages, stream, ...) are refused.",
            f"原样加入请求的 JSON 对象，用于该服务器的其他选项，例如 {EXTRA_BODY_EXAMPLE}。"
            "插件自己设置的字段（model、messages、stream 等）会被拒绝。",
        ),
    )


def _rule(
    name: str, kind: ParameterType, label: tuple[str, str], help_text: tuple[str, str], **bounds: Any
) -> ParameterRule:
    """A rule of its own (no template): `label` and `help_text` in English and Chinese, then its
    default, min, max and precision."""
    return ParameterRule(
        name=name,
        type=kind,
        label=I18nObject(en_US=label[0], zh_Hans=label[1]),
        help=I18nObject(en_US=help_text[0], zh_Hans=help_text[1]),
        **bounds,
    )


def take_extra_body(parameters: dict[str, Any]) -> dict[str, Any]:
    """Take `extra_body` out of `parameters`; the fields it adds, or InvokeBadRequestError."""
    value = parameters.pop("extra_body", None)
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    try:
        fields = json.loads(value) if isinstance(value, str) else value
    except ValueError as error:
        where = f"line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        raise refused(
            "extra_body", f"must be a JSON object, e.g. {EXTRA_BODY_EXAMPLE} (not JSON at {where})"
        ) from None
    if not isinstance(fields, dict):
        raise refused("extra_body", f"must be a JSON object, e.g. {EXTRA_BODY_EXAMPLE}")
    return fields


def with_extra_body(payload: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` with the extra body's fields added; one the plugin sets is refused by name."""
    for name in fields:
        if name in OWNED_FIELDS or name in payload:
            shown = json.dumps(name, ensure_ascii=False)[:60]
            raise refused(
                "extra_body", f"must not set {shown}: the plugin sets it, or one of its parameters does"
            )
    return {**payload, **fields}
