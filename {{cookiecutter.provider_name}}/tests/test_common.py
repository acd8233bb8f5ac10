{% set plan = cookiecutter | plan %}
"""The shared HTTP layer (models/common.py): URLs, auth, pooling, timeouts and provider checks."""

import importlib
import socket
import time
from collections.abc import Iterator

import pytest
from checks import raises_dify_error, spoil_validation
from conftest import API_KEY
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
)

from models import common

# Loaded by name: a provider name such as `my-server` is not a valid Python identifier.
Provider = importlib.import_module("provider.{{ plan.provider }}").{{ plan.provider_class }}


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_server_url_works_with_or_without_v1(server, suffix):
    common.request({"server_url": server.url + suffix}, "GET", "models")

    assert [r["path"] for r in server.requests()] == ["/v1/models"]


@pytest.mark.parametrize("server_url", ["", "localhost:9997", "ftp://127.0.0.1/v1", "http://", "http:///v1"])
def test_a_server_url_without_http_scheme_or_host_is_refused_clearly(server_url):
    with pytest.raises(InvokeBadRequestError) as caught:
        common.connection({"server_url": server_url})

    assert "server_url must be an http:// or https:// URL with a host" in str(caught.value)


def test_the_api_key_is_sent_as_a_bearer_token(server):
    common.request({"server_url": server.url, "api_key": API_KEY}, "GET", "models")

    assert server.requests("/v1/models")[0]["authorization"] == f"Bearer {API_KEY}"


def test_an_api_key_echoed_by_the_server_is_scrubbed_from_errors(server):
    server.fault("/v1/models", status=401, body={"detail": f"key {API_KEY} is not valid"})

    with pytest.raises(InvokeAuthorizationError) as caught:
        common.request({"server_url": server.url, "api_key": API_KEY}, "GET", "models")

    assert API_KEY not in str(caught.value)
    assert "***" in str(caught.value) and "401" in str(caught.value)


def test_calls_with_the_same_settings_reuse_one_pooled_connection(server):
    credentials = {"server_url": server.url, "api_key": API_KEY}
    for _ in range(3):
        common.request(credentials, "GET", "models")

    ports = {r["client_port"] for r in server.requests("/v1/models")}
    assert len(ports) == 1, "each call opened a new connection"
    assert common.client(common.connection(credentials)) is common.client(common.connection(credentials))


def test_different_keys_get_different_clients(server):
    first = common.connection({"server_url": server.url, "api_key": "a"})
    second = common.connection({"server_url": server.url, "api_key": "b"})

    assert common.client(first) is not common.client(second)


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port that accepts no more connections: its listen queue is already full."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for open_socket in [*fillers, listener]:
        open_socket.close()


def test_a_connect_timeout_is_a_connection_error_within_the_timeout(unanswered_port):
    credentials = {
        "server_url": f"http://127.0.0.1:{unanswered_port}",
        "request_timeout": "1",
        "max_retries": "0",
    }
    started = time.monotonic()

    with pytest.raises(InvokeConnectionError) as caught:
        common.request(credentials, "GET", "models")

    assert time.monotonic() - started < 3
    assert f"127.0.0.1:{unanswered_port}" in str(caught.value)


def test_timeouts_and_retries_come_from_the_credentials():
    conn = common.connection(
        {"server_url": "http://127.0.0.1:1", "request_timeout": "7.5", "max_retries": "4"}
    )
    assert (conn.timeout, conn.retries) == (7.5, 4)
    defaults = common.connection(
        {"server_url": "http://127.0.0.1:1", "request_timeout": "soon", "max_retries": ""}
    )
    assert (defaults.timeout, defaults.retries) == (common.DEFAULT_TIMEOUT, common.DEFAULT_RETRIES)


def test_token_estimate_is_offline_and_grows_with_the_text():
    assert common.estimate_tokens("") == 0
    assert 0 < common.estimate_tokens("hello world") < common.estimate_tokens("hello world " * 50)
    assert common.estimate_tokens("你好世界") == 4


@pytest.fixture
def provider():
    return Provider(None, None)


def test_provider_credentials_are_valid_when_the_server_answers(provider, server):
    provider.validate_provider_credentials({"server_url": server.url, "api_key": API_KEY})

    assert server.requests("/v1/models")


@pytest.mark.parametrize("case", ["wrong api key", "connection refused"])
def test_provider_validation_failure_names_the_server_and_never_the_key(provider, server, case):
    credentials = {"server_url": server.url, "api_key": API_KEY, "request_timeout": "5", "max_retries": "0"}
    port = spoil_validation(case, server, credentials)

    with raises_dify_error(CredentialsValidateFailedError, port):
        provider.validate_provider_credentials(credentials)


def test_provider_validation_refuses_a_server_url_without_scheme(provider):
    with pytest.raises(CredentialsValidateFailedError) as caught:
        provider.validate_provider_credentials({"server_url": "127.0.0.1:9997", "api_key": API_KEY})

    assert "127.0.0.1:9997" in str(caught.value) and API_KEY not in str(caught.value)
