"""Server families as tests/fake_server.py answers them, each fixture in the exact shape of its
public source, named beside it (repository, file, commit or version read).

A test picks a family with `server.control("features", {"family": "vllm"})`: the fake server then
lists its models and answers that family's own endpoints as that server does, and no longer
describes models Xinference's way. `{"context": {"limit": L, "prompt": P, "wording": W}}` makes
its chat refuse a prompt of P tokens with a max_tokens beyond what L leaves, in wording W.
"""

from typing import Any

CONTEXT = 32768  # the context every model of a family fixture runs with
CREATED = 1767225600  # 2026-01-01, for the `created` fields


# -- vLLM ---------------------------------------------------------------------------------------
def vllm_card(uid: str) -> dict[str, Any]:
    """vllm-project/vllm vllm/entrypoints/serve/engine/protocol.py (f1bf7bd): ModelCard, ModelPermission."""
    permission = {
        "id": "modelperm-0a1b2c3d",
        "object": "model_permission",
        "created": CREATED,
        "allow_create_engine": False,
        "allow_sampling": True,
        "allow_logprobs": True,
        "allow_search_indices": False,
        "allow_view": True,
        "allow_fine_tuning": False,
        "organization": "*",
        "group": None,
        "is_blocking": False,
    }
    return {
        "id": uid,
        "object": "model",
        "created": CREATED,
        "owned_by": "vllm",
        "root": f"/models/{uid}",
        "parent": None,
        "max_model_len": CONTEXT,
        "permission": [permission],
    }


def vllm_error(message: str, status: int = 400) -> tuple[int, Any]:
    """vllm/entrypoints/serve/engine/protocol.py (f1bf7bd): ErrorResponse {"error": ErrorInfo}."""
    return status, {"error": {"message": message, "type": "BadRequestError", "param": None, "code": status}}


def words(text: Any) -> int:
    """The fake's tokenizer: one token per word."""
    return len(str(text or "").split())


def vllm_tokenize(body: Any) -> tuple[int, Any]:
    """vllm/entrypoints/serve/tokenize/protocol.py (343bacaf): TokenizeCompletionRequest (prompt,
    add_special_tokens) or TokenizeChatRequest (messages, tools, add_generation_prompt), answered
    TokenizeResponse; anything else fails validation, which vLLM answers with a 400."""
    body = body if isinstance(body, dict) else {}
    if isinstance(body.get("prompt"), str):
        count = words(body["prompt"]) + (1 if body.get("add_special_tokens", True) else 0)
    elif isinstance(body.get("messages"), list):
        count = sum(words(m.get("content")) + 4 for m in body["messages"] if isinstance(m, dict))
        count += words(body.get("tools")) + (3 if body.get("add_generation_prompt", True) else 0)
    else:
        return vllm_error("1 validation error: Field required: prompt")
    return 200, {"count": count, "max_model_len": CONTEXT, "tokens": list(range(count)), "token_strs": None}


# -- SGLang -------------------------------------------------------------------------------------
def sglang_card(uid: str) -> dict[str, Any]:
    """sgl-project/sglang python/sglang/srt/entrypoints/openai/protocol.py (9b116df): ModelCard."""
    return {
        "id": uid,
        "object": "model",
        "created": CREATED,
        "owned_by": "sglang",
        "root": uid,
        "max_model_len": CONTEXT,
    }


def sglang_model_info(uid: str) -> dict[str, Any]:
    """python/sglang/srt/entrypoints/http_server.py: `/get_model_info` (0025436: model_path,
    tokenizer_path, is_generation, preferred_sampling_params, weight_version); later releases
    answer it as `/model_info` with has_image_understanding, has_audio_understanding,
    model_type and architectures."""
    return {
        "model_path": f"/models/{uid}",
        "tokenizer_path": f"/models/{uid}",
        "is_generation": True,
        "preferred_sampling_params": None,
        "weight_version": "default",
        "has_image_understanding": True,
        "has_audio_understanding": False,
        "model_type": "qwen2_5_vl",
        "architectures": ["Qwen2_5_VLForConditionalGeneration"],
    }


