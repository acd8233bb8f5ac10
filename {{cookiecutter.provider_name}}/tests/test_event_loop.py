{% set plan = cookiecutter | plan %}
"""No call holds the event loop, and no stream is blamed for the loop being held.

The SDK serves every call as a greenlet of one thread: a call that computes for long stops all
the others, whose timers then fire as if their servers had fallen silent, and the SDK's own
heartbeat with them (tests/test_daemon_limits.py). The loop is watched by a greenlet that ticks
every 2 ms and keeps the longest gap between two ticks in the loop thread's CPU time: what the
code run in between cost, which a loaded machine does not stretch (the wall time is printed).
"""

import time

import gevent
import pytest
from dify_plugin.entities.model.llm import LLMResultChunk
from dify_plugin.entities.model.message import UserPromptMessage

from models.llm.llm import {{ plan.class_name("llm") }}

CHAT = "/v1/chat/completions"
MB = 1_000_000
MAX_STALL = 0.05  # seconds: the longest the plugin's own code may hold the loop
TICK = 0.002


class LoopWatch:
    """`with LoopWatch() as watch:` keeps in `watch.cpu` (and `watch.wall`) the longest gap between two ticks."""

    def __enter__(self) -> "LoopWatch":
        self.cpu = self.wall = 0.0
        self._watching = True
        self._ticker = gevent.spawn(self._tick)
        gevent.sleep(TICK * 5)
        return self

    def _tick(self) -> None:
        cpu, wall = time.thread_time(), time.monotonic()
        while self._watching:
            gevent.sleep(TICK)
            now_cpu, now_wall = time.thread_time(), time.monotonic()
            self.cpu, self.wall = max(self.cpu, now_cpu - cpu), max(self.wall, now_wall - wall)
            cpu, wall = now_cpu, now_wall

    def __exit__(self, *_: object) -> None:
        self._watching = False
        self._ticker.join()  # its last gap counts too: a stall at the end of the block


@pytest.fixture
def llm() -> {{ plan.class_name("llm") }}:
    return {{ plan.class_name("llm") }}(model_schemas=[])


def chat(
    llm, credentials: dict, content: str, stream: bool, model: str = "chat-model"
) -> list[LLMResultChunk]:
    messages = [UserPromptMessage(content=content)]
    return list(llm.invoke(model=model, credentials=credentials, prompt_messages=messages, stream=stream))


def prose(size: int) -> str:
    sentence = "The quick brown fox jumps over the lazy dog, 12345 times; "
    return (sentence * (size // len(sentence) + 1))[:size]


@pytest.mark.parametrize("size", [5 * MB, 50 * MB], ids=["5MB", "50MB"])
@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
def test_a_huge_prompt_never_holds_the_event_loop(llm, server, credentials, size, stream):
    given = credentials("chat-model", request_timeout="60")
    chat(llm, given, "warm up", stream)  # a connection pool is made once, its TLS context in one go
    # no usage in the answer: the prompt's tokens are estimated, in the plugin
    server.fault(CHAT, reply={"content": "a short answer", "no_usage": True})
    text = prose(size)

    with LoopWatch() as watch:
        chunks = chat(llm, given, text, stream)

    stall, wall = watch.cpu * 1000, watch.wall * 1000
    print(f"\n{size // MB} MB prompt: longest stall {stall:.0f} ms CPU ({wall:.0f} ms wall)")
    assert chunks[-1].delta.usage.prompt_tokens > size / 10
    assert watch.cpu < MAX_STALL


def test_a_stream_beside_a_huge_prompt_finishes_within_its_3_s_timeout(llm, server, credentials):
    words = "one two three four five six"
    server.fault(CHAT, model="vision-model", reply={"content": words}, chunk_delay=0.5)
    server.fault(CHAT, model="chat-model", reply={"content": "a short answer", "no_usage": True})
    other = {{ plan.class_name("llm") }}(model_schemas=[])  # the SDK makes a model instance per call
    big = gevent.spawn(chat, other, credentials("chat-model", request_timeout="60"), prose(50 * MB), False)

    chunks = chat(llm, credentials("vision-model", request_timeout="3"), "hello", True, model="vision-model")

    assert "".join(chunk.delta.message.content for chunk in chunks) == words + " "
    assert big.get(timeout=60)[-1].delta.usage.prompt_tokens > 0


def test_a_stream_is_not_blamed_for_the_loop_being_held(llm, server, credentials, short_timeouts):
    """What its server sent while the loop was held longer than request_timeout is read, not
    reported as silence (models/server/patience.py)."""
    server.fault(CHAT, reply={"content": "a b c d"}, chunk_delay=0.05)
    chunks: list[LLMResultChunk] = []
    given = credentials("chat-model", request_timeout="0.3")
    reading = gevent.spawn(lambda: chunks.extend(chat(llm, given, "hi", True)))
    gevent.sleep(0.02)  # the stream has started

    held = time.monotonic()
    while time.monotonic() - held < 1.0:  # another greenlet holds the loop for 1 s
        pass
    reading.get(timeout=10)

    assert "".join(chunk.delta.message.content for chunk in chunks) == "a b c d "
