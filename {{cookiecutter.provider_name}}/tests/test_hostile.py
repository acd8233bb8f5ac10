{% set plan = cookiecutter | plan %}
"""The plugin against hostile and overloaded servers: no secret reaches any message, every call
ends within the limit it states and in bounded memory, and the daemon's concurrency holds.

The loopback server plays each part on purpose (see `FakeServer.fault` in conftest.py). A hang
fails the test through `bounded`, never through a timing assertion.
"""

{% if plan.has("speech2text") %}
import io
{% endif %}
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import gevent
import pytest
from checks import (
    PASSWORD,
    assert_names_server_without_key,
    assert_no_secret,
    bounded,
    full_text,
    raises_dify_error,
    unreachable_server,
)
from conftest import API_KEY
{% if plan.has("llm") %}
from dify_plugin.entities.model.llm import LLMResultChunk
from dify_plugin.entities.model.message import UserPromptMessage
{% endif %}
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeServerUnavailableError,
)
from gevent import monkey

{% if plan.has("llm") %}
from models.llm.llm import {{ plan.class_name("llm") }}
{% endif %}
{% if plan.has("moderation") %}
from models.moderation.moderation import {{ plan.class_name("moderation") }}
{% endif %}
{% if plan.has("rerank") %}
from models.rerank.rerank import {{ plan.class_name("rerank") }}
{% endif %}
from models.server import limits
from models.server.connection import Connection
from models.server.pools import POOLS
{% if plan.has("llm") %}
from models.server.tokens import estimate_tokens
{% endif %}
from models.server.transport import request
{% if plan.has("speech2text") %}
from models.speech2text.speech2text import {{ plan.class_name("speech2text") }}
{% endif %}
{% if plan.has("text-embedding") %}
from models.text_embedding.text_embedding import {{ plan.class_name("text-embedding") }}
{% endif %}
{% if plan.has("tts") %}
from models.tts.tts import {{ plan.class_name("tts") }}
{% endif %}

MIB = 1024 * 1024
# How long after the client closes a stream the server's next write fails, on a loaded machine
# (the first write after the close may still land in the socket's buffer).
CLOSE_SLACK = 1.0


class Call(NamedTuple):
    """One call of a model type through its public `invoke`, on a fresh model instance each time,
    as Dify's executor makes it (one instance cannot time two calls at once)."""

    model_type: str
    path: str  # where its request goes, for `server.fault`
    uid: str
    model_class: Any
    invoke: Callable[[Any, dict], Any]  # (model, credentials) -> the whole answer, streams read to the end
    streams: bool = False
    content_type: str = "application/json"  # of its answer, when that is not an event stream

    def run(self, credentials: dict) -> Any:
        return self.invoke(self.model_class(model_schemas=[]), credentials)

    def validate(self, credentials: dict) -> None:
        self.model_class(model_schemas=[]).validate_credentials(self.uid, credentials)


CALLS: list[Call] = []
{% if plan.has("llm") %}

LLM = {{ plan.class_name("llm") }}
PING = [UserPromptMessage(content="ping")]


def chat(credentials: dict, stream: bool = False, **parameters: Any) -> list[LLMResultChunk]:
    """Every chunk of one chat call (a blocking call gives one)."""
    answer = LLM(model_schemas=[]).invoke(
        "chat-model", credentials, PING, model_parameters=parameters, stream=stream
    )
    return list(answer)


