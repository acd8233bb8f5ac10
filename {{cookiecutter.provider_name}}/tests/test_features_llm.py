{% set plan = cookiecutter | plan %}
"""LLM features against the loopback server: structured output, thinking and the reasoning kept
with tool calls, audio, video and document parts, user identity, refused fields, a context too
small for max_tokens, and what validation detects.
"""

import base64
import itertools
import json

import pytest
from dify_plugin.entities.model import ModelFeature
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    AudioPromptMessageContent,
    DocumentPromptMessageContent,
    PromptMessageTool,
    TextPromptMessageContent,
    ToolPromptMessage,
    UserPromptMessage,
    VideoPromptMessageContent,
)
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeServerUnavailableError,
)
from test_features import wav

from models.llm.llm import {{ plan.class_name("llm") }}

# -- LLM: what the schema declares ------------------------------------------------------------

BASE_RULES = [
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "max_tokens",
    "top_k",
    "min_p",
    "repetition_penalty",
    "seed",
]


@pytest.fixture
def llm() -> {{ plan.class_name("llm") }}:
    return {{ plan.class_name("llm") }}(model_schemas=[])


@pytest.mark.parametrize(
    ("answers", "declared", "rules"),
    [
        ({}, [], []),
        ({"structured_output": "yes"}, [ModelFeature.STRUCTURED_OUTPUT], ["response_format", "json_schema"]),
        ({"thinking": "switchable"}, [ModelFeature.AGENT_THOUGHT], ["enable_thinking", "reasoning_effort"]),
        ({"thinking": "always"}, [ModelFeature.AGENT_THOUGHT], ["reasoning_effort"]),
        ({"thinking": "no", "structured_output": "no"}, [], []),
        ({"extra_inputs": "audio"}, [ModelFeature.AUDIO], []),
        (
            {"extra_inputs": "Document, videos,audio"},
            [ModelFeature.AUDIO, ModelFeature.VIDEO, ModelFeature.DOCUMENT],
            [],
        ),
    ],
    ids=[
        "plain",
        "structured-output",
        "switchable-thinking",
        "always-thinking",
        "all-no",
        "audio",
        "all-inputs",
    ],
)
def test_schema_declares_a_feature_and_its_parameters_only_when_enabled(llm, answers, declared, rules):
    schema = llm.get_customizable_model_schema("m", answers)

    assert schema.features == declared
    assert [rule.name for rule in schema.parameter_rules] == BASE_RULES + rules + ["extra_body"]


def test_feature_parameters_have_the_types_and_options_dify_expects(llm):
    schema = llm.get_customizable_model_schema("m", {"structured_output": "yes", "thinking": "switchable"})
    rules = {rule.name: rule for rule in schema.parameter_rules}

    assert rules["response_format"].options == ["text", "json_object", "json_schema"]
    assert rules["json_schema"].type.value == "text"
    assert rules["enable_thinking"].type.value == "boolean"
    assert rules["reasoning_effort"].options == ["low", "medium", "high"]


# -- LLM: structured output -------------------------------------------------------------------

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
STRUCTURED = {"structured_output": "yes"}


def chat(llm, credentials, stream=True, model_parameters=None, **kwargs):
    """Every chunk of one chat call through the public invoke (the SDK filters parameters by the schema)."""
    messages = kwargs.pop("messages", None) or [UserPromptMessage(content="Where is the Eiffel tower?")]
    uid = credentials.get("model_uid", "chat-model")
    result = llm.invoke(
        model=uid,
        credentials=credentials,
        prompt_messages=messages,
        model_parameters=model_parameters or {},
        stream=stream,
        **kwargs,
    )
    return list(result)


def answer_of(chunks) -> str:
    return "".join(chunk.delta.message.content or "" for chunk in chunks)


