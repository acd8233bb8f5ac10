"""The LLM as Dify runs it against real servers: blocking and streamed chat, stops, completion mode,
token counts and errors. The chat model is SmolLM2-135M-Instruct, answering greedily (temperature 0)."""

import json

import pytest

from real.conftest import key_refusal, needs_model_routing, validated

# Real servers: `tests/run.sh` runs these in one process, after the rest, so each starts once.
pytestmark = pytest.mark.real

GREEDY = {"temperature": 0.0, "max_tokens": 16}
COUNT = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]


def invoke(plugin, credentials, messages=COUNT, stream=False, parameters=GREEDY, stop=None):
    return plugin.call(
        "invoke_llm",
        model_type="llm",
        model="llm-model",
        credentials=credentials,
        prompt_messages=messages,
        model_parameters=parameters,
        stop=stop,
        tools=None,
        stream=stream,
    )


def text(chunks) -> str:
    return "".join(chunk["delta"]["message"]["content"] for chunk in chunks)


@pytest.fixture(scope="module")
def chat(real_server, real_plugin):
    """Credentials Dify stores after validating the chat model."""
    return validated(real_plugin, real_server, "llm")


@pytest.mark.gateway
def test_blocking_chat_answers_with_the_servers_usage(real_server, real_plugin, chat):
    results, error = invoke(real_plugin, chat)

    assert error is None, error
    [answer] = results
    assert answer["delta"]["message"]["content"].strip()
    usage = answer["delta"]["usage"]
    assert 0 < usage["completion_tokens"] <= GREEDY["max_tokens"]
    assert usage["prompt_tokens"] > 10  # the chat template's tokens included, as the server counted them
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.gateway
def test_streamed_chat_gives_the_same_text_in_pieces_then_finish_and_usage(real_server, real_plugin, chat):
    [blocking], _ = invoke(real_plugin, chat)

    chunks, error = invoke(real_plugin, chat, stream=True)

    assert error is None, error
    assert len(chunks) > 3
    assert text(chunks) == blocking["delta"]["message"]["content"]  # greedy decoding answers alike
    assert [c["delta"]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["delta"]["finish_reason"] in ("length", "stop")
    assert chunks[-1]["delta"]["usage"]["prompt_tokens"] == blocking["delta"]["usage"]["prompt_tokens"]


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_a_stop_word_ends_the_answer_before_it(real_server, real_plugin, chat, stream):
    [free], _ = invoke(real_plugin, chat)
    full = free["delta"]["message"]["content"]
    stop = "3"
    assert stop in full, full  # the model counts past 3 when nothing stops it

    chunks, error = invoke(real_plugin, chat, stream=stream, stop=[stop])

    assert error is None, error
    answer = text(chunks)
    assert stop not in answer
    assert answer.strip() and full.startswith(answer.rstrip())
    if stream:  # the SDK passes a blocking answer on without its finish reason
        assert chunks[-1]["delta"]["finish_reason"] == "stop"


def test_max_tokens_bounds_the_answer_and_says_length(real_server, real_plugin, chat):
    results, error = invoke(real_plugin, chat, parameters={"temperature": 0.0, "max_tokens": 3})

    assert error is None, error
    [answer] = results
    assert answer["delta"]["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_completion_mode_continues_the_prompt(real_server, real_plugin, chat, stream):
    completion = {**chat, "mode": "completion"}
    prompt = [{"role": "user", "content": "The capital of France is"}]

    chunks, error = invoke(real_plugin, completion, messages=prompt, stream=stream)

    assert error is None, error
    assert text(chunks).strip()
    assert chunks[-1]["delta"]["usage"]["completion_tokens"] > 0


def test_token_count_matches_the_servers_own_count(real_server, real_plugin, chat):
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name three primary colours, please."},
    ]
    results, error = invoke(real_plugin, chat, messages=messages, parameters={"temperature": 0.0, "max_tokens": 1})
    assert error is None, error
    server_count = results[0]["delta"]["usage"]["prompt_tokens"]

    results, error = real_plugin.call(
        "get_llm_num_tokens", model_type="llm", model="llm-model", credentials=chat, prompt_messages=messages, tools=[]
    )

    assert error is None, error
    [counted] = results
    if real_server.facts.get("tokenizer"):
        assert counted["num_tokens"] == server_count
    else:
        assert 0.7 * server_count <= counted["num_tokens"] <= 1.3 * server_count, (counted, server_count)


@pytest.mark.gateway
@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_a_wrong_key_is_an_authorization_error_without_the_key(real_server, real_plugin, chat, stream):
    wrong = {**chat, "api_key": "sk-wrong-key-123456"}

    chunks, error = invoke(real_plugin, wrong, stream=stream)

    assert chunks == []
    assert error["error_type"] == "InvokeAuthorizationError", error
    assert str(key_refusal(real_server)) in error["message"] and real_server.address("llm") in error["message"]
    assert "sk-wrong-key-123456" not in json.dumps(error) and real_server.api_key not in json.dumps(error)


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_an_unknown_model_is_an_error_naming_the_server(real_server, real_plugin, chat, stream):
    needs_model_routing(real_server)
    unknown = {**chat, "model_uid": "no-such-model"}

    chunks, error = invoke(real_plugin, unknown, stream=stream)

    assert chunks == []
    assert error["error_type"] in ("InvokeBadRequestError", "InvokeServerUnavailableError"), error
    assert real_server.address("llm") in error["message"]
    assert real_server.api_key not in json.dumps(error)