def sglang_server_info(uid: str) -> dict[str, Any]:
    """http_server.py (0025436) `/get_server_info`: dataclasses.asdict(ServerArgs) (a few of its
    fields, python/sglang/srt/server_args.py), the scheduler's info, internal_states, version."""
    return {
        "model_path": f"/models/{uid}",
        "served_model_name": uid,
        "context_length": None,
        "tool_call_parser": "qwen25",
        "reasoning_parser": "qwen3",
        "max_total_num_tokens": 262144,
        "max_req_input_len": CONTEXT - 5,
        "internal_states": [{"last_gen_throughput": 0.0}],
        "version": "0.5.4",
    }


# -- Ollama -------------------------------------------------------------------------------------
def ollama_card(uid: str) -> dict[str, Any]:
    """ollama/ollama openai/openai.go (fb30760): Model in ListCompletion."""
    return {"id": uid, "object": "model", "created": CREATED, "owned_by": "library"}


OLLAMA_RUNNING = 8192  # the context Ollama runs the loaded model with (below what it was trained for)


def ollama_show(body: Any, uids: list[str]) -> tuple[int, Any]:
    """ollama/ollama api/types.go (fb30760): ShowResponse; capabilities from
    types/model/capability.go; 404 {"error"} for a model it does not have (server/routes.go)."""
    uid = body.get("model") if isinstance(body, dict) else None
    if uid not in uids:
        return 404, {"error": f"model '{uid}' not found"}
    return 200, {
        "license": "Apache License 2.0",
        "modelfile": f"FROM /root/.ollama/models/blobs/sha256-{uid}",
        "parameters": 'stop                           "<|im_start|>"\nstop                           "<|im_end|>"',
        "template": "<|im_start|>... (the model's Go template)",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "qwen3",
            "families": ["qwen3"],
            "parameter_size": "8.2B",
            "quantization_level": "Q4_K_M",
        },
        "model_info": {
            "general.architecture": "qwen3",
            "general.parameter_count": 8190735360,
            "qwen3.context_length": 40960,
            "qwen3.embedding_length": 4096,
        },
        "capabilities": ["completion", "tools", "thinking"],
        "modified_at": "2026-01-01T00:00:00Z",
    }


def ollama_ps(uids: list[str]) -> dict[str, Any]:
    """api/types.go (fb30760): ProcessResponse, ProcessModelResponse with context_length."""
    return {
        "models": [
            {
                "name": uid,
                "model": uid,
                "size": 6654289920,
                "digest": "500a1f067a9f782620b40bee6f7b0c89e17ae61f686b92c24933e4ca4b2b8b41",
                "details": {"format": "gguf", "family": "qwen3", "parameter_size": "8.2B"},
                "expires_at": "2026-01-01T00:05:00Z",
                "size_vram": 6654289920,
                "context_length": OLLAMA_RUNNING,
            }
            for uid in uids
        ]
    }


# -- LM Studio ----------------------------------------------------------------------------------
LM_STUDIO_LOADED = 16384  # the context the model is loaded with


def lm_studio_card(uid: str) -> dict[str, Any]:
    """LM Studio's OpenAI-compatible `/v1/models` (lmstudio-ai/docs, 0_app/4_api/3_openai-rest-api/
    overview.md, 6d051b8): id, object, owned_by."""
    return {"id": uid, "object": "model", "owned_by": "organization_owner"}


def lm_studio_v0(uid: str) -> dict[str, Any]:
    """lmstudio-ai/docs 0_app/4_api/2_rest/v0.md (74328bc): GET /api/v0/models/{model}."""
    model = {"id": uid, "object": "model", "type": "vlm", "publisher": "mlx-community", "arch": "qwen2_vl"}
    return model | {
        "compatibility_type": "mlx",
        "quantization": "4bit",
        "state": "loaded",
        "max_context_length": CONTEXT,
    }