def posts(server) -> list[dict]:
    return [r["json"] for r in server.requests() if r["method"] == "POST"]


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (  # what Dify's structured output sends: the schema wrapped with a name
            {
                "response_format": "json_schema",
                "json_schema": json.dumps({"schema": CITY, "name": "llm_response"}),
            },
            {"type": "json_schema", "json_schema": {"name": "llm_response", "schema": CITY}},
        ),
        (  # a bare schema typed into the parameter
            {"response_format": "json_schema", "json_schema": json.dumps(CITY)},
            {"type": "json_schema", "json_schema": {"name": "answer", "schema": CITY}},
        ),
        (
            {"json_schema": json.dumps(CITY)},
            {"type": "json_schema", "json_schema": {"name": "answer", "schema": CITY}},
        ),
        ({"response_format": "json_object"}, {"type": "json_object"}),
    ],
    ids=["dify-wrapper", "bare-schema", "schema-only", "json-object"],
)
def test_structured_output_is_sent_as_response_format(llm, server, credentials, parameters, expected):
    chat(llm, credentials("chat-model", **STRUCTURED), model_parameters=parameters)

    [body] = posts(server)
    assert body["response_format"] == expected
    assert "json_schema" not in body


def test_text_response_format_sends_nothing(llm, server, credentials):
    chat(llm, credentials("chat-model", **STRUCTURED), model_parameters={"response_format": "text"})

    assert "response_format" not in posts(server)[0]


def test_structured_output_parameters_are_dropped_for_a_model_without_the_feature(llm, server, credentials):
    chat(
        llm,
        credentials("chat-model"),
        model_parameters={"response_format": "json_schema", "json_schema": "{}"},
    )

    assert "response_format" not in posts(server)[0]


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
@pytest.mark.parametrize(
    "reply",
    [
        {"content": '{"city": "Paris"}', "reasoning_content": "it is in France"},
        {
            "content": 'it is in France</think>{"city": "Paris"}',
            "pieces": ["it is in France</think>", '{"city": "Paris"}'],
        },
    ],
    ids=["reasoning-apart", "reasoning-before-a-lone-tag"],
)
def test_structured_answer_is_the_bare_json_even_when_the_model_reasons(
    llm, server, credentials, reply, stream
):
    server.fault("/v1/chat/completions", reply=reply)
    answers = STRUCTURED | {"thinking": "always"}  # an R1 distill's template opens <think> itself
    parameters = {"response_format": "json_schema", "json_schema": json.dumps({"schema": CITY, "name": "x"})}

    chunks = chat(llm, credentials("chat-model", **answers), stream=stream, model_parameters=parameters)

    assert json.loads(answer_of(chunks)) == {"city": "Paris"}  # what Dify parses as structured output


