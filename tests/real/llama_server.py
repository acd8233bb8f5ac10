"""llama.cpp's own HTTP server (tools/server, compiled into the xllamacpp wheel), one per model.

    python llama_server.py SPEC.json

Run with the Python of the xllamacpp venv (tests/real/cache.py `llama_cpp`). SPEC names the API key
and, for each model, its alias, GGUF file, kind (chat, embedding or rerank), 127.0.0.1 port,
context size, threads and optionally a chat template; the file keeps the key off the command line.
Each model gets its own `xllamacpp.Server` on its own port, as `llama-server -m FILE --alias
ALIAS --host 127.0.0.1 --port PORT --api-key KEY` would (`--jinja` for chat, `--embeddings`,
`--reranking`): llama.cpp's router mode, several models on one port, needs the llama-server
binary. Prints `ready: xllamacpp VERSION` once every server listens, then serves until SIGTERM.
A port taken meanwhile ends the process with status 3 and llama.cpp's "couldn't bind" in the log.
"""

import json
import signal
import sys
import threading

import xllamacpp


def params(spec: dict, model: dict) -> xllamacpp.CommonParams:
    p = xllamacpp.CommonParams()
    p.model.path = model["path"]
    p.model_alias = {model["alias"]}
    p.hostnames = ["127.0.0.1"]
    p.port = model["port"]
    p.api_keys = [spec["api_key"]]
    p.n_ctx = model["context"]
    p.n_parallel = 1
    p.cpuparams.n_threads = model["threads"]
    p.cpuparams_batch.n_threads = model["threads"]
    if model["kind"] == "chat":
        p.use_jinja = True
        if model.get("chat_template"):
            p.chat_template = model["chat_template"]  # what --chat-template-file reads into
    elif model["kind"] == "embedding":
        p.embedding = True  # --embeddings; pooling as the GGUF says (mean, for MiniLM)
    elif model["kind"] == "rerank":
        p.embedding = True  # --reranking is these two
        p.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_RANK
    else:
        raise ValueError(f"kind: must be chat, embedding or rerank (got {model['kind']!r})")
    return p


def main(spec_file: str) -> int:
    with open(spec_file, encoding="utf-8") as handle:
        spec = json.load(handle)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    running = []
    try:
        for model in spec["models"]:
            try:
                running.append(xllamacpp.Server(params(spec, model)))
            except RuntimeError as error:  # llama.cpp logged why (e.g. "couldn't bind") just before
                print(f"{model['alias']} on port {model['port']}: {error}", file=sys.stderr, flush=True)
                return 3
            print(f"{model['alias']}: {running[-1].listening_address}", flush=True)
        print(f"ready: xllamacpp {xllamacpp.__version__}", flush=True)
        while not stop.wait(1.0):
            pass
        return 0
    finally:
        while running:
            del running[-1]  # ~Server stops its HTTP server and joins its loop


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
