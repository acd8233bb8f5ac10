{% set plan = cookiecutter | plan %}
"""Server families against the loopback server answering in each family's own shapes (each
fixture in tests/fake_families.py names the public source it copies): which family validation
recognises and what it detects, a gateway's refusal of a key, the tokenizer each family counts
with, and how long a server's refusal is remembered.
"""

import itertools

import pytest
{% if plan.has("llm") %}
from conftest import HAND_ADDED
from dify_plugin.entities.model.message import UserPromptMessage
{% endif %}
from dify_plugin.errors.model import InvokeAuthorizationError, InvokeBadRequestError
from fake_families import (
    CONTEXT,
{% if plan.has("text-embedding") %}
    LITELLM_EMBEDDING_INPUT,
{% endif %}
{% if plan.has("llm") %}
    LITELLM_INPUT,
    LITELLM_OUTPUT,
{% endif %}
    LM_STUDIO_LOADED,
    OLLAMA_RUNNING,
    litellm_no_db,
)
from fake_server import MODELS

{% if plan.has("llm") %}
from models.llm.llm import {{ plan.class_name("llm") }}
{% endif %}
from models.server import limits, tokens
from models.server.connection import Connection
from models.server.probes import described_features
from models.server.tokens import Tokenizer
from models.server.transport import request
from models.server.vocabulary import {{ "CHAT, " if plan.has("llm") }}REFUSED_KEY, THINKING_SWITCHABLE, Fault, ModelInfo

KEYS = itertools.count()  # a new key makes a new connection: nothing remembered for it yet
UID = next(iter(MODELS))  # a model the loopback server runs in every bake


@pytest.fixture
def family(server):
    """family(name): the loopback server answers as that family from now on (reset after each test)."""

    def answer_as(name: str) -> None:
        server.control("features", {"family": name})

    return answer_as


def connection(credentials, uid: str = UID) -> Connection:
    return Connection.of(credentials(uid, api_key=f"sk-family-{next(KEYS)}"))


# -- what each family says about a model --------------------------------------------------------

DESCRIBED = {
    "vllm": ModelInfo(context_size=CONTEXT, structured_output=True, family="vLLM"),
    "sglang": ModelInfo(
        context_size=CONTEXT,
        images=True,
        tools=True,
        thinking=THINKING_SWITCHABLE,
        structured_output=True,
        family="SGLang",
    ),
    "ollama": ModelInfo(
        context_size=OLLAMA_RUNNING,  # what the loaded model runs with, not the 40960 it was trained for
        images=False,
        tools=True,
        thinking=THINKING_SWITCHABLE,
        extra_inputs=(),
        structured_output=True,
        family="Ollama",
    ),
    "lm-studio": ModelInfo(
        context_size=LM_STUDIO_LOADED,  # the loaded instance's, not the model's maximum
        images=True,
        tools=True,
        structured_output=True,
        family="LM Studio",
    ),
    "localai": None,  # says nothing about a model: the answers decide, as for any server
{% if plan.has("llm") %}
    "litellm": ModelInfo(  # UID is the chat model; LiteLLM describes each model by its mode
        model_type="llm",  # its mode, "chat"
        context_size=LITELLM_INPUT,
        images=False,
        mode=CHAT,
        tools=True,
        thinking=THINKING_SWITCHABLE,
        structured_output=True,
        max_output=LITELLM_OUTPUT,
        family="LiteLLM",
    ),
{% endif %}
}


@pytest.mark.parametrize("name", DESCRIBED)
def test_each_family_is_recognised_by_its_own_answers_and_describes_the_model(family, credentials, name):
    family(name)

    assert described_features(connection(credentials), UID) == DESCRIBED[name]


def test_a_family_asks_its_further_endpoints_only_once_it_recognised_the_server(server, family, credentials):
    family("vllm")

    described_features(connection(credentials), UID)

    asked = [(r["method"], r["path"]) for r in server.requests()]
    assert asked == [("GET", "/props"), ("GET", "/v1/models")]  # llama.cpp's, then vLLM's (recognised)
    assert not {"/get_model_info", "/get_server_info", "/api/show", "/api/ps"} & {p for _, p in asked}


def test_an_unknown_server_is_asked_each_family_once_and_keeps_the_users_answers(server, credentials):
    assert described_features(connection(credentials), UID) is None

    asked = [(r["method"], r["path"]) for r in server.requests()]
    assert asked == [
        ("GET", "/props"),
        ("GET", "/v1/models"),  # read by vLLM and SGLang, asked once
        ("POST", "/api/show"),
        ("GET", f"/api/v0/models/{UID}"),
        ("GET", "/v1/model/info"),
    ]