@pytest.mark.parametrize(
    ("schema", "rule"),
    [
        ("", "needs the json_schema parameter"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
    ],
    ids=["missing", "not-json", "not-an-object"],
)
def test_a_bad_json_schema_is_a_clear_error_and_nothing_is_sent(llm, server, credentials, schema, rule):
    parameters = {"response_format": "json_schema", "json_schema": schema}

    with pytest.raises(InvokeBadRequestError, match=rule):
        chat(llm, credentials("chat-model", **STRUCTURED), model_parameters=parameters)
    assert posts(server) == []


@pytest.mark.parametrize(
    ("parameters", "answer", "detail"),
    [
        (
            {"response_format": "json_object"},
            "structured_output",
            "response_format json_object is not supported",
        ),
        ({"enable_thinking": False}, "thinking", "unknown field chat_template_kwargs"),
    ],
    ids=["structured-output", "thinking"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_a_refused_feature_names_the_answer_that_turns_it_off(
    llm, server, credentials, parameters, answer, detail, stream
):
    server.fault("/v1/chat/completions", status=400, body={"error": {"message": detail, "code": 400}})
    given = credentials("chat-model", structured_output="yes", thinking="switchable")

    with pytest.raises(InvokeBadRequestError) as caught:
        chat(llm, given, stream=stream, model_parameters=parameters)

    message = str(caught.value)
    assert f"127.0.0.1:{server.port}" in message and detail in message
    assert f"set {answer} to no" in message
    assert len(posts(server)) == 1  # a feature the user asked for is not silently dropped


# -- LLM: thinking --------------------------------------------------------------------------------

THINKING = {"thinking": "switchable"}


@pytest.mark.parametrize("switch", [True, False], ids=["on", "off"])
def test_the_thinking_switch_is_sent_as_chat_template_kwargs(llm, server, credentials, switch):
    chat(llm, credentials("chat-model", **THINKING), model_parameters={"enable_thinking": switch})

    assert posts(server)[0]["chat_template_kwargs"] == {"enable_thinking": switch, "thinking": switch}


def test_reasoning_effort_is_sent_and_an_unset_switch_sends_nothing(llm, server, credentials):
    chat(llm, credentials("chat-model", thinking="always"), model_parameters={"reasoning_effort": "low"})

    [body] = posts(server)
    assert body["reasoning_effort"] == "low"
    assert "chat_template_kwargs" not in body and "enable_thinking" not in body


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_reasoning_of_a_thinking_model_is_surfaced_in_think_tags(llm, server, credentials, stream):
    server.fault("/v1/chat/completions", reply={"content": "Paris", "reasoning_content": "France's capital"})

    chunks = chat(
        llm, credentials("chat-model", **THINKING), stream=stream, model_parameters={"enable_thinking": True}
    )

    assert answer_of(chunks).strip() == "<think>\nFrance's capital\n</think>\nParis"


@pytest.mark.parametrize(
    ("answers", "default"),
    [({}, 512), ({"thinking": "switchable"}, 4096), ({"thinking": "always", "max_tokens": "2048"}, 2048)],
    ids=["plain", "thinking", "thinking-within-the-upper-bound"],
)
def test_a_thinking_model_gets_a_default_max_tokens_its_reasoning_does_not_eat(llm, answers, default):
    schema = llm.get_customizable_model_schema("m", {"context_size": "32768", **answers})

    assert next(rule for rule in schema.parameter_rules if rule.name == "max_tokens").default == default


# A model whose chat template opened <think> (DeepSeek R1 distills): its text holds only the closing tag.
LONE_CLOSE = ["France's ", "capital</th", "ink>\n\nParis"]  # the tag split across events
REPAIRED = "<think>\nFrance's capital</think>\n\nParis"


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
@pytest.mark.parametrize(
    ("answers", "pieces", "whole", "streamed"),
    [
        ({"thinking": "always"}, LONE_CLOSE, REPAIRED, REPAIRED),
        (
            {"thinking": "switchable"},
            ["<thi", "nk>France's capital</think>", "Paris"],
            "<think>France's capital</think>Paris",
            "<think>France's capital</think>Paris",
        ),
        # Not set up as always thinking: streamed, the reasoning was passed on before its tag came.
        ({"thinking": "switchable"}, LONE_CLOSE, REPAIRED, "France's capital\n\n\n\nParis"),
        ({}, LONE_CLOSE, REPAIRED, "France's capital\n\n\n\nParis"),
    ],
    ids=["always-thinks", "split-opening-tag", "switchable", "thinking-unknown"],
)
def test_a_lone_closing_think_tag_never_reaches_dify(
    llm, server, credentials, answers, pieces, whole, streamed, stream
):
    server.fault("/v1/chat/completions", reply={"content": "".join(pieces), "pieces": pieces})

    text = answer_of(chat(llm, credentials("chat-model", **answers), stream=stream)).strip()

    assert text == (streamed if stream else whole)


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_an_answer_without_reasoning_stays_the_answer_with_thinking_switched_on(
    llm, server, credentials, stream
):
    given = credentials("chat-model", thinking="switchable")

    text = answer_of(chat(llm, given, stream=stream, model_parameters={"enable_thinking": True}))

    assert text.strip() == "pong: Where is the Eiffel tower?"  # not taken for reasoning


WEATHER = PromptMessageTool(
    name="get_weather",
    description="Current weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
}


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_the_reasoning_behind_a_tool_call_goes_back_to_the_server_on_the_next_turn(
    llm, server, credentials, stream
):
    reply = {"content": "", "reasoning_content": "Oslo needs a lookup", "tool_calls": [CALL]}
    server.fault("/v1/chat/completions", reply=reply | {"stream_tool_deltas": [CALL | {"index": 0}]})
    question = UserPromptMessage(content="Weather in Oslo?")
    given = credentials("chat-model", thinking="always", function_calling="yes")

    chunks = chat(llm, given, stream=stream, messages=[question], tools=[WEATHER])
    answered = chunks[-1].delta.message  # what Dify keeps as the assistant's turn
    assert answered.tool_calls and answered.opaque_body == {"reasoning_content": "Oslo needs a lookup"}
    turn = AssistantPromptMessage(
        content="", tool_calls=answered.tool_calls, opaque_body=answered.opaque_body
    )
    result = ToolPromptMessage(content="12 C", tool_call_id=answered.tool_calls[0].id, name="get_weather")
    chat(llm, given, stream=stream, messages=[question, turn, result], tools=[WEATHER])

    sent = posts(server)[-1]["messages"][1]
    assert sent["role"] == "assistant" and sent["reasoning_content"] == "Oslo needs a lookup"


def test_dify_gets_the_reasoning_of_a_tool_call_and_gives_it_back_over_stdio(plugin, server, credentials):
    reply = {
        "content": "",
        "reasoning_content": "Oslo needs a lookup",
        "stream_tool_deltas": [CALL | {"index": 0}],
    }
    server.fault("/v1/chat/completions", reply=reply)
    request = {
        "model_type": "llm",
        "model": "chat-model",
        "credentials": credentials("chat-model", function_calling="yes"),
        "model_parameters": {},
        "stop": [],
        "tools": [WEATHER.model_dump()],
        "stream": True,
    }
    question = {"role": "user", "content": "Weather in Oslo?"}

    chunks, error = plugin.call("invoke_llm", **request, prompt_messages=[question])
    assert error is None, error
    turn = chunks[-1]["delta"]["message"]  # as Dify keeps the assistant's turn
    assert turn["opaque_body"] == {"reasoning_content": "Oslo needs a lookup"}
    result = {
        "role": "tool",
        "content": "12 C",
        "tool_call_id": turn["tool_calls"][0]["id"],
        "name": "get_weather",
    }
    _, error = plugin.call("invoke_llm", **request, prompt_messages=[question, turn, result])
    assert error is None, error

    assert posts(server)[-1]["messages"][1]["reasoning_content"] == "Oslo needs a lookup"


def test_a_server_refusing_reasoning_content_gets_the_turn_without_it(llm, server, credentials):
    server.control("features", {"refuse": ["reasoning_content"], "style": "pydantic"})
    turn = AssistantPromptMessage(
        content="",
        tool_calls=[AssistantPromptMessage.ToolCall(**CALL)],
        opaque_body={"reasoning_content": "Oslo needs a lookup"},
    )
    history = [
        UserPromptMessage(content="Weather?"),
        turn,
        ToolPromptMessage(content="12 C", tool_call_id="call_1"),
    ]
    given = credentials("chat-model", request_timeout=str(next(UNUSED_TIMEOUTS)))

    chunks = chat(llm, given, messages=history, tools=[WEATHER])

    first, retry = posts(server)
    assert first["messages"][1]["reasoning_content"] == "Oslo needs a lookup"
    assert "reasoning_content" not in retry["messages"][1]
    assert answer_of(chunks).startswith("pong")


# -- LLM: audio, video and document parts ---------------------------------------------------------


def parts(kind: str):
    sound = base64.b64encode(wav()).decode()
    made = {
        "audio": AudioPromptMessageContent(format="wav", mime_type="audio/wav", base64_data=sound),
        "video": VideoPromptMessageContent(
            format="mp4", mime_type="video/mp4", url="http://files.local/clip.mp4"
        ),
        "document": DocumentPromptMessageContent(
            format="pdf", mime_type="application/pdf", base64_data="JVBERi0xLjQK", filename="brief.pdf"
        ),
    }
    return made[kind], sound


@pytest.mark.parametrize(
    ("kind", "answers", "expected"),
    [
        (
            "audio",
            {},
            lambda sound: {"type": "audio_url", "audio_url": {"url": f"data:audio/wav;base64,{sound}"}},
        ),
        (
            "audio",
            {"audio_part": "input_audio"},  # what validation stores for llama.cpp
            lambda sound: {"type": "input_audio", "input_audio": {"data": sound, "format": "wav"}},
        ),
        (
            "video",
            {},
            lambda sound: {"type": "video_url", "video_url": {"url": "http://files.local/clip.mp4"}},
        ),
        (
            "document",
            {},
            lambda sound: {
                "type": "file",
                "file": {"filename": "brief.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"},
            },
        ),
    ],
    ids=["audio", "audio-llama.cpp", "video", "document"],
)
def test_audio_video_and_document_parts_are_sent_in_the_shapes_servers_take(
    llm, server, credentials, kind, answers, expected
):
    part, sound = parts(kind)
    message = UserPromptMessage(content=[TextPromptMessageContent(data="What is in this file?"), part])

    chunks = chat(llm, credentials("chat-model", extra_inputs=kind, **answers), messages=[message])

    assert posts(server)[0]["messages"][0]["content"] == [
        {"type": "text", "text": "What is in this file?"},
        expected(sound),
    ]
    assert answer_of(chunks).startswith("pong: What is in this file?")


def test_a_server_refusing_a_content_part_is_a_bad_request_naming_the_server(llm, server, credentials):
    server.fault(
        "/v1/chat/completions", status=400, body={"detail": "audio input is not supported by this model"}
    )
    part, _ = parts("audio")

    with pytest.raises(InvokeBadRequestError, match="audio input is not supported") as caught:
        chat(
            llm, credentials("chat-model", extra_inputs="audio"), messages=[UserPromptMessage(content=[part])]
        )
    assert f"127.0.0.1:{server.port}" in str(caught.value)


# -- LLM: user identity, and fields a server refuses ----------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_the_end_users_id_is_passed_through(llm, server, credentials, stream):
    chat(llm, credentials("chat-model"), stream=stream, user="end-user-7")
    chat(llm, credentials("chat-model"), stream=stream)

    assert [body.get("user") for body in posts(server)] == ["end-user-7", None]


UNUSED_TIMEOUTS = itertools.count(100)  # a new timeout makes a new connection, with no refusals remembered


@pytest.mark.parametrize(
    ("field", "style", "stream"),
    [
        ("stream_options", "openai", True),
        ("stream_options", "pydantic", True),
        ("user", "openai", False),
        ("user", "pydantic", True),
        ("max_tokens", "max_completion_tokens", False),
        ("max_tokens", "max_completion_tokens", True),
    ],
)
def test_a_refused_optional_field_is_dropped_once_and_remembered(
    llm, server, credentials, field, style, stream
):
    server.control("features", {"refuse": [field], "style": style})
    given = credentials("chat-model", request_timeout=str(next(UNUSED_TIMEOUTS)))  # a connection of its own

    for _ in range(2):
        chunks = chat(llm, given, stream=stream, user="end-user-7", model_parameters={"max_tokens": 32})
        assert answer_of(chunks).strip() == "pong: Where is the Eiffel tower?"

    first, retry, second = posts(server)
    assert field in first
    assert field not in retry and field not in second  # the second call does not ask again
    if field == "max_tokens":
        assert retry["max_completion_tokens"] == second["max_completion_tokens"] == 32
    assert field in chat_once(llm, server, credentials("chat-model", request_timeout="4"), stream)


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_the_attempt_without_a_refused_field_stays_inside_request_timeout(
    llm, server, credentials, short_timeouts, stream
):
    server.control("features", {"refuse": ["user"]})
    server.fault("/v1/chat/completions", delay=0.35, times=2)  # each attempt alone would fit in 0.6 s
    key = f"sk-refusal-bound-{stream}"  # a connection of its own: no refusal remembered yet
    given = credentials("chat-model", request_timeout="0.6", api_key=key)

    with pytest.raises(InvokeConnectionError) as caught:
        chat(llm, given, stream=stream, user="end-user-7")

    assert "did not complete within request_timeout = 0.6 s" in str(caught.value)
    assert key not in str(caught.value)
    assert len(posts(server)) == 2


def test_a_stream_with_max_completion_tokens_is_ended_past_that_limit(llm, server, credentials):
    server.control("features", {"refuse": ["max_tokens"], "style": "max_completion_tokens"})
    given = credentials("chat-model", request_timeout=str(next(UNUSED_TIMEOUTS)))
    chat(llm, given, model_parameters={"max_tokens": 8})  # the refusal is remembered
    server.fault("/v1/chat/completions", endless=0.01)

    with pytest.raises(InvokeServerUnavailableError, match="far past max_tokens = 8 "):
        chat(llm, given, model_parameters={"max_tokens": 8})
    assert posts(server)[-1]["max_completion_tokens"] == 8


def chat_once(llm, server, given, stream) -> dict:
    """The body another connection sends (the refusal memory is per connection)."""
    server.control("features", {"refuse": []})
    chat(llm, given, stream=stream, user="end-user-7", model_parameters={"max_tokens": 32})
    return posts(server)[-1]


@pytest.mark.parametrize(
    "detail",
    [
        "max_tokens must be at most 2048",
        "Invalid 'max_tokens': integer below minimum value",
        "user is banned",
    ],
)
def test_a_4xx_that_is_no_refusal_of_an_optional_field_is_not_retried(llm, server, credentials, detail):
    server.fault("/v1/chat/completions", status=400, body={"error": {"message": detail}})

    with pytest.raises(InvokeBadRequestError, match=detail):
        chat(
            llm, credentials("chat-model", request_timeout="8"), user="u", model_parameters={"max_tokens": 32}
        )
    assert len(posts(server)) == 1


# -- LLM: a prompt and max_tokens beyond the model's context -------------------------------------
# The fake server refuses as each server words it (tests/fake_families.py names the source).


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
@pytest.mark.parametrize("wording", ["vllm-0.8", "vllm-0.11", "vllm-0.13", "sglang"])
def test_a_max_tokens_the_context_cannot_hold_is_asked_again_once_with_one_that_fits(
    llm, server, credentials, wording, stream, caplog
):
    server.control("features", {"context": {"limit": 1000, "prompt": 900, "wording": wording}})

    chunks = chat(llm, credentials("chat-model"), stream=stream, model_parameters={"max_tokens": 512})

    assert answer_of(chunks).strip() == "pong: Where is the Eiffel tower?"
    first, retry = posts(server)
    assert (first["max_tokens"], retry["max_tokens"]) == (512, 99)  # 1000 - 900, less the one SGLang keeps
    assert "asking again with max_tokens = 99 instead of 512" in caplog.text  # in the daemon's plugin log


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
@pytest.mark.parametrize(
    ("wording", "prompt"),
    [
        ("vllm-0.8", 1000),
        ("vllm-0.11", 1000),
        ("vllm-0.13", 1000),
        ("sglang", 1000),
        ("llama.cpp", 1200),  # these three refuse only a prompt longer than the context
        ("ollama", 1200),
        ("lm-studio", 1200),
    ],
)
def test_a_prompt_that_fills_the_context_is_one_clear_error_with_both_numbers(
    llm, server, credentials, wording, prompt, stream
):
    server.control("features", {"context": {"limit": 1000, "prompt": prompt, "wording": wording}})

    with pytest.raises(InvokeBadRequestError) as caught:
        chat(llm, credentials("chat-model"), stream=stream, model_parameters={"max_tokens": 512})

    message = str(caught.value)
    assert f"the prompt takes {prompt} tokens of the model's 1000-token context, leaving no room" in message
    assert f"127.0.0.1:{server.port}" in message and "shorten the prompt" in message
    assert len(posts(server)) == 1


def test_a_second_refusal_after_the_retry_is_the_error_not_a_third_attempt(llm, server, credentials):
    # vllm/entrypoints/openai/engine/serving.py's words, from a server that counts the prompt again higher
    def refusal(asked: int, prompt: int) -> dict:
        message = (
            f"'max_tokens' or 'max_completion_tokens' is too large: {asked}. This model's maximum context "
            f"length is 1000 tokens and your request has {prompt} input tokens ({asked} > 1000 - {prompt})."
        )
        return {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}

    server.fault("/v1/chat/completions", status=400, body=refusal(512, 900))
    server.fault("/v1/chat/completions", status=400, body=refusal(99, 950))

    with pytest.raises(InvokeBadRequestError, match="the prompt takes 950 tokens of the model's 1000-token"):
        chat(llm, credentials("chat-model"), model_parameters={"max_tokens": 512})
    assert [body["max_tokens"] for body in posts(server)] == [512, 99]


# -- LLM: what validation detects ---------------------------------------------------------------------

LLAMA_PROPS = {
    "default_generation_settings": {"n_ctx": 8192, "params": {}},
    "total_slots": 1,
    # the start of a Qwen3-style template: it reads the switch
    "chat_template": "<|im_start|>... if enable_thinking is false: <think></think> ...",
    "chat_template_caps": {"supports_tools": True, "supports_tool_calls": True},
    "modalities": {"vision": True, "audio": True},
}


@pytest.mark.parametrize(
    ("uid", "describe", "props", "expected"),
    [
        (
            "qwen3-model",
            True,
            None,
            {
                "thinking": "switchable",
                "structured_output": "yes",
                "function_calling": "yes",
                "context_size": "32768",
            },
        ),
        ("omni-model", True, None, {"thinking": "no", "vision": "yes", "extra_inputs": "audio, video"}),
        (
            "chat-model",
            True,
            None,
            {"thinking": "no", "extra_inputs": "document"},
        ),  # the user's answer is kept
        (
            "chat-model",
            False,
            LLAMA_PROPS,
            {
                "context_size": "8192",
                "vision": "yes",
                "function_calling": "yes",
                "thinking": "switchable",
                "structured_output": "yes",
                "extra_inputs": "audio, document",
                "audio_part": "input_audio",
            },
        ),
    ],
    ids=["xinference-hybrid-gguf", "xinference-omni", "xinference-plain", "llama.cpp-props"],
)
def test_validation_stores_the_features_the_server_reports(
    llm, server, credentials, uid, describe, props, expected
):
    server.control("config", {"describe": describe})
    server.control("features", {"props": props})
    given = credentials(uid, extra_inputs="document" if uid == "chat-model" else "")

    llm.validate_credentials(uid, given)

    assert {key: given.get(key) for key in expected} == expected


def test_validation_refuses_an_unknown_extra_input_naming_the_answer(llm, server, credentials):
    with pytest.raises(
        CredentialsValidateFailedError, match="extra_inputs: 'smell' is not one of audio, video, document"
    ):
        llm.validate_credentials("chat-model", credentials("chat-model", extra_inputs="audio, smell"))


@pytest.mark.parametrize("status", [403, 500])
def test_an_error_answer_to_props_means_no_llama_cpp_and_validation_passes(llm, server, credentials, status):
    server.control("config", {"describe": False})
    server.fault("/props", status=status)
    given = credentials("chat-model")

    llm.validate_credentials("chat-model", given)

    assert "/props" in [r["path"] for r in server.requests()]
    assert "structured_output" not in given


def test_a_silent_props_endpoint_ends_validation_within_request_timeout(
    llm, server, credentials, short_timeouts
):
    server.control("config", {"describe": False})
    server.fault("/props", delay=5)

    with pytest.raises(CredentialsValidateFailedError, match="within request_timeout = 0.5 s"):
        llm.validate_credentials("chat-model", credentials("chat-model", request_timeout="0.5"))


def test_dify_gets_structured_output_and_the_thinking_switch_over_stdio(plugin, server, credentials):
    server.control("config", {"describe": True})
    results, error = plugin.call(
        "validate_model_credentials",
        model_type="llm",
        model="qwen3-model",
        credentials=credentials("qwen3-model"),
    )
    assert error is None, error
    stored = results[0]["credentials"]
    [schema], error = plugin.call(
        "get_ai_model_schemas", model_type="llm", model="qwen3-model", credentials=stored
    )
    assert error is None, error
    declared = schema["model_schema"]["features"]
    assert {"structured-output", "agent-thought", "tool-call"} <= set(declared)

    server.fault("/v1/chat/completions", reply={"content": '{"city": "Paris"}'})
    chunks, error = plugin.call(
        "invoke_llm",
        model_type="llm",
        model="qwen3-model",
        credentials=stored,
        prompt_messages=[{"role": "user", "content": "Where is the Eiffel tower?"}],
        model_parameters={
            "response_format": "json_schema",
            "json_schema": json.dumps({"schema": CITY, "name": "llm_response"}),
            "enable_thinking": False,
        },
        stop=[],
        tools=[],
        stream=True,
    )
    assert error is None, error
    assert json.loads("".join(c["delta"]["message"]["content"] or "" for c in chunks)) == {"city": "Paris"}
    body = posts(server)[-1]
    assert body["response_format"]["json_schema"]["schema"] == CITY
    assert body["chat_template_kwargs"]["enable_thinking"] is False