CALLS.append(Call("llm", "/v1/chat/completions", "chat-model", LLM, lambda _, c: chat(c)))
CALLS.append(Call("llm", "/v1/chat/completions", "chat-model", LLM, lambda _, c: chat(c, stream=True), True))
{% endif %}
{% if plan.has("text-embedding") %}
CALLS.append(
    Call(
        "text-embedding",
        "/v1/embeddings",
        "embed-model",
        {{ plan.class_name("text-embedding") }},
        lambda model, c: model.invoke("embed-model", c, ["ping"]),
    )
)
{% endif %}
{% if plan.has("rerank") %}
CALLS.append(
    Call(
        "rerank",
        "/v1/rerank",
        "rerank-model",
        {{ plan.class_name("rerank") }},
        lambda model, c: model.invoke("rerank-model", c, "ping", ["a", "b"]),
    )
)
{% endif %}
{% if plan.has("speech2text") %}
CALLS.append(
    Call(
        "speech2text",
        "/v1/audio/transcriptions",
        "whisper",
        {{ plan.class_name("speech2text") }},
        lambda model, c: model.invoke("whisper", c, io.BytesIO(b"RIFF fake audio")),
    )
)
{% endif %}
{% if plan.has("tts") %}
CALLS.append(
    Call(
        "tts",
        "/v1/audio/speech",
        "tts-model",
        {{ plan.class_name("tts") }},
        lambda model, c: b"".join(model.invoke("tts-model", "tenant-1", c, "ping", "alloy")),
        streams=True,
        content_type="audio/mpeg",
    )
)
{% endif %}
{% if plan.has("moderation") %}
CALLS.append(
    Call(
        "moderation",
        "/v1/moderations",
        "moderation-model",
        {{ plan.class_name("moderation") }},
        lambda model, c: model.invoke("moderation-model", c, "I hate queues"),
    )
)
{% endif %}
CALL_IDS = [f"{call.model_type}{'-stream' if call.streams else ''}" for call in CALLS]
each_call = pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
ONE_PER_TYPE = [call for call in CALLS if call.model_type != "llm" or not call.streams]  # whole answers
each_type = pytest.mark.parametrize("call", ONE_PER_TYPE, ids=[call.model_type for call in ONE_PER_TYPE])


@pytest.fixture
def quick(short_timeouts, credentials) -> Callable[..., dict]:
    """quick(call, **extra): credentials with request_timeout = 0.2 s."""
    return lambda call, **extra: credentials(call.uid, api_key=API_KEY, request_timeout="0.2", **extra)


# -- secrets ------------------------------------------------------------------------------------
ECHOING_ANSWERS = {
    "401 xinference shape": {"status": 401, "body": {"detail": "Could not validate credentials {api_key}"}},
    "400 openai shape": {
        "status": 400,
        "body": {"error": {"message": "Incorrect API key: {api_key}", "type": "invalid_request_error"}},
    },
    "500 vllm shape": {
        "status": 500,
        "body": {
            "object": "error",
            "message": "failed for {api_key}",
            "type": "InternalServerError",
            "code": 500,
        },
    },
    "200 of an unexpected shape": {"status": 200, "body": {"echo": "{api_key}", "data": "{api_key}"}},
    "200 html page": {"status": 200, "body": "<html>key {api_key}</html>", "content_type": "text/html"},
    "200 not json": {"status": 200, "body": "key={api_key}", "content_type": "application/json"},
}


@each_call
@pytest.mark.parametrize("answer", ECHOING_ANSWERS.values(), ids=ECHOING_ANSWERS.keys())
def test_a_key_the_server_echoes_never_reaches_the_error(server, credentials, call, answer):
    server.fault(call.path, **answer)

    with pytest.raises(InvokeError) as caught, bounded(10):
        call.run(credentials(call.uid, api_key=API_KEY))

    assert_names_server_without_key(caught.value, server.port)
{% if plan.has("llm") %}


STREAM_ECHOES = {  # how `server.fault` makes a stream carry the key back
    "error event": {"lines": ['data: {"error": {"message": "rejected {api_key}", "code": 401}}', ""]},
    "event named error": {"lines": ["event: error", 'data: {"message": "rejected {api_key}"}', ""]},
    "malformed line": {"lines": ['data: {"choices": [{"delta": "{api_key}']},
    "event not an object": {"lines": ['data: ["{api_key}"]']},
    "plain json instead of a stream": {"status": 200, "body": {"detail": "streams are off for {api_key}"}},
}