def lm_studio_v1(uids: list[str]) -> dict[str, Any]:
    """lmstudio-ai/docs 0_app/4_api/2_rest/list.md (a3d2830): GET /api/v1/models."""
    return {
        "models": [
            {
                "type": "llm",
                "publisher": "mlx-community",
                "key": uid,
                "display_name": uid,
                "architecture": "qwen2_vl",
                "quantization": {"name": "4bit", "bits_per_weight": 4},
                "size_bytes": 4681234567,
                "params_string": "7B",
                "loaded_instances": [{"id": uid, "config": {"context_length": LM_STUDIO_LOADED}}],
                "max_context_length": CONTEXT,
                "format": "mlx",
                "capabilities": {"vision": True, "trained_for_tool_use": True},
                "description": None,
            }
            for uid in uids
        ]
    }


# -- LocalAI ------------------------------------------------------------------------------------
def localai_card(uid: str) -> dict[str, Any]:
    """mudler/LocalAI core/schema/openai.go: OpenAIModel {id, object}."""
    return {"id": uid, "object": "model"}


def localai_tokenize(body: Any) -> tuple[int, Any]:
    """mudler/LocalAI core/schema/tokenize.go (6c9aee4): TokenizeRequest {content, model},
    TokenizeResponse {tokens}."""
    content = body.get("content") if isinstance(body, dict) else None
    return 200, {"tokens": list(range(words(content)))}


# -- LiteLLM's proxy ----------------------------------------------------------------------------
LITELLM_INPUT, LITELLM_OUTPUT = 131072, 8192  # what the config's model_info says of the chat model
LITELLM_EMBEDDING_INPUT = 512  # ...and of an embedding model
# Xinference's model_type (the fake's descriptions, fake_server.MODELS) -> LiteLLM's mode
LITELLM_MODES = {"LLM": "chat", "embedding": "embedding", "rerank": "rerank"}


def litellm_card(uid: str) -> dict[str, Any]:
    """BerriAI/litellm litellm/proxy/utils.py (litellm 1.106.12): create_model_info_response, as
    GET /v1/models lists a model that its config says nothing about."""
    return {"id": uid, "object": "model", "created": 1677610602, "owned_by": "openai"}


def litellm_deployment(uid: str, described: dict[str, Any]) -> dict[str, Any]:
    """litellm/proxy/proxy_server.py (litellm 1.106.12): one entry of GET /v1/model/info
    (model_info_v1, _enrich_model_info_with_litellm_data): the config's model_info over the
    price list's fields (litellm/types/utils.py, ModelInfoBase), null where nobody said, keys
    removed from litellm_params. A few of model_info's 171 fields; the entry as the proxy answered
    for a config like this one."""
    mode = LITELLM_MODES.get(described.get("model_type"))
    said: dict[str, Any] = {"mode": mode} if mode else {}
    if mode == "chat":
        said |= {
            "max_input_tokens": LITELLM_INPUT,
            "max_output_tokens": LITELLM_OUTPUT,
            "supports_function_calling": True,
            "supports_vision": False,
            "supports_response_schema": True,
            "supports_reasoning": True,
        }
    elif mode == "embedding":
        said |= {"max_input_tokens": LITELLM_EMBEDDING_INPUT}
    limits = ["max_tokens", "max_input_tokens", "max_output_tokens"]
    costs = ["input_cost_per_token", "output_cost_per_token"]
    supports = [f"supports_{name}" for name in ("function_calling", "vision", "response_schema", "reasoning")]
    unknown = dict.fromkeys(limits + costs + supports)
    return {
        "model_name": uid,
        "litellm_params": {
            "api_base": "http://vllm:8000/v1",
            "allow_client_keepalive_override": False,
            "use_in_pass_through": False,
            "use_litellm_proxy": False,
            "use_xai_oauth": False,
            "merge_reasoning_content_in_choices": False,
            "model": f"hosted_vllm/{uid}",
        },
        "model_info": {
            "id": "fb77604c3c1527a7113043f8f75d61218459a46ca176108dc84059859701aeec",
            "db_model": False,
            "member_auto_router": False,
            "pricing_overrides": [],
            "key": f"hosted_vllm/{uid}",
            "litellm_provider": "hosted_vllm",
            **unknown,
            **said,
            "supported_openai_params": ["max_tokens", "stream", "temperature", "tools", "response_format"],
        },
    }


