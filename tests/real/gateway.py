"""The gateway of the real tier: LiteLLM's proxy in front of the other real servers.

One URL and one master key for every model type, each routed to a real server as a LiteLLM user
configures it: the chat and embedding models to llama.cpp's servers (`openai/` provider, their
`/v1`), the rerank model to Xinference (`hosted_vllm/` provider: `POST {api_base}/rerank`), speech
to text to faster-whisper-server and text to speech to the Piper server that has ffmpeg (`openai/`).
The gateway names each model its own way, so a call reaches the right server only through the
gateway's mapping. The backends' keys reach LiteLLM through its environment (`os.environ/NAME`),
never its config file.
"""

import json
import os
import secrets
from pathlib import Path

from real.servers import RealServer, http, must, start_on_free_port, stop_group

# Dify model type -> (the gateway's model name, LiteLLM provider prefix, the model's `model_info`:
# what LiteLLM then tells of it in GET /v1/models (`mode`) and GET /v1/model/info).
ROUTES = {
    "llm": (
        "chat-small",
        "openai",
        {"mode": "chat", "max_input_tokens": 2048, "max_output_tokens": 1024, "supports_response_schema": True},
    ),
    "text-embedding": ("embed-small", "openai", {"mode": "embedding", "max_input_tokens": 256}),  # MiniLM's 256
    "rerank": ("rerank-small", "hosted_vllm", {"mode": "rerank", "max_input_tokens": 256}),
    "speech2text": ("transcribe-small", "openai", {"mode": "audio_transcription"}),
    "tts": ("speak-small", "openai", {"mode": "audio_speech"}),
}


def start_litellm(venv: Path, backends: dict[str, RealServer], work: Path) -> RealServer:
    """LiteLLM's proxy routing each Dify model type to `backends[type]`'s model of that type."""
    work.mkdir(parents=True, exist_ok=True)
    master_key = "sk-gateway-" + secrets.token_hex(12)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        LITELLM_MASTER_KEY=master_key,
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # its price list from the wheel, not fetched at start
        NO_DOCS="True",
    )
    model_list = []
    for model_type, (name, provider, info) in ROUTES.items():
        backend = backends[model_type]
        key_name = f"BACKEND_KEY_{model_type.upper().replace('-', '_')}"
        env[key_name] = backend.api_key or "none"  # a server without auth ignores it
        params = {
            "model": f"{provider}/{backend.models[model_type]}",
            "api_base": f"{backend.url_for(model_type)}/v1",
            "api_key": f"os.environ/{key_name}",
        }
        model_list.append({"model_name": name, "litellm_params": params, "model_info": info})
    config = {"model_list": model_list, "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"}}
    (work / "config.yaml").write_text(json.dumps(config, indent=1))  # YAML is a superset of JSON
    command = [str(venv / "bin" / "litellm"), "--config", str(work / "config.yaml"), "--host", "127.0.0.1"]
    log = work / "server.log"
    process, url = start_on_free_port(
        lambda port: [*command, "--port", str(port)], "/health/liveliness", log, env, cwd=work
    )
    try:
        details = must(http("GET", f"{url}/health/readiness/details", token=master_key), "readiness", log)
    except BaseException:
        stop_group(process)
        raise
    version = details.get("litellm_version", "unknown") if isinstance(details, dict) else "unknown"
    return RealServer(
        name="gateway",
        version=f"litellm {version}",
        url=url,
        api_key=master_key,
        models={model_type: name for model_type, (name, _, _) in ROUTES.items()},
        process=process,
        log=log,
        facts={
            "tokenizer": False,
            "backends": {t: backends[t].name for t in ROUTES},
            # Without a database it takes only its master key: another is answered 400 "No connected
            # db." (no_db_connection, litellm/proxy/auth/user_api_key_auth.py), which the plugin
            # reports as a key not accepted (its models/server/families/litellm.py).
            "key_refusal": 400,
        },
    )