@pytest.mark.parametrize("echo", STREAM_ECHOES.values(), ids=STREAM_ECHOES.keys())
def test_a_key_echoed_in_a_stream_never_reaches_the_error(server, credentials, echo):
    server.fault("/v1/chat/completions", **echo)

    with raises_dify_error(InvokeServerUnavailableError, server.port) as caught, bounded(10):
        chat(credentials("chat-model", api_key=API_KEY), stream=True)

    assert "***" in str(caught.value)


def test_a_key_echoed_in_streamed_content_is_replaced(server, credentials):
    server.fault("/v1/chat/completions", reply={"content": "your key is {api_key}"})

    chunks = chat(credentials("chat-model", api_key=API_KEY), stream=True)

    assert "".join(chunk.delta.message.content for chunk in chunks).strip() == "your key is ***"
{% endif %}


UNUSABLE_URLS = {
    "password": f"http://admin:{PASSWORD}@127.0.0.1:9997",
    "port not a number": "http://127.0.0.1:abc",
    "unclosed ipv6": "http://[::1",
    "query": f"http://127.0.0.1:9997/v1?key={PASSWORD}",
}


@each_call
@pytest.mark.parametrize("server_url", UNUSABLE_URLS.values(), ids=UNUSABLE_URLS.keys())
def test_an_unusable_server_url_is_a_dify_error_naming_the_field(server, credentials, call, server_url):
    given = credentials(call.uid, api_key=API_KEY, server_url=server_url)

    with pytest.raises(InvokeBadRequestError) as caught:
        call.run(given)
    with pytest.raises(CredentialsValidateFailedError) as refused:
        call.validate(given)

    for error in (caught.value, refused.value):
        assert re.search(r"\bserver_url (must|is not)", str(error)), str(error)
        assert_no_secret(full_text(error))
    assert server.requests() == []


@each_call
def test_a_key_with_a_line_break_is_a_dify_error_naming_the_field(server, credentials, call):
    given = credentials(call.uid, api_key=f"{API_KEY}\r\nX-Injected: yes")

    with pytest.raises(InvokeBadRequestError) as caught:
        call.run(given)

    assert str(caught.value).startswith("api_key must"), str(caught.value)
    assert_no_secret(full_text(caught.value))
    assert server.requests() == []