def litellm_no_db() -> dict[str, Any]:
    """litellm/proxy/auth/user_api_key_auth.py (litellm 1.106.12): the ProxyException a proxy without
    a database raises for any key but its master key, as it answered (status 400)."""
    error = {"message": "No connected db.", "type": "no_db_connection", "param": None, "code": "400"}
    return {"error": error}


CARDS = {
    "litellm": litellm_card,
    "vllm": vllm_card,
    "sglang": sglang_card,
    "ollama": ollama_card,
    "lm-studio": lm_studio_card,
    "localai": localai_card,
}


def answer(family: str, method: str, path: str, body: Any, models: dict[str, Any]) -> tuple[int, Any] | None:
    """The family's answer to a request, or None where it answers as any OpenAI-style server
    (chat, embeddings...). Paths a family does not have get None too: the fake's 404.

    `models`: the fake's models, each as Xinference describes it (fake_server.MODELS)."""
    uids = list(models)
    if (method, path) == ("GET", "/v1/models"):
        return 200, {"object": "list", "data": [CARDS[family](uid) for uid in uids]}
    routes: dict[tuple[str, str, str], Any] = {
        ("vllm", "POST", "/tokenize"): lambda: vllm_tokenize(body),
        ("sglang", "GET", "/get_model_info"): lambda: (200, sglang_model_info(uids[0])),
        ("sglang", "GET", "/get_server_info"): lambda: (200, sglang_server_info(uids[0])),
        ("ollama", "POST", "/api/show"): lambda: ollama_show(body, uids),
        ("ollama", "GET", "/api/ps"): lambda: (200, ollama_ps(uids)),
        ("lm-studio", "GET", "/api/v1/models"): lambda: (200, lm_studio_v1(uids)),
        ("localai", "POST", "/v1/tokenize"): lambda: localai_tokenize(body),
        ("litellm", "GET", "/v1/model/info"): lambda: (
            200,
            {"data": [litellm_deployment(uid, described) for uid, described in models.items()]},
        ),
    }
    if family == "lm-studio" and method == "GET" and path.startswith("/api/v0/models/"):
        uid = path.removeprefix("/api/v0/models/")
        return (200, lm_studio_v0(uid)) if uid in uids else (404, {"error": f"Model '{uid}' not found"})
    found = routes.get((family, method, path))
    return found() if found else None


# -- context overflow ---------------------------------------------------------------------------
def flat_error(message: str, kind: str) -> dict[str, Any]:
    """The error body of FastAPI servers before OpenAI's nesting: older vLLM's ErrorResponse
    (serving_engine.py, 7ded96b), SGLang's (http_server.py, 0025436)."""
    return {"object": "error", "message": message, "type": kind, "param": None, "code": 400}


def llama_cpp_error(message: str, limit: int, prompt: int) -> dict[str, Any]:
    """ggml-org/llama.cpp tools/server/server-task.cpp: the error's JSON, with n_prompt_tokens and n_ctx."""
    error = {"code": 400, "message": message, "type": "exceed_context_size_error"}
    return {"error": error | {"n_prompt_tokens": prompt, "n_ctx": limit}}


def openai_error(message: str) -> dict[str, Any]:
    """ollama/ollama openai/openai.go (fb30760): NewError, as its OpenAI routes answer an error."""
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


