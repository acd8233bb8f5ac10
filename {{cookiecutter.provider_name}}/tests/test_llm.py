{% set plan = cookiecutter | plan %}
"""The LLM against the loopback server: chat, streaming, tools, vision, validation and errors.

Calls go through the public `invoke`, as Dify's executor makes them, so the SDK's own
parameter filtering and error wrapping take part.
"""

import json
import time

import pytest
{% if plan.customizable %}
import yaml
{% endif %}
from checks import HTTP_ERRORS, error_answer, raises_dify_error, spoil_validation, unreachable_server
{% if plan.customizable %}
from conftest import API_KEY, ROOT
{% else %}
from conftest import API_KEY
{% endif %}
from dify_plugin.entities.model import {{ "AIModelEntity, " if plan.predefined else "" }}ModelFeature, ModelPropertyKey
from dify_plugin.entities.model.llm import LLMResultChunk
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    ImagePromptMessageContent,
    PromptMessage,
    PromptMessageTool,
    SystemPromptMessage,
    TextPromptMessageContent,
    ToolPromptMessage,
    UserPromptMessage,
)
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeServerUnavailableError,
)
from test_features_llm import BASE_RULES

from models.llm.llm import {{ plan.class_name("llm") }}
from models.server import limits

CHAT = "/v1/chat/completions"
WEATHER = PromptMessageTool(
    name="get_weather",
    description="Current weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = PromptMessageTool(
    name="get_time",
    description="Current time in a time zone",
    parameters={"type": "object", "properties": {"zone": {"type": "string"}}},
)


@pytest.fixture
def llm() -> {{ plan.class_name("llm") }}:
    return {{ plan.class_name("llm") }}(model_schemas=[])


def invoke(
    llm: {{ plan.class_name("llm") }},
    credentials: dict,
    messages: list[PromptMessage] | None = None,
    stream: bool = True,
    model: str = "chat-model",
    **kwargs,
) -> list[LLMResultChunk]:
    """Every chunk of one call; a blocking call gives exactly one."""
    chunks = llm.invoke(
        model=model,
        credentials=credentials,
        prompt_messages=messages or [UserPromptMessage(content="ping")],
        stream=stream,
        **kwargs,
    )
    return list(chunks)


def text_of(chunks: list[LLMResultChunk]) -> str:
    return "".join(chunk.delta.message.content or "" for chunk in chunks)


def sent(server) -> dict:
    """The JSON body of the one model request the server received."""
    posts = [r for r in server.requests() if r["method"] == "POST"]
    assert len(posts) == 1, posts
    return posts[0]["json"]


# -- answers ---------------------------------------------------------------------------


def test_blocking_chat_returns_the_answer_with_the_servers_usage(llm, server, credentials):
    [result] = invoke(llm, credentials("chat-model"), stream=False)

    assert result.delta.message.content == "pong: ping"
    assert result.delta.message.tool_calls == []
    assert (result.delta.usage.prompt_tokens, result.delta.usage.completion_tokens) == (11, 7)
    body = sent(server)
    assert body["model"] == "chat-model"
    assert body["stream"] is False
    assert body["messages"] == [{"role": "user", "content": "ping"}]


