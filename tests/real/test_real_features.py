"""Model features on real servers, as Dify runs the plugin: structured output on both servers
and through the gateway, the thinking switch on a llama.cpp server whose chat template reads it.

The chat model is SmolLM2-135M-Instruct, answering greedily; what is checked is what the
server does with the request (a grammar that forces the schema, a template that reads the
switch), not how clever the answer is.
"""

import json

import pytest

from real import cache, servers
from real.conftest import validated

pytestmark = pytest.mark.real

COLOUR = {
    "type": "object",
    "properties": {"colour": {"type": "string", "enum": ["red", "green", "blue"]}},
    "required": ["colour"],
    "additionalProperties": False,
}
# ChatML, plus what Qwen3's template does when thinking is switched off: an empty think block.
THINKING_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)


def chat(plugin, credentials, parameters, stream=False, model="llm-model"):
    return plugin.call(
        "invoke_llm",
        model_type="llm",
        model=model,
        credentials=credentials,
        prompt_messages=[{"role": "user", "content": "What colour is a clear sky? Answer in JSON."}],
        model_parameters={"temperature": 0.0, **parameters},
        stop=None,
        tools=None,
        stream=stream,
    )


@pytest.mark.gateway
@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_structured_output_is_detected_and_the_answer_follows_the_schema(real_server, real_plugin, stream, request):
    stored = validated(real_plugin, real_server, "llm")
    # llama.cpp's /props; Xinference runs this GGUF on llama.cpp; the gateway's /v1/model/info
    # (LiteLLM passes the schema on to llama.cpp)
    assert stored.get("structured_output") == "yes"

    assert_follows_the_schema(real_plugin, stored, stream)


def assert_follows_the_schema(plugin, stored: dict, stream: bool) -> None:
    schema = json.dumps({"name": "llm_response", "schema": COLOUR})
    chunks, error = chat(
        plugin, stored, {"max_tokens": 48, "response_format": "json_schema", "json_schema": schema}, stream
    )

    assert error is None, error
    answer = json.loads("".join(chunk["delta"]["message"]["content"] for chunk in chunks))
    assert set(answer) == {"colour"} and answer["colour"] in ("red", "green", "blue")


@pytest.fixture(scope="module")
def thinking_llama(real_models, real_workdir):
    """llama.cpp's server running the chat model with a chat template that reads `enable_thinking`."""
    spec = {
        "alias": "think-model",
        "path": str(real_models / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"),
        "kind": "chat",
        "context": 1024,
        "threads": 1,
        "chat_template": THINKING_TEMPLATE,  # as --chat-template-file would read it
    }
    server = servers.start_llama_models(cache.llama_cpp(), {"llm": spec}, real_workdir / "llama-thinking")
    try:
        yield server.credentials("llm", request_timeout="60")
    finally:
        server.stop()


def test_the_thinking_switch_is_detected_and_reaches_the_chat_template(thinking_llama, real_plugin):
    results, error = real_plugin.call(
        "validate_model_credentials", model_type="llm", model="think-model", credentials=thinking_llama
    )
    assert error is None, error
    stored = results[0]["credentials"]
    assert stored["thinking"] == "switchable"  # /props shows a template that reads enable_thinking
    [schema], error = real_plugin.call(
        "get_ai_model_schemas", model_type="llm", model="think-model", credentials=stored
    )
    assert error is None, error
    assert "agent-thought" in schema["model_schema"]["features"]
    assert "enable_thinking" in [rule["name"] for rule in schema["model_schema"]["parameter_rules"]]

    prompt_tokens = {}
    for switch in (True, False):
        [answer], error = chat(real_plugin, stored, {"max_tokens": 4, "enable_thinking": switch}, model="think-model")
        assert error is None, error
        prompt_tokens[switch] = answer["delta"]["usage"]["prompt_tokens"]

    # Only "thinking off" makes the template add its empty think block to the prompt.
    assert prompt_tokens[False] > prompt_tokens[True], prompt_tokens
