{% set plan = cookiecutter | plan %}
{% set working = plan.implementation == "openai-compatible" %}
"""The Dify daemon's limits, each at its exact number, with the plugin run over stdio as the daemon runs it.

The numbers are the daemon's own: DAEMON_SOURCE copies the lines of dify-plugin-daemon that set
them, with their paths (the daemon's source is not here when the tests run). The stdio reader
(scripts/check/plugin.py) applies the line rule to every line of every stdio test of the suite.
"""

import array
import io
import itertools
import json
import math
import random
import re
import sys
import time

import pytest
{% if working and plan.has("text-embedding") %}
from conftest import HAND_ADDED
{% endif %}
from dify_plugin.core.server.stdio.response_writer import StdioResponseWriter

from models.server import daemon
from scripts.check import plugin as stdio

DAEMON_SOURCE = """
internal/types/app/config.go:
    PluginRuntimeMaxBufferSize int `envconfig:"PLUGIN_RUNTIME_MAX_BUFFER_SIZE" default:"5242880"`
internal/core/local_runtime/instance.go:
    MAX_HEARTBEAT_INTERVAL = 120 * time.Second
    scanner := bufio.NewScanner(s.outReader)
    scanner.Buffer(make([]byte, s.appConfig.GetLocalRuntimeBufferSize()), s.appConfig.GetLocalRuntimeMaxBufferSize())
"""
LINE_LIMIT = int(re.search(r'PLUGIN_RUNTIME_MAX_BUFFER_SIZE" default:"(\d+)"', DAEMON_SOURCE).group(1))
SILENCE_LIMIT = float(re.search(r"MAX_HEARTBEAT_INTERVAL = (\d+) \* time.Second", DAEMON_SOURCE).group(1))
HEARTBEAT_INTERVAL = 0.2  # the SDK's HEARTBEAT_INTERVAL (10 s by default), shortened for the test
{% if working and plan.has("llm") %}
# Credentials of a server that is not there: token counts are estimated offline, in the plugin.
NO_TOKENIZER = {"server_url": "http://127.0.0.1:9", "model_uid": "chat-model", "max_retries": "0"}
{% endif %}


def test_the_plugin_keeps_to_the_daemons_own_numbers():
    assert daemon.DAEMON_LINE_BYTES == stdio.DAEMON_LINE_BYTES == LINE_LIMIT == 5_242_880
    assert daemon.DAEMON_SILENCE_LIMIT == SILENCE_LIMIT == 120


# -- one stdout line: at most LINE_LIMIT - 1 bytes before its newline ---------------------------


def writer(*sizes: int) -> list[str]:
    """A process writing one JSON line of each size (bytes before the newline), then waiting."""
    code = (
        "import sys, time\n"
        f"for size in {list(sizes)}:\n"
        "    sys.stdout.buffer.write(b'[\"' + b'x' * (size - 4) + b'\"]\\n')\n"
        "    sys.stdout.flush()\n"
        "time.sleep(60)\n"
    )
    return [sys.executable, "-c", code]


@pytest.mark.parametrize(
    ("size", "taken"), [(LINE_LIMIT - 1, True), (LINE_LIMIT, False)], ids=["under", "at"]
)
def test_the_stdio_reader_takes_a_line_as_the_daemons_scanner_does(size, taken):
    """Go's Scanner grows its buffer to PLUGIN_RUNTIME_MAX_BUFFER_SIZE and fails once the buffer
    is full without a newline (bufio/scan.go, Scan: "if len(s.buf) >= s.maxTokenSize").
    Checked with Go 1.27's bufio: 5,242,879 bytes and a newline are read, 5,242,880 end the scan."""
    process = stdio.PluginProcess(argv=writer(10, size, 10))
    try:
        deadline = time.monotonic() + 30
        while len(process.stdout) < 3 and not process.refused_line and time.monotonic() < deadline:
            time.sleep(0.05)
        if taken:
            assert [len(line) for line in process.stdout] == [11, size + 1, 11]
            assert process.process.poll() is None
        else:
            assert process.refused_line == size
            assert process.process.wait(timeout=10) != 0  # killed, as the daemon kills the plugin
            assert [len(line) for line in process.stdout] == [11]
    finally:
        process.stop()