def test_streaming_chat_yields_text_then_one_final_chunk_with_usage(llm, server, credentials):
    chunks = invoke(llm, credentials("chat-model"))

    assert text_of(chunks) == "pong: ping "
    assert all(chunk.delta.message.content for chunk in chunks[:-1])  # the null first delta is skipped
    assert [chunk.delta.finish_reason for chunk in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert all(chunk.delta.usage is None for chunk in chunks[:-1])
    last = chunks[-1]
    assert last.delta.finish_reason == "stop"
    assert (last.delta.usage.prompt_tokens, last.delta.usage.completion_tokens) == (11, 7)
    assert sent(server)["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("reply", "finish"),
    [
        ({"content": "all here"}, "stop"),
        (
            {
                "content": "",
                "stream_tool_deltas": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            "tool_calls",
        ),
    ],
    ids=["text", "tool-call"],
)
def test_a_stream_that_ends_with_done_but_no_finish_reason_ends_normally(
    llm, server, credentials, reply, finish
):
    server.fault(CHAT, reply=reply | {"no_finish": True})  # older LocalAI and Ollama, some gateways

    chunks = invoke(llm, credentials("chat-model"), tools=[WEATHER])

    assert text_of(chunks) == ("all here " if finish == "stop" else "")
    assert chunks[-1].delta.finish_reason == finish
    assert len(chunks[-1].delta.message.tool_calls) == (finish == "tool_calls")


def test_text_events_that_arrive_together_go_on_as_one_chunk(llm, server, credentials):
    def event(delta: dict, **choice: str) -> str:
        return "data: " + json.dumps({"choices": [{"index": 0, "delta": delta, **choice}]})

    together = [
        event({"role": "assistant", "content": ""}),
        *(event({"content": word}) for word in ("Hel", "lo", " wor", "ld")),
        event({"reasoning_content": "hmm"}),  # not text only: it ends the run
        event({"content": "!"}),
        event({}, finish_reason="stop"),
        "data: [DONE]",
    ]
    server.fault(CHAT, lines=["\n\n".join(together)])  # one write: the plugin reads all at once

    chunks = invoke(llm, credentials("chat-model"))

    pieces = [chunk.delta.message.content for chunk in chunks[:-1]]
    assert pieces == ["Hello world", "<think>\nhmm", "\n</think>\n!"]
    assert chunks[-1].delta.finish_reason == "stop"


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_usage_is_estimated_when_the_server_reports_none(llm, server, credentials, stream):
    server.fault(CHAT, reply={"content": "four words of answer", "no_usage": True})
    messages = [UserPromptMessage(content="how long is this prompt?")]

    chunks = invoke(llm, credentials("chat-model"), messages, stream=stream)

    usage = chunks[-1].delta.usage
    assert usage.prompt_tokens == llm.get_num_tokens("chat-model", credentials("chat-model"), messages)
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_model_parameters_and_stop_words_are_sent(llm, server, credentials):
    parameters = {
        "temperature": 0.3,
        "top_p": 0.9,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "max_tokens": 64,
    }

    invoke(llm, credentials("chat-model"), model_parameters=parameters, stop=["\n\n", "END"])

    body = sent(server)
    assert {name: body[name] for name in parameters} == parameters
    assert body["stop"] == ["\n\n", "END"]


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_sampling_parameters_and_the_extra_body_reach_the_request(llm, server, credentials, stream):
    parameters = {"top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1, "seed": 42}
    extra = {"repeat_penalty": 1.1, "guided_choice": ["yes", "no"], "cache_prompt": True}

    invoke(
        llm,
        credentials("chat-model"),
        stream=stream,
        model_parameters={**parameters, "extra_body": json.dumps(extra)},
    )

    body = sent(server)
    assert {name: body[name] for name in parameters} == parameters
    assert {name: body[name] for name in extra} == extra
    assert "extra_body" not in body


def test_the_seed_goes_up_to_the_largest_signed_32_bit_integer(llm, server, credentials):
    """2**31 - 1: llama.cpp reads the seed as an unsigned 32-bit integer, vLLM and OpenAI as a
    64-bit one; every server takes this one."""
    rules = {rule.name: rule for rule in llm.get_customizable_model_schema("chat-model", {}).parameter_rules}
    assert (rules["seed"].min, rules["seed"].max) == (0, 2**31 - 1)

    invoke(llm, credentials("chat-model"), stream=False, model_parameters={"seed": 2**31 - 1})
    too_big = "seed should be less than or equal to 2147483647"  # the SDK checks the rule's range
    with pytest.raises(ValueError, match=too_big):
        invoke(llm, credentials("chat-model"), stream=False, model_parameters={"seed": 2**31})

    assert sent(server)["seed"] == 2147483647


@pytest.mark.parametrize(
    "field",
    ["model", "messages", "prompt", "stream", "stream_options", "tools", "stop", "user", "temperature"],
)
def test_the_extra_body_may_not_set_a_field_the_plugin_sets(llm, server, credentials, field):
    parameters = {"temperature": 0.5, "extra_body": json.dumps({field: "from extra_body"})}

    with pytest.raises(InvokeBadRequestError) as caught:
        invoke(llm, credentials("chat-model"), model_parameters=parameters)

    assert str(caught.value) == (
        f'extra_body must not set "{field}": the plugin sets it, or one of its parameters does'
    )
    assert server.requests() == []


@pytest.mark.parametrize(
    ("extra_body", "rule"),
    [
        (
            '{"repeat_penalty": 1.1',
            'must be a JSON object, e.g. {"repeat_penalty": 1.1} (not JSON at line 1 column 23)',
        ),
        ('["repeat_penalty", 1.1]', 'must be a JSON object, e.g. {"repeat_penalty": 1.1}'),
    ],
    ids=["not JSON", "not an object"],
)
def test_an_extra_body_that_is_no_json_object_is_refused_in_one_line(
    llm, server, credentials, extra_body, rule
):
    with pytest.raises(InvokeBadRequestError) as caught:
        invoke(llm, credentials("chat-model"), model_parameters={"extra_body": extra_body})

    assert str(caught.value) == f"extra_body {rule}"
    assert server.requests() == []


def test_an_empty_extra_body_adds_nothing(llm, server, credentials):
    invoke(llm, credentials("chat-model"), stream=False, model_parameters={"extra_body": "  "})

    assert set(sent(server)) == {"model", "stream", "messages", "max_tokens"}


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
@pytest.mark.parametrize(
    ("form", "expected"),
    [({}, limits.DEFAULT_ANSWER_TOKENS), ({"max_tokens": "1024"}, 1024), ({"max_tokens": "65536"}, 8192)],
    ids=["form default", "form answer", "form answer above the context"],
)
def test_an_app_without_max_tokens_sends_the_forms_upper_bound(
    llm, server, credentials, stream, form, expected
):
    """So that an answer nobody reads any more (Stop in Dify) still ends on the server."""
    invoke(llm, credentials("chat-model", context_size="8192", **form), stream=stream, model_parameters={})

    assert sent(server)["max_tokens"] == expected
{% if plan.customizable %}


def test_the_form_states_the_default_bounds_of_an_answer():
    schema = yaml.safe_load(next((ROOT / "provider").glob("*.yaml")).read_text(encoding="utf-8"))
    fields = schema["model_credential_schema"]["credential_form_schemas"]
    form = {field["variable"]: field for field in fields}

    assert form["max_tokens"]["default"] == str(limits.DEFAULT_ANSWER_TOKENS)
    assert form["answer_seconds"]["default"] == f"{limits.DEFAULT_ANSWER_SECONDS:g}"
    assert f"1 to {limits.STREAM_LIMIT:g};" in form["answer_seconds"]["placeholder"]["en_US"]
{% endif %}


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_completion_mode_posts_the_prompt_to_completions(llm, server, credentials, stream):
    generate = credentials("generate-model", mode="completion")
    messages = [UserPromptMessage(content="Once upon a time")]

    chunks = invoke(llm, generate, messages, stream=stream, model="generate-model")

    assert text_of(chunks).strip() == "generated: Once upon a time"
    assert [r["path"] for r in server.requests()] == ["/v1/completions"]
    body = sent(server)
    assert body["prompt"] == "Once upon a time"
    assert "messages" not in body
    assert chunks[-1].delta.usage.completion_tokens > 0


# -- tools, images, reasoning ------------------------------------------------------------


def test_blocking_tool_calls_become_assistant_tool_calls(llm, server, credentials):
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    server.fault(CHAT, reply={"content": "", "tool_calls": [call]})

    [result] = invoke(llm, credentials("chat-model"), stream=False, tools=[WEATHER])

    [tool_call] = result.delta.message.tool_calls
    assert (tool_call.id, tool_call.type) == ("call_1", "function")
    assert (tool_call.function.name, tool_call.function.arguments) == ("get_weather", '{"city": "Oslo"}')
    assert sent(server)["tools"] == [
        {
            "type": "function",
            "function": {
                "name": WEATHER.name,
                "description": WEATHER.description,
                "parameters": WEATHER.parameters,
            },
        }
    ]


INTERLEAVED_DELTAS = [  # OpenAI's shape: each call has an index; its arguments come in pieces
    {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
    {"index": 0, "function": {"arguments": '{"ci'}},
    {"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"zo'}},
    {"index": 0, "function": {"arguments": 'ty": "Oslo"}'}},
    {"index": 1, "function": {"arguments": 'ne": "UTC"}'}},
]
INDEX_ZERO_DELTAS = [  # servers that number every call 0 and tell them apart by id only
    {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"ci'},
    },
    {"index": 0, "function": {"arguments": 'ty": "Oslo"}'}},
    {"index": 0, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"zo'}},
    {"index": 0, "function": {"arguments": 'ne": "UTC"}'}},
]


@pytest.mark.parametrize(
    "pieces", [INTERLEAVED_DELTAS, INDEX_ZERO_DELTAS], ids=["interleaved", "all-index-0"]
)
def test_streamed_tool_call_deltas_are_merged_into_complete_calls(llm, server, credentials, pieces):
    server.fault(CHAT, reply={"content": "", "stream_tool_deltas": pieces})

    chunks = invoke(llm, credentials("chat-model"), tools=[WEATHER, TIME])

    assert all(not chunk.delta.message.tool_calls for chunk in chunks[:-1])
    calls = chunks[-1].delta.message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_a", "get_weather", '{"city": "Oslo"}'),
        ("call_b", "get_time", '{"zone": "UTC"}'),
    ]
    assert chunks[-1].delta.finish_reason == "tool_calls"


def test_tool_results_and_tool_call_history_are_sent_back(llm, server, credentials):
    history = [
        SystemPromptMessage(content="You check the weather."),
        UserPromptMessage(content="Weather in Oslo?"),
        AssistantPromptMessage(
            content="<think>\nthe user wants weather\n</think>\n",
            tool_calls=[
                AssistantPromptMessage.ToolCall(
                    id="call_1",
                    type="function",
                    function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                        name="get_weather", arguments='{"city": "Oslo"}'
                    ),
                )
            ],
        ),
        ToolPromptMessage(content="12 C, cloudy", tool_call_id="call_1", name="get_weather"),
    ]

    invoke(llm, credentials("chat-model"), history, tools=[WEATHER])

    assert sent(server)["messages"] == [
        {"role": "system", "content": "You check the weather."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",  # the reasoning shown is not repeated as text,
            "reasoning_content": "the user wants weather",  # but goes back beside the tool call
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "12 C, cloudy"},
    ]


def test_image_parts_are_sent_as_image_url_parts(llm, server, credentials):
    image = ImagePromptMessageContent(format="png", mime_type="image/png", base64_data="iVBORw0KGgo=")
    message = UserPromptMessage(content=[TextPromptMessageContent(data="What is this?"), image])

    chunks = invoke(llm, credentials("vision-model", vision="yes"), [message], model="vision-model")

    assert text_of(chunks).startswith("pong: What is this?")
    assert sent(server)["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
    ]


def test_text_only_parts_are_sent_as_plain_text(llm, server, credentials):
    message = UserPromptMessage(
        content=[TextPromptMessageContent(data="plain "), TextPromptMessageContent(data="text")]
    )

    invoke(llm, credentials("chat-model"), [message])

    assert sent(server)["messages"][0]["content"] == "plain text"


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_reasoning_content_is_shown_in_think_tags_before_the_answer(llm, server, credentials, stream):
    server.fault(CHAT, reply={"content": "42", "reasoning_content": "six times seven"})

    chunks = invoke(llm, credentials("chat-model"), stream=stream)

    assert text_of(chunks).strip() == "<think>\nsix times seven\n</think>\n42"


# -- token counts and schema -------------------------------------------------------------


def test_get_num_tokens_estimates_where_the_server_has_no_tokenizer_and_counts_tool_definitions(
    llm, server, credentials
):
    messages = [SystemPromptMessage(content="Be brief."), UserPromptMessage(content="Hello there, model!")]

    plain = llm.get_num_tokens("chat-model", credentials("chat-model"), messages)
    with_tools = llm.get_num_tokens("chat-model", credentials("chat-model"), messages, [WEATHER])

    assert 0 < plain < with_tools
    asked = [r["path"] for r in server.requests()]
    # llama.cpp's template, then vLLM's chat count: asked once per connection and model, remembered
    assert asked in ([], ["/apply-template", "/tokenize"])


def test_schema_is_never_none_and_features_follow_credentials(llm):
    bare = llm.get_customizable_model_schema("any-model", {})
    assert bare is not None
    assert bare.model_properties[ModelPropertyKey.MODE] == "chat"
    assert not bare.features
    assert [rule.name for rule in bare.parameter_rules] == [*BASE_RULES, "extra_body"]

    answered = {"function_calling": "yes", "vision": "yes", "mode": "completion", "context_size": "2048"}
    schema = llm.get_customizable_model_schema("any-model", answered | {"max_tokens": "8192"})
    assert set(schema.features) == {
        ModelFeature.TOOL_CALL,
        ModelFeature.MULTI_TOOL_CALL,
        ModelFeature.STREAM_TOOL_CALL,
        ModelFeature.VISION,
    }
    assert schema.model_properties == {
        ModelPropertyKey.MODE: "completion",
        ModelPropertyKey.CONTEXT_SIZE: 2048,
    }
    max_tokens = next(rule for rule in schema.parameter_rules if rule.name == "max_tokens")
    assert (max_tokens.max, max_tokens.default) == (2048, 512)

    small = llm.get_customizable_model_schema("any-model", {"context_size": "8192", "max_tokens": "256"})
    max_tokens = next(rule for rule in small.parameter_rules if rule.name == "max_tokens")
    assert (max_tokens.max, max_tokens.default) == (256, 256)


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uid", "expected"),
    [
        ("chat-model", {"mode": "chat", "function_calling": "yes", "vision": "no", "context_size": "8192"}),
        ("vision-model", {"mode": "chat", "function_calling": "no", "vision": "yes", "context_size": "4096"}),
        (
            "generate-model",
            {"mode": "completion", "function_calling": "no", "vision": "no", "context_size": "2048"},
        ),
    ],
)
def test_validate_credentials_stores_the_capabilities_the_server_reports(llm, credentials, uid, expected):
    given = credentials(uid, mode="chat", function_calling="no", vision="no")  # the form's defaults

    llm.validate_credentials(uid, given)

    assert {key: given[key] for key in expected} == expected


def test_validation_keeps_the_users_answers_when_the_server_does_not_describe_models(
    llm, server, credentials
):
    server.control("config", {"describe": False})
    given = credentials("chat-model", mode="chat", function_calling="yes", vision="no", context_size="16384")
    before = dict(given)

    llm.validate_credentials("chat-model", given)

    assert given == before


@pytest.mark.parametrize("case", ["unknown uid", "wrong model type", "wrong api key", "connection refused"])
def test_validation_failure_names_the_server_and_never_the_key(llm, server, credentials, case):
    given = credentials("chat-model", api_key=API_KEY)
    port = spoil_validation(case, server, given, other_type_uid="embed-model")

    with raises_dify_error(CredentialsValidateFailedError, port):
        llm.validate_credentials("chat-model", given)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
@pytest.mark.parametrize(("status", "expected"), HTTP_ERRORS)
def test_http_errors_map_to_difys_errors_by_cause(llm, server, credentials, stream, status, expected):
    server.fault(CHAT, **error_answer(status))

    with raises_dify_error(expected, server.port, status):
        invoke(llm, credentials("chat-model", api_key=API_KEY), stream=stream)


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_connection_refused_is_a_connection_error(llm, credentials, stream):
    url, port = unreachable_server()

    with raises_dify_error(InvokeConnectionError, port):
        invoke(llm, credentials("chat-model", api_key=API_KEY, server_url=url), stream=stream)


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_a_server_slower_than_the_timeout_is_a_connection_error_within_the_timeout(
    llm, server, credentials, short_timeouts, stream
):
    server.fault(CHAT, delay=3)
    given = credentials("chat-model", api_key=API_KEY, request_timeout="0.2")

    started = time.monotonic()
    with raises_dify_error(InvokeConnectionError, server.port):
        invoke(llm, given, stream=stream)

    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("stream", "fault", "expected"),
    [
        (
            False,
            {"status": 200, "body": "<html>busy</html>", "content_type": "text/html"},
            InvokeServerUnavailableError,
        ),
        (False, {"status": 200, "body": {"object": "chat.completion"}}, InvokeServerUnavailableError),
        (False, {"status": 500, "body": {"unexpected": ["shape"]}}, InvokeServerUnavailableError),
        (False, {"reply": {"raw_body": {"id": "x", "choices": []}}}, InvokeServerUnavailableError),
        (False, {"reply": {"raw_body": {"choices": [{"index": 0}]}}}, InvokeServerUnavailableError),
        (False, {"reply": {"raw_body": {"choices": "none"}}}, InvokeServerUnavailableError),
        (True, {"reply": {"extra_events": ["{not json"]}}, InvokeServerUnavailableError),
        (
            True,
            {"reply": {"extra_events": [{"error": {"message": "out of memory"}}]}},
            InvokeServerUnavailableError,
        ),
        (
            True,
            {"reply": {"extra_events": [{"choices": [{"index": 0, "delta": "oops"}]}]}},
            InvokeServerUnavailableError,
        ),
        (True, {"cut_after": 2}, InvokeConnectionError),
        (
            True,
            {
                "status": 200,
                "body": 'data: {"choices": []}\n\n',  # neither a finish_reason nor [DONE]
                "content_type": "text/event-stream",
            },
            InvokeConnectionError,
        ),
    ],
    ids=[
        "non-json body",
        "json without choices",
        "error body of unknown shape",
        "empty choices",
        "choice without message",
        "choices not a list",
        "malformed sse line",
        "error event mid-stream",
        "delta not an object",
        "stream cut mid-way",
        "stream without finish or [DONE]",
    ],
)
def test_malformed_answers_are_clear_dify_errors(llm, server, credentials, stream, fault, expected):
    server.fault(CHAT, **fault)

    with raises_dify_error(expected, server.port):
        invoke(llm, credentials("chat-model", api_key=API_KEY), stream=stream)


# -- as Dify runs it ------------------------------------------------------------------------


def _text_event(text: str) -> str:
    return "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}) + "\n"


@pytest.mark.parametrize(
    "error_lines",
    [
        ['data: {"error": {"message": "CUDA out of memory"}}'],
        ["event: error", 'data: {"message": "CUDA out of memory"}'],
    ],
    ids=["error object", "error event"],
)
def test_text_before_a_mid_stream_error_reaches_dify_then_the_error(plugin, server, credentials, error_lines):
    # One write holds the text and the error, so the plugin reads them together.
    together = _text_event("Half ") + "\n" + _text_event("an answer") + "\n" + "\n".join(error_lines) + "\n"
    server.fault(CHAT, lines=[together])
    streamed, error = plugin.call(
        "invoke_llm",
        model_type="llm",
        model="chat-model",
        credentials=credentials("chat-model"),
        prompt_messages=[{"role": "user", "content": "hi"}],
        model_parameters={},
        stop=[],
        tools=[],
        stream=True,
    )
    assert "".join(chunk["delta"]["message"]["content"] for chunk in streamed) == "Half an answer"
    assert error is not None and error["error_type"] == "InvokeServerUnavailableError"
    assert "reported an error mid-stream" in error["message"] and "CUDA out of memory" in error["message"]


def test_dify_validates_invokes_and_counts_tokens_over_stdio(plugin, server, credentials):
    results, error = plugin.call(
        "validate_model_credentials",
        model_type="llm",
        model="chat-model",
        credentials=credentials("chat-model"),
    )
    assert error is None, error
    assert results[0]["result"] is True
    stored = results[0]["credentials"]
    assert (stored["function_calling"], stored["context_size"]) == ("yes", "8192")

    request = {
        "model_type": "llm",
        "model": "chat-model",
        "credentials": stored,
        "prompt_messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "model_parameters": {"temperature": 0.2, "max_tokens": 32},
        "stop": ["END"],
        "tools": [WEATHER.model_dump()],
    }
    streamed, error = plugin.call("invoke_llm", **request, stream=True)
    assert error is None, error
    assert "".join(chunk["delta"]["message"]["content"] for chunk in streamed) == "pong: hi "
    assert streamed[-1]["delta"]["finish_reason"] == "stop"
    assert streamed[-1]["delta"]["usage"]["total_tokens"] == 18

    [answer], error = plugin.call("invoke_llm", **request, stream=False)
    assert error is None, error
    assert answer["delta"]["message"]["content"] == "pong: hi"
    assert answer["delta"]["usage"]["prompt_tokens"] == 11
    body = server.requests(CHAT)[-1]["json"]
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.2, 32, ["END"])
    assert body["tools"][0]["function"]["name"] == "get_weather"

    counted, error = plugin.call(
        "get_llm_num_tokens",
        model_type="llm",
        model="chat-model",
        credentials=stored,
        prompt_messages=request["prompt_messages"],
        tools=request["tools"],
    )
    assert error is None, error
    assert counted[0]["num_tokens"] > 0


def test_dify_gets_the_error_message_over_stdio(plugin, server, credentials):
    server.fault(CHAT, status=429, body={"detail": "too many requests"})

    results, error = plugin.call(
        "invoke_llm",
        model_type="llm",
        model="chat-model",
        credentials=credentials("chat-model", api_key=API_KEY),
        prompt_messages=[{"role": "user", "content": "hi"}],
        model_parameters={},
        stop=None,
        tools=None,
        stream=True,
    )

    assert results == []
    assert error["error_type"] == "InvokeRateLimitError"
    assert f"127.0.0.1:{server.port}" in error["message"]
    assert "too many requests" in error["message"]
    assert API_KEY not in json.dumps(error)
{% if plan.predefined %}


def test_a_predefined_model_is_called_as_its_yaml_says(server):
    """A predefined model has no form: its YAML's mode decides the request (here a completion)."""
    declared = {
        "model": "generate-model",
        "label": {"en_US": "generate-model"},
        "model_type": "llm",
        "fetch_from": "predefined-model",
        "model_properties": {"mode": "completion", "context_size": 2048},
        "parameter_rules": [],
    }
    llm = {{ plan.class_name("llm") }}(model_schemas=[AIModelEntity(**declared)])
    assert text_of(invoke(llm, {"server_url": server.url}, model="generate-model", stream=False))
    assert [r["path"] for r in server.requests() if r["method"] == "POST"] == ["/v1/completions"]
{% endif %}
