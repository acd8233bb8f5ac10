"""Sampling parameters beyond the common ones, and the extra body a call may add to its request.

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

from models.server.connection import refused

# The largest seed every server takes: a signed 32-bit integer (llama.cpp reads an unsigned one,
# vLLM and OpenAI a 64-bit one).
MAX_SEED = 2**31 - 1
# Request fields the plugin builds itself; extra_body may not set them, nor any field the
# request already has from a parameter of its own.
OWNED_FIELDS = frozenset({"model", "messages", "prompt", "stream", "stream_options", "tools", "stop", "user"})
EXTRA_BODY_EXAMPLE = '{"repeat_penalty": 1.1}'


def sampling_rules() -> list[ParameterRule]:
    """top_k, min_p, repetition_penalty and seed: sent as named, by the servers that read them."""
    return [
        ParameterRule(name="top_k", use_template="top_k"),
        ParameterRule(
            name="min_p",
            type=ParameterType.FLOAT,
            label=I18nObject(en_US="Min P", zh_Hans="Min P"),
            help=I18nObject(
                en_US="Drops tokens less likely than this share of the likeliest one (llama.cpp, vLLM, SGLang).",
                zh_Hans="舍弃概率低于最可能 token 的此比例的 token（llama.cpp、vLLM、SGLang）。",
            ),
            default=0.05,
            min=0.0,
            max=1.0,
            precision=2,
        ),
        ParameterRule(
            name="repetition_penalty",
            type=ParameterType.FLOAT,
            label=I18nObject(en_US="Repetition penalty", zh_Hans="重复惩罚"),
            help=I18nObject(
                en_US="Above 1 discourages repeating tokens, 1 leaves them be (vLLM, SGLang, Xinference; "
                "llama.cpp calls it repeat_penalty: give that in Extra request fields).",
                zh_Hans="大于 1 抑制重复，1 不作处理（vLLM、SGLang、Xinference；llama.cpp 称为 repeat_penalty，"
                "请在额外请求字段中填写）。",
            ),
            default=1.0,
            min=0.1,
            max=2.0,
            precision=2,
        ),
        ParameterRule(
            name="seed",
            type=ParameterType.INT,
            label=I18nObject(en_US="Seed", zh_Hans="随机种子"),
            help=I18nObject(
                en_US="The same seed and input give the same answer, on servers that support it.",
                zh_Hans="相同的种子和输入得到相同的回答（服务器支持时）。",
            ),
            min=0,
            max=MAX_SEED,
        ),
    ]


def extra_body_rule() -> ParameterRule:
    """The extra body: a JSON object, per call (a text box in Dify's model settings)."""
    return ParameterRule(
        name="extra_body",
        type=ParameterType.TEXT,
        label=I18nObject(en_US="Extra request fields (JSON)", zh_Hans="额外请求字段（JSON）"),
        help=I18nObject(
            en_US=f"A JSON object added to the request as it is, for options of this server, e.g. "
            f"{EXTRA_BODY_EXAMPLE}. Fields the plugin sets (model, messages, stream, ...) are refused.",
            zh_Hans=f"原样加入请求的 JSON 对象，用于该服务器的其他选项，例如 {EXTRA_BODY_EXAMPLE}。"
            "插件自己设置的字段（model、messages、stream 等）会被拒绝。",
        ),
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