def session_line(size: int, text: str) -> str:
    """A session message of the SDK's shape, exactly `size` bytes in UTF-8, `text` repeated in it."""
    head = '{"event":"session","session_id":"s-1","data":{"type":"stream","data":{"text":"'
    room = size - len(head) - len('"}}}')
    unit = len(text.encode())
    return head + text * (room // unit) + "y" * (room % unit) + '"}}}'


@pytest.mark.parametrize("text", ["x", "é", "字"], ids=["1-byte", "2-byte", "3-byte"])
@pytest.mark.parametrize(("size", "kept"), [(LINE_LIMIT - 1, True), (LINE_LIMIT, False)], ids=["under", "at"])
def test_a_line_the_daemon_would_refuse_becomes_an_error_for_its_session(size, kept, text):
    out = io.StringIO()
    guard = daemon.LineGuard(out)
    line = session_line(size, text)
    assert len(line.encode()) == size

    guard.write(line)
    guard.write("\n\n")

    written, *rest = out.getvalue().split("\n")
    assert rest == ["", ""]
    if kept:
        assert written == line
    else:
        message = json.loads(written)
        assert message["session_id"] == "s-1"
        assert message["data"]["type"] == "error"
        assert f"{size:,} bytes" in message["data"]["data"]["message"]
        assert len(written) < 1000


@pytest.mark.parametrize(
    "text", ["plain", 'quote " and \\ slash', "line\nbreak\ttab", "\x00\x1f\x7f", "é字😀"]
)
def test_a_texts_size_is_counted_as_the_sdk_writes_it(text):
    empty = len(StdioResponseWriter().session_message_text("s", {"text": ""}).encode())
    written = len(StdioResponseWriter().session_message_text("s", {"text": text}).encode()) - empty
    assert daemon.text_bytes(text) == written + 2  # the quotes


def test_a_float32_precise_number_takes_at_most_float_bytes_in_the_sdks_json():
    """Every exponent of a float64, with 9 significant digits (the most `compact` keeps) and a
    sign: the longest is FLOAT_BYTES - 1 characters in the line the SDK writes, and a comma."""

    def written(number: float) -> int:
        line = StdioResponseWriter().session_message_text("s", {"v": [number]})
        return len(line) - len(StdioResponseWriter().session_message_text("s", {"v": []}))

    numbers = [float(f"-9.87654321e{exponent}") for exponent in range(-324, 309)]
    finite = [number for number in numbers if number and math.isfinite(number)]
    assert max(map(written, daemon.compact([finite])[0])) + 1 == daemon.FLOAT_BYTES


def test_numbers_keep_float32_precision_in_fewer_bytes():
    random.seed(23)
    values = [random.gauss(0, 1) for _ in range(4096)]
    norm = math.sqrt(sum(value * value for value in values))
    # a float32 model's numbers, as a server sends them: each a float64 holding a float32
    server = array.array("f", [value / norm for value in values]).tolist()

    [kept] = daemon.compact([server])

    assert array.array("f", kept).tolist() == server  # the same float32 numbers
    empty = len(StdioResponseWriter().session_message_text("s", {"embeddings": [[]]}))
    before, after = (
        (len(StdioResponseWriter().session_message_text("s", {"embeddings": [vector]})) - empty) / len(vector)
        for vector in (server, kept)
    )
    print(f"\nbytes per number in an embedding answer: {before:.2f} before, {after:.2f} after")
    assert after < before * 0.7


@pytest.mark.parametrize(("dimension", "most"), [(4096, 63), (1024, 252), (None, 31), (300_000, 1)])
def test_the_texts_per_answer_fit_the_line_whatever_the_numbers(dimension, most):
    assert daemon.vectors_per_answer(dimension) == most
    worst = most * ((dimension or daemon.UNKNOWN_DIMENSION) * daemon.FLOAT_BYTES + 2) + daemon.ENVELOPE_BYTES
    assert worst < LINE_LIMIT or most == 1
{% if working and plan.has("text-embedding") %}


def test_the_largest_settings_keep_every_embedding_answer_within_the_line(plugin, server, credentials):
    """4,096 numbers per text (Qwen3-Embedding-8B, NV-Embed-v2), each of the longest kind, and
    max_chunks as large as the form takes: Dify sends at most what the schema says."""
    dimension = 4096
    server.control("features", {"embedding": [-9876543210000000.0] * dimension})
    given = credentials("embed-model", max_chunks="1000000", parallel_requests="8")
    [validated], error = plugin.call(
        "validate_model_credentials", model_type="text-embedding", model=HAND_ADDED, credentials=given
    )
    assert error is None, error
    stored = validated["credentials"]
    assert stored["dimension"] == str(dimension)
    [schema], error = plugin.call(
        "get_ai_model_schemas", model_type="text-embedding", model=HAND_ADDED, credentials=stored
    )
    most = schema["model_schema"]["model_properties"]["max_chunks"]
    assert most == daemon.vectors_per_answer(dimension)

    request = {"model_type": "text-embedding", "model": HAND_ADDED, "credentials": stored}
    texts = [f"text {number}" for number in range(most)]
    [result], error = plugin.call("invoke_text_embedding", **request, texts=texts, input_type="document")

    assert error is None, error
    assert len(result["embeddings"]) == most
    longest = max(map(len, plugin.stdout)) - 1
    print(f"\n{most} embeddings of {dimension} numbers: a line of {longest:,} bytes of {LINE_LIMIT - 1:,}")
    assert longest < LINE_LIMIT  # else the reader would have killed the plugin, as the daemon does

    _, error = plugin.call(
        "invoke_text_embedding", **request, texts=[*texts, "one more"], input_type="document"
    )
    assert error["error_type"] == "InvokeBadRequestError"
    assert f"at most {most} texts" in error["message"]
{% endif %}
{% if working and plan.has("rerank") %}


def test_rerank_answers_the_best_documents_that_fit_in_the_line(plugin, server, credentials):
    documents = [f"{number} " + "x" * 1_000_000 for number in range(8)]  # 8 MB of documents
    [result], error = plugin.call(
        "invoke_rerank",
        model_type="rerank",
        model="rerank-model",
        credentials=credentials("rerank-model"),
        query="which one?",
        docs=documents,
        score_threshold=None,
        top_n=None,
    )
    assert error is None, error
    kept = result["docs"]
    assert 0 < len(kept) < len(documents)
    assert [doc["score"] for doc in kept] == sorted((doc["score"] for doc in kept), reverse=True)
    assert max(map(len, plugin.stdout)) < LINE_LIMIT
{% endif %}
{% if working and plan.has("llm") %}


def test_an_answer_too_long_for_the_line_is_an_error_and_the_plugin_lives_on(plugin, server, credentials):
    def ask(content: str) -> tuple[list, dict | None]:
        return plugin.call(
            "invoke_llm",
            model_type="llm",
            model="chat-model",
            credentials=credentials("chat-model"),
            prompt_messages=[{"role": "user", "content": content}],
            model_parameters={},
            stop=None,
            tools=None,
            stream=False,
        )

    _, error = ask("x" * LINE_LIMIT)  # the server echoes the prompt: a whole answer over the line

    assert error["error_type"] == "InvokeBadRequestError"
    assert "PLUGIN_RUNTIME_MAX_BUFFER_SIZE" in error["message"]
    [chunk], error = ask("still there?")
    assert error is None, error
    assert "still there?" in chunk["delta"]["message"]["content"]
{% endif %}


# -- silence: some line at least every SILENCE_LIMIT seconds -------------------------------------


def test_a_busy_plugin_keeps_writing_heartbeats():
    """The SDK writes a heartbeat every HEARTBEAT_INTERVAL from a greenlet; each gap between two
    is the interval plus the longest the loop was held. Shortened to 0.2 s here, while the plugin
    handles big requests; the gaps stay within 10 intervals (room for a loaded machine), so at the
    default 10 s they stay far from the daemon's 120 s."""
    plugin = stdio.PluginProcess(env={"HEARTBEAT_INTERVAL": str(HEARTBEAT_INTERVAL)})
    try:
        started = time.monotonic()
        for size in (1, 5, 20):  # MB of text in one request line, as Dify sends a big prompt
{% if working and plan.has("llm") %}
            plugin.call(
                "get_llm_num_tokens",
                model_type="llm",
                model="chat-model",
                tools=[],
                credentials=NO_TOKENIZER,
                prompt_messages=[{"role": "user", "content": "word " * (size * 200_000)}],
            )
{% else %}
            line = b'{"session_id": "s", "event": "ping", "data": "' + b"x" * size * 1_000_000 + b'"}\n'
            plugin.process.stdin.write(line)
            plugin.process.stdin.flush()
{% endif %}
        time.sleep(3 * HEARTBEAT_INTERVAL)
        beats = [beat for beat in plugin.heartbeats if beat >= started]
        gaps = [later - earlier for earlier, later in itertools.pairwise(beats)]
        took = time.monotonic() - started
        print(f"\n{len(beats)} heartbeats in {took:.1f} s, longest gap {max(gaps):.2f} s")
        assert len(gaps) >= 3
        assert max(gaps) < 10 * HEARTBEAT_INTERVAL < SILENCE_LIMIT
    finally:
        plugin.stop()


# -- the SDK's own limits (docs/troubleshooting.md) -----------------------------------------------


def test_the_plugin_ends_when_the_daemon_closes_stdin():
    """The SDK's stdin reader retries at once, forever, once stdin is closed (100% CPU);
    main.py ends the process instead, within STDIN_CHECK."""
    plugin = stdio.PluginProcess()
    try:
        plugin.process.stdin.close()
        assert plugin.process.wait(timeout=daemon.STDIN_CHECK + 10) == 0
    finally:
        plugin.stop()


def test_an_unparsable_request_gets_an_error_without_a_session(plugin):
    """The SDK answers a line it cannot parse with an error that names no session: Dify's call
    then waits for its own timeout. The daemon never writes such a line; the plugin lives on."""
    seen = len(plugin.stdout)
    plugin.process.stdin.write(b"this is not json\n")
    plugin.process.stdin.flush()
    plugin.call("no_such_action")  # returns once the plugin ends this call's session

    errors = [json.loads(line) for line in plugin.stdout[seen:] if line.startswith(b'{"event":"error"')]
    assert errors and errors[0]["session_id"] is None
    assert plugin.process.poll() is None