def test_litellm_refusing_a_key_for_want_of_a_database_is_an_authorization_error(server, credentials):
    server.fault("/v1/models", status=400, body=litellm_no_db())

    with pytest.raises(InvokeAuthorizationError) as refused:
        request(connection(credentials), "GET", "models")

    assert "answered 400: No connected db. (the API key was not accepted" in str(refused.value)
    assert Fault.of(refused.value) == Fault(REFUSED_KEY, status=400)


def test_another_400_is_still_a_bad_request(server, credentials):
    refusal = {"error": {"message": "bad", "type": "invalid_request_error"}}
    server.fault("/v1/models", status=400, body=refusal)

    with pytest.raises(InvokeBadRequestError):
        request(connection(credentials), "GET", "models")


# -- tokenizers ---------------------------------------------------------------------------------


def test_vllm_counts_with_its_own_body_and_the_refused_llama_cpp_body_is_not_sent_again(
    server, family, credentials
):
    family("vllm")
    tokenizer = Tokenizer(connection(credentials), UID)

    assert tokenizer.count("one two three") == 4  # three words and BOS, as the fake's tokenizer counts
    assert tokenizer.count("four five") == 3

    bodies = [r["json"] for r in server.requests("/tokenize")]
    assert bodies[0] == {"model": UID, "content": "one two three", "add_special": True}  # refused
    assert bodies[1:] == [
        {"model": UID, "prompt": "one two three", "add_special_tokens": True},
        {"model": UID, "prompt": "four five", "add_special_tokens": True},
    ]


def test_vllm_counts_a_chat_with_its_template_in_one_request(server, family, credentials):
    family("vllm")
    messages = [{"role": "user", "content": "how many tokens here"}]

    counted = Tokenizer(connection(credentials), UID).count_chat(messages, None)

    assert counted == 4 + 4 + 3  # words, the message's markers, the reply's opening
    [chat] = [r["json"] for r in server.requests("/tokenize")]
    assert chat == {"model": UID, "messages": messages, "add_generation_prompt": True}


def test_localai_counts_at_v1_tokenize(server, family, credentials):
    family("localai")
    tokenizer = Tokenizer(connection(credentials), UID)

    assert tokenizer.count("one two three") == 3
    assert tokenizer.count("four five") == 2

    # llama.cpp's and vLLM's endpoint refuse (remembered), LocalAI's counts
    paths = [r["path"] for r in server.requests()]
    assert paths == ["/tokenize", "/tokenize", "/v1/tokenize", "/v1/tokenize"]