def test_no_secret_reaches_dify_over_stdio(plugin, server, credentials):
    """Every way Dify hears about a failure (message, traceback, logs, stderr) stays free of secrets."""
    call = CALLS[0]
    failures = []
    server.fault("/v1/models", status=401, body={"detail": "bad key {api_key}"}, times=2)
    failures.append(
        plugin.call("validate_provider_credentials", credentials=credentials(call.uid, api_key=API_KEY))
    )
    failures.append(
        plugin.call(
            "validate_model_credentials",
            model_type=call.model_type,
            model=call.uid,
            credentials=credentials(call.uid, api_key=API_KEY),
        )
    )
    for bad in ({"server_url": UNUSABLE_URLS["password"]}, {"api_key": f"{API_KEY}\nX-Injected: yes"}):
        failures.append(
            plugin.call(
                "validate_model_credentials",
                model_type=call.model_type,
                model=call.uid,
                credentials=credentials(call.uid, api_key=API_KEY) | bad,
            )
        )
{% if plan.has("llm") %}
    server.fault("/v1/chat/completions", **STREAM_ECHOES["error event"])
    failures.append(
        plugin.call(
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
    )
{% endif %}

    for _, error in failures:
        assert error is not None and error["message"], error
        assert_no_secret(str(error))
    assert "server_url must not contain a user name or password" in str(failures[2][1])
    assert "api_key must be printable ASCII" in str(failures[3][1])
    assert_no_secret(plugin.output())


# -- dropped connections --------------------------------------------------------------------------
@each_call
def test_a_request_the_server_drops_unanswered_once_is_sent_again(server, credentials, call):
    server.fault(call.path, drop=True)  # as a server closing an idle keep-alive connection does

    call.run(credentials(call.uid, api_key=API_KEY))

    assert len(server.requests(call.path)) == 2


@each_call
def test_a_request_dropped_unanswered_twice_is_a_connection_error(server, credentials, call):
    server.fault(call.path, drop=True, times=2)

    with raises_dify_error(InvokeConnectionError, server.port) as caught, bounded(10):
        call.run(credentials(call.uid, api_key=API_KEY))

    assert "Server disconnected without sending a response" in str(caught.value)
    assert len(server.requests(call.path)) == 2


# -- time -----------------------------------------------------------------------------------------
@each_call
def test_a_trickling_server_cannot_stretch_a_call_past_request_timeout(server, quick, call):
    server.fault(call.path, trickle=0.02)  # a byte every 20 ms, headers included: 10 s for the answer

    with raises_dify_error(InvokeConnectionError, server.port) as caught, bounded(10):
        call.run(quick(call))

    assert "request_timeout = 0.2 s" in str(caught.value)
{% if plan.has("llm") %}


@pytest.mark.parametrize(
    "fault",
    [{"comments": 0.05}, {"trickle": 0.02}, {"delay": 5}],
    ids=["keep-alive comments", "trickled bytes", "silence"],
)
def test_a_stream_without_events_ends_after_request_timeout(server, quick, fault):
    server.fault("/v1/chat/completions", **fault)

    with raises_dify_error(InvokeConnectionError, server.port) as caught, bounded(10):
        chat(quick(CALLS[0]), stream=True)

    assert "sent no event for request_timeout = 0.2 s" in str(caught.value)


def test_a_stream_is_closed_on_the_server_once_it_has_lasted_answer_seconds(server, credentials):
    """As when nobody reads it any more: Dify's Stop never reaches the plugin (DEVELOPMENT.md)."""
    server.fault("/v1/chat/completions", endless=0.05)
    given = credentials("chat-model", api_key=API_KEY, answer_seconds="1")

    with raises_dify_error(InvokeConnectionError, server.port) as caught, bounded(10):
        chat(given, stream=True, max_tokens=4096)

    assert "still streaming after answer_seconds = 1 s, the limit for one answer" in str(caught.value)
    [ran] = server.closed_streams()
    print(f"the server saw the connection closed {ran:.2f} s after it began streaming")
    assert ran < 1 + CLOSE_SLACK  # closed at the bound, not left to stream on


def test_answer_seconds_is_kept_within_the_overall_stream_limit(server, credentials, monkeypatch):
    monkeypatch.setattr(limits, "STREAM_LIMIT", 0.5)
    server.fault("/v1/chat/completions", endless=0.05)

    with raises_dify_error(InvokeConnectionError, server.port) as caught, bounded(10):
        chat(credentials("chat-model", answer_seconds="99999"), stream=True, max_tokens=4096)

    assert "still streaming after answer_seconds = 0.5 s" in str(caught.value)
    assert server.closed_streams()
{% endif %}


@each_type
def test_a_credential_check_ends_within_request_timeout_however_many_requests_it_makes(server, quick, call):
    """Each answer comes within request_timeout (0.2 s), the two together do not."""
    server.fault(f"/v1/models/{call.uid}", status=404, delay=0.15)  # no description: the list decides
    server.fault("/v1/models", delay=0.15)

    with raises_dify_error(CredentialsValidateFailedError, server.port) as caught, bounded(10):
        call.validate(quick(call))

    assert "did not pass the credential check within request_timeout = 0.2 s" in str(caught.value)


def test_retries_on_a_refusing_server_stay_inside_request_timeout(quick):
    url, port = unreachable_server()
    call = CALLS[0]

    with raises_dify_error(InvokeConnectionError, port) as caught, bounded(10):
        call.run(quick(call, server_url=url, max_retries="1e9"))  # kept at 3: waits 0 + 0.5 + 1 s

    assert "did not complete within request_timeout = 0.2 s" in str(caught.value)


def test_the_sdk_serves_requests_as_greenlets_in_one_thread_which_time_limits_can_interrupt():
    """What the time limits and pool sizes rely on: dify_plugin monkey-patches sockets and threads
    with gevent, so the thread pool serving the daemon's requests runs greenlets in one OS thread,
    each waiting on its sockets cooperatively."""
    assert monkey.is_module_patched("socket") and monkey.is_module_patched("threading")
    with ThreadPoolExecutor(max_workers=8) as pool:
        workers = set(pool.map(lambda _: (threading.get_native_id(), type(gevent.getcurrent())), range(8)))
    assert workers == {(threading.get_native_id(), gevent.Greenlet)}


# -- memory ---------------------------------------------------------------------------------------
HUGE_ANSWERS = {
    "declared length": {"chunked": False},
    "chunked": {"chunked": True},
    "gzip bomb": {"encoding": "gzip"},
    "deflate bomb": {"encoding": "deflate"},
}


@each_type
@pytest.mark.parametrize("how", HUGE_ANSWERS.values(), ids=HUGE_ANSWERS.keys())
def test_an_answer_over_the_size_limit_is_refused(server, credentials, monkeypatch, call, how):
    monkeypatch.setattr(limits, "MAX_RESPONSE_BYTES", MIB)  # the real limit is tested over stdio
    server.fault(call.path, size=4 * MIB, content_type=call.content_type, **how)

    with raises_dify_error(InvokeServerUnavailableError, server.port) as caught, bounded(10):
        call.run(credentials(call.uid, api_key=API_KEY))

    assert "answered more than 1 MiB, the limit for one answer" in str(caught.value)


def peak_rss(pid: int) -> int:
    """VmHWM of a process in bytes: the most memory it held since its peak was last reset."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="reads memory figures from Linux /proc"
)
@pytest.mark.parametrize(
    "how", [{"chunked": True}, {"encoding": "gzip"}], ids=["300 MB body", "300 MB gzip bomb"]
)
def test_refusing_a_300_mb_answer_keeps_the_plugins_memory_bounded(plugin, server, credentials, how):
    pid = plugin.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # restart VmHWM from the current RSS
    before = peak_rss(pid)
    server.fault("/v1/models", size=300 * MIB, **how)

    _, error = plugin.call("validate_provider_credentials", credentials=credentials(CALLS[0].uid))

    grown = peak_rss(pid) - before
    print(f"peak RSS grew {grown / MIB:.1f} MiB while refusing a 300 MB answer {how}")
    assert "answered more than 32 MiB" in error["message"], error
    assert grown < 3 * limits.MAX_RESPONSE_BYTES, f"peak RSS grew {grown / MIB:.0f} MiB"
{% if plan.has("llm") %}


def test_a_stream_line_over_the_limit_is_refused(server, credentials):
    server.fault("/v1/chat/completions", line=2 * MIB)

    with raises_dify_error(InvokeServerUnavailableError, server.port) as caught, bounded(10):
        chat(credentials("chat-model", api_key=API_KEY), stream=True)

    assert "stream line longer than 1024 KiB" in str(caught.value)


def test_a_stream_far_past_max_tokens_is_ended_with_a_clear_error(server, credentials):
    server.fault("/v1/chat/completions", endless=0)

    with raises_dify_error(InvokeServerUnavailableError, server.port) as caught, bounded(10):
        chat(credentials("chat-model", api_key=API_KEY), stream=True, max_tokens=8)

    assert "kept streaming far past max_tokens = 8" in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (
            {"status": 200, "body": {"detail": "model is loading"}},
            "application/json instead of an event stream",
        ),
        (
            {"status": 200, "body": "<h1>Bad gateway</h1>", "content_type": "text/html"},
            "text/html instead of an",
        ),
    ],
    ids=["json", "html"],
)
def test_a_stream_answered_with_something_else_names_what_came(server, credentials, answer, named):
    server.fault("/v1/chat/completions", **answer)

    with raises_dify_error(InvokeServerUnavailableError, server.port) as caught:
        chat(credentials("chat-model"), stream=True)

    assert named in str(caught.value)


@pytest.mark.parametrize("stream", [False, True], ids=["blocking", "streaming"])
@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -5, "completion_tokens": -1},
        {"prompt_tokens": 2.5, "completion_tokens": "7"},
        {"prompt_tokens": True, "completion_tokens": None},
    ],
    ids=["negative", "not integers", "boolean and null"],
)
def test_usage_that_is_not_a_count_is_estimated(server, credentials, stream, usage):
    server.fault(
        "/v1/chat/completions", reply={"content": "a longer answer of several words", "usage": usage}
    )
    given = credentials("chat-model")

    chunks = chat(given, stream=stream)

    used = chunks[-1].delta.usage
    answer = "".join(chunk.delta.message.content for chunk in chunks)
    assert used.prompt_tokens == LLM(model_schemas=[]).get_num_tokens("chat-model", given, PING)
    assert used.completion_tokens == estimate_tokens(answer) > 0
{% endif %}


COMPRESSED = [(call, "gzip") for call in CALLS] + [(CALLS[0], "deflate"), (CALLS[0], "raw-deflate")]


@pytest.mark.parametrize(("call", "encoding"), COMPRESSED, ids=[f"{e}-{c.model_type}" for c, e in COMPRESSED])
def test_compressed_answers_are_read(server, credentials, call, encoding):
    server.fault(call.path, encoding=encoding)

    assert call.run(credentials(call.uid))  # every call here has a non-empty answer
    assert server.requests(call.path)[0]["accept_encoding"] == "gzip, deflate"


@pytest.mark.parametrize("call", ONE_PER_TYPE[:1], ids=[call.model_type for call in ONE_PER_TYPE[:1]])
def test_an_encoding_the_plugin_cannot_read_is_refused(server, credentials, call):
    server.fault(call.path, status=200, body={"data": []}, content_type=call.content_type, encoding="br")

    with raises_dify_error(InvokeServerUnavailableError, server.port) as caught:
        call.run(credentials(call.uid))

    assert "Content-Encoding 'br'" in str(caught.value)


# -- resources ------------------------------------------------------------------------------------
def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def resident_memory() -> int:
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="reads descriptor figures from Linux /proc")
def test_credential_churn_keeps_descriptors_and_memory_flat(server, credentials, monkeypatch):
    """Before the pools were bounded, each credential set kept a client, a socket and ~0.9 MB."""
    monkeypatch.setattr(POOLS, "size", 4)  # the same eviction as with MAX_CLIENTS, sooner

    def use(count: int, start: int) -> None:
        for n in range(start, start + count):
            request(Connection.of(credentials("x", api_key=f"sk-churn-{n}")), "GET", "models")

    use(8, 0)  # every pool slot taken, and evicted, at least once
    descriptors, memory = open_descriptors(), resident_memory()
    use(100, 10_000)

    print(
        f"after 100 more credential sets: {open_descriptors() - descriptors:+d} descriptors, "
        f"{(resident_memory() - memory) / MIB:+.1f} MiB RSS, {len(POOLS)} pools"
    )
    assert len(POOLS) == 4
    assert open_descriptors() - descriptors <= 2
    assert resident_memory() - memory < 16 * MIB


def test_256_concurrent_calls_on_one_credential_set_all_complete(server, credentials):
    """The server answers none of them until all 256 requests wait at once."""
    call = CALLS[0]
    given = credentials(call.uid, api_key=API_KEY, request_timeout="60")
    server.config(hold=256, hold_timeout=30)

    with bounded(60), ThreadPoolExecutor(max_workers=256) as pool:  # greenlets, as the SDK's own pool
        results = list(pool.map(lambda _: call.run(given), range(256)))

    assert len(results) == 256 and all(results)
    assert len(server.requests(call.path)) == 256