# How each server refuses a prompt of {prompt} tokens with {asked} max_tokens ({total} together)
# in a context of {limit} tokens: its words, its error body, whether it checks the prompt alone,
# and whether it refuses a request that fills the context exactly.
WORDINGS: dict[str, tuple[str, Any, bool, bool]] = {
    # vllm/entrypoints/openai/serving_engine.py (7ded96b), _validate_input
    "vllm-0.8": (
        "This model's maximum context length is {limit} tokens. However, you requested {total} tokens "
        "({prompt} in the messages, {asked} in the completion). Please reduce the length of the messages "
        "or completion.",
        lambda message, limit, prompt: flat_error(message, "BadRequestError"),
        False,
        False,
    ),
    # vllm/entrypoints/openai/engine/serving.py (619e4b31), _validate_input
    "vllm-0.11": (
        "'max_tokens' or 'max_completion_tokens' is too large: {asked}. This model's maximum context length "
        "is {limit} tokens and your request has {prompt} input tokens ({asked} > {limit} - {prompt}).",
        lambda message, limit, prompt: vllm_error(message)[1],
        False,
        False,
    ),
    # vllm/renderers/params.py (1aa021e), TokenizeParams._token_len_check
    "vllm-0.13": (
        "You passed {prompt} input tokens and requested {asked} output tokens. However, the model's context "
        "length is only {limit} tokens, resulting in a maximum input length of {room} tokens. Please reduce "
        "the length of the input prompt.",
        lambda message, limit, prompt: vllm_error(message)[1],
        False,
        False,
    ),
    # sgl-project/sglang python/sglang/srt/managers/tokenizer_manager.py (45205d8), _validate_one_request
    "sglang": (
        "Requested token count exceeds the model's maximum context length of {limit} tokens. You requested "
        "a total of {total} tokens: {prompt} tokens from the input messages and {asked} tokens for the "
        "completion. Please reduce the number of tokens in the input messages or the completion to fit "
        "within the limit.",
        lambda message, limit, prompt: flat_error(message, "Bad Request"),
        False,
        True,
    ),
    # ggml-org/llama.cpp tools/server/server-context.cpp, ERROR_TYPE_EXCEED_CONTEXT_SIZE (the words
    # as in the server of the xllamacpp 2026.10.11549 wheel)
    "llama.cpp": (
        "request ({prompt} tokens) exceeds the available context size ({limit} tokens), try increasing it",
        llama_cpp_error,
        True,
        True,
    ),
    # ollama/ollama x/mlxrunner/pipeline.go (fb30760)
    "ollama": (
        "input length ({prompt} tokens) exceeds the model's maximum context length ({limit} tokens)",
        lambda message, limit, prompt: openai_error(message),
        True,
        True,
    ),
    # LM Studio 0.3.x (closed source): lmstudio-ai/lmstudio-bug-tracker issues 237 and 546
    "lm-studio": (
        "<LM Studio error> Trying to keep the first {prompt} tokens when context the overflows. However, the "
        "model is loaded with context length of only {limit} tokens, which is not enough. Try to load the "
        "model with a larger context length, or provide a shorter input. Error Data: n/a, Additional Data: n/a",
        lambda message, limit, prompt: {"error": message},
        True,
        True,
    ),
}


def overflow(context: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any] | None:
    """The refusal of `body` by a server whose context `context` describes, or None if it fits."""
    limit, prompt = context["limit"], context["prompt"]
    words, error, prompt_only, at_limit = WORDINGS[context["wording"]]
    asked = body.get("max_tokens", body.get("max_completion_tokens"))
    asked = asked if type(asked) is int else limit - prompt
    checked = prompt if prompt_only else prompt + asked
    if checked < limit or (checked == limit and not at_limit):
        return None
    message = words.format(limit=limit, prompt=prompt, asked=asked, total=prompt + asked, room=limit - asked)
    return 400, error(message, limit, prompt)