def test_a_refused_tokenizer_is_asked_again_once_its_memory_has_passed(
    server, family, credentials, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(tokens.TOKENIZERS, "clock", lambda: clock[0])
    conn = connection(credentials)
    Tokenizer(conn, UID).count("one")  # no tokenizer anywhere: each refusal remembered
    family("vllm")  # the server behind the URL is replaced by vLLM

    Tokenizer(conn, UID).count("one")
    clock[0] += limits.TOKENIZER_MEMORY + 1
    counted = Tokenizer(conn, UID).count("one")

    assert counted == 2
    assert len(server.requests("/tokenize")) == 2 + 2  # before: llama.cpp's and vLLM's; after: the same
{% if plan.has("llm") %}


# -- what a validated model's schema shows ------------------------------------------------------

TOOLS = {"tool-call", "multi-tool-call", "stream-tool-call"}
SCHEMAS = {
    "vllm": ("vLLM", CONTEXT, {"structured-output"}),
    "sglang": ("SGLang", CONTEXT, TOOLS | {"vision", "agent-thought", "structured-output"}),
    "ollama": ("Ollama", OLLAMA_RUNNING, TOOLS | {"agent-thought", "structured-output"}),
    "lm-studio": ("LM Studio", LM_STUDIO_LOADED, TOOLS | {"vision", "structured-output"}),
    "localai": (None, 4096, set()),  # nothing detected: the form's answers and defaults
    "litellm": ("LiteLLM", LITELLM_INPUT, TOOLS | {"agent-thought", "structured-output"}),
}


@pytest.mark.parametrize("name", SCHEMAS)
def test_a_validated_models_schema_shows_the_context_and_capabilities_its_server_reports(
    plugin, family, credentials, name
):
    family(name)
    server_family, context, features = SCHEMAS[name]
    defaults = {"function_calling": "no", "vision": "no", "thinking": "no", "structured_output": "no"}
    form = credentials("chat-model", **defaults)  # the form as Dify sends it untouched

    model = {"model_type": "llm", "model": HAND_ADDED}
    results, error = plugin.call("validate_model_credentials", **model, credentials=form)
    assert error is None, error
    stored = results[0]["credentials"]
    [schema], error = plugin.call("get_ai_model_schemas", **model, credentials=stored)
    assert error is None, error

    assert stored.get("server_family") == server_family
    assert schema["model_schema"]["model_properties"]["context_size"] == context
    assert set(schema["model_schema"]["features"]) == features


@pytest.fixture
def llm() -> {{ plan.class_name("llm") }}:
    return {{ plan.class_name("llm") }}(model_schemas=[])


@pytest.mark.parametrize(
    ("answers", "kept"),
    [
        ({"function_calling": "no"}, {"function_calling": "yes"}),  # the form's default: the server's word
        ({"vision": "yes"}, {"vision": "yes"}),  # Ollama says no vision; the user knows better
        ({"thinking": "always"}, {"thinking": "always"}),
        ({"context_size": "4096"}, {"context_size": "4096"}),  # a smaller limit of the user's own
        ({"context_size": "65536"}, {"context_size": str(OLLAMA_RUNNING)}),  # more than the server runs
    ],
    ids=["default-no", "own-yes", "own-thinking", "smaller-context", "larger-context"],
)
def test_an_answer_the_user_gave_wins_over_what_the_server_reports(llm, family, credentials, answers, kept):
    family("ollama")
    given = credentials("chat-model", **answers)

    llm.validate_credentials("chat-model", given)

    assert {key: given[key] for key in kept} == kept


def test_saving_the_form_again_takes_the_servers_new_answer_not_the_earlier_detection(
    llm, family, credentials
):
    family("ollama")
    given = credentials("chat-model")
    llm.validate_credentials("chat-model", given)
    assert (given["context_size"], given["vision"]) == (str(OLLAMA_RUNNING), "no")

    family("lm-studio")  # the same URL now serves the model with more context, and vision
    llm.validate_credentials("chat-model", given)  # the stored credentials, as the form sends them again

    assert (given["context_size"], given["vision"]) == (str(LM_STUDIO_LOADED), "yes")
    assert given["server_family"] == "LM Studio"


def test_vllm_counts_a_chats_tokens_for_dify(llm, family, credentials):
    family("vllm")
    given = credentials("chat-model", api_key=f"sk-family-{next(KEYS)}")

    counted = llm.get_num_tokens("chat-model", given, [UserPromptMessage(content="three words here")])

    assert counted == 3 + 4 + 3  # the fake vLLM's count of the chat, not the offline estimate


@pytest.mark.parametrize(
    ("given", "kept"),
    [("4096", LITELLM_OUTPUT), ("2048", 2048), ("65536", LITELLM_OUTPUT)],
    ids=["form-default", "smaller-own", "larger-own"],
)
def test_the_longest_answer_litellm_states_bounds_max_tokens_unless_the_user_gave_less(
    plugin, family, credentials, given, kept
):
    family("litellm")
    model = {"model_type": "llm", "model": HAND_ADDED}

    results, error = plugin.call(
        "validate_model_credentials", **model, credentials=credentials("chat-model", max_tokens=given)
    )
    assert error is None, error
    stored = results[0]["credentials"]
    [schema], error = plugin.call("get_ai_model_schemas", **model, credentials=stored)
    assert error is None, error

    [rule] = [r for r in schema["model_schema"]["parameter_rules"] if r["name"] == "max_tokens"]
    assert (stored["max_tokens"], rule["max"]) == (str(kept), kept)
{% endif %}
{% if plan.has("text-embedding") %}


def test_an_embedding_models_input_limit_is_stored_where_litellm_states_it(plugin, family, credentials):
    family("litellm")
    embedding = {"model_type": "text-embedding", "model": "embed-model"}
    given = credentials("embed-model")

    results, error = plugin.call("validate_model_credentials", **embedding, credentials=given)

    assert error is None, error
    assert results[0]["credentials"]["context_size"] == str(LITELLM_EMBEDDING_INPUT)
{% endif %}
