"""What the dify_plugin SDK spends turning a plugin's answer into the line it writes to the
daemon, next to `json.dumps` of the same content, and what reading that line back costs.

Nothing of the plugin runs here: this is the part of every relay row that the plugin cannot
change. Run by benchmarks/run.py in its own process (importing the SDK patches the standard
library with gevent); `python benchmarks/sdk_cost.py TEXTS DIMS REPEAT` prints one JSON object
of medians in seconds.
"""

import json
import statistics
import sys
import time

from dify_plugin.core.server.stdio.response_writer import StdioResponseWriter
from dify_plugin.entities.model.llm import LLMResultChunk, LLMResultChunkDelta
from dify_plugin.entities.model.message import AssistantPromptMessage
from dify_plugin.entities.model.text_embedding import EmbeddingUsage, TextEmbeddingResult


def median_seconds(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    texts, dims, repeat = (int(arg) for arg in sys.argv[1:4])
    writer = StdioResponseWriter()
    vectors = [[round((i % 97) / 97 - 0.5, 6) for i in range(dims)] for _ in range(texts)]
    usage = EmbeddingUsage(
        tokens=texts,
        total_tokens=texts,
        unit_price=0,
        price_unit=0,
        total_price=0,
        currency="USD",
        latency=0.0,
    )

    def sdk_line(result) -> str:  # as Plugin._execute_request writes each message
        return writer.session_message_text(session_id="s", data=writer.stream_object(data=result))

    def embedding_answer() -> str:
        return sdk_line(TextEmbeddingResult(model="m", embeddings=vectors, usage=usage))

    line = embedding_answer()
    text = AssistantPromptMessage(content="word ")
    event = {"choices": [{"index": 0, "delta": {"content": "word "}}]}
    chunks = 1000

    def chunk_lines() -> None:
        for _ in range(chunks):
            sdk_line(LLMResultChunk(model="m", delta=LLMResultChunkDelta(index=0, message=text)))

    def event_lines() -> None:
        for _ in range(chunks):
            json.dumps({"event": "session", "session_id": "s", "data": event})

    figures = {
        "embedding_sdk": median_seconds(repeat, embedding_answer),
        "embedding_dumps": median_seconds(repeat, lambda: json.dumps({"embeddings": vectors})),
        "embedding_loads": median_seconds(repeat, lambda: json.loads(line)),
        "embedding_bytes": len(line),
        "chunk_sdk": median_seconds(repeat, chunk_lines) / chunks,
        "chunk_dumps": median_seconds(repeat, event_lines) / chunks,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
