{% set plan = cookiecutter | plan %}
"""How the plugin reaches the server (models/server/): URLs, auth, pooling, timeouts and provider checks.

How it holds up against hostile and overloaded servers: tests/test_hostile.py.
"""

import importlib
import json
import socket
from collections.abc import Iterator

import gevent
import httpx
import pytest
from checks import PASSWORD, assert_no_secret, bounded, full_text, raises_dify_error, spoil_validation
from conftest import API_KEY
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
)

from models.server import limits
from models.server.bodies import read_ahead, scrub
from models.server.connection import Connection
from models.server.pools import Pools
from models.server.probes import credential_check
from models.server.tokens import estimate_tokens
from models.server.transport import request

# Loaded by name: a provider name such as `my-server` is not a valid Python identifier.
Provider = importlib.import_module("provider.{{ plan.provider }}").{{ plan.provider_class }}


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/", "/V1", "/v1//"])
def test_server_url_works_with_or_without_v1_in_any_case(server, suffix):
    request(Connection.of({"server_url": server.url + suffix}), "GET", "models")

    assert [r["path"] for r in server.requests()] == ["/v1/models"]


def test_server_url_keeps_a_path_prefix_and_ignores_surrounding_spaces(server):
    conn = Connection.of({"server_url": f"  HTTP://127.0.0.1:{server.port}/proxy/xinference/V1/ \n"})

    assert conn.base_url == f"http://127.0.0.1:{server.port}/proxy/xinference/v1"


@pytest.mark.parametrize(
    ("server_url", "rule"),
    [
        ("", "must be an http:// or https:// URL with a host"),
        ("localhost:9997", "must be an http:// or https:// URL with a host"),
        ("ftp://127.0.0.1/v1", "must be an http:// or https:// URL with a host"),
        ("http://", "must be an http:// or https:// URL with a host"),
        ("http:///v1", "must be an http:// or https:// URL with a host"),
        ("http://127.0.0.1:abc", "is not a valid URL"),
        ("http://127.0.0.1:99999", "is not a valid URL"),
        ("http://127.0.0.1:0", "port number from 1 to 65535"),
        ("http://[::1", "is not a valid URL"),
        ("http://[::1]zz:9997", "is not a valid URL"),
        ("http://127.0.0.1:9997/v1?token=abc", "without a ?query or #fragment"),
        ("http://127.0.0.1:9997/#/models", "without a ?query or #fragment"),
        ("http://127.0.0.1:9997/v1?", "without a ?query or #fragment"),
        ("http://127.0.0.1:9997/v 1", "must not contain spaces, line breaks or control characters"),
        ("http://127.0.0.1:9997\n/v1", "must not contain spaces, line breaks or control characters"),
        (f"http://admin:{PASSWORD}@127.0.0.1:9997", "put the key in the API key field"),
        ("http://admin@127.0.0.1:9997", "must not contain a user name or password"),
    ],
)
def test_an_unusable_server_url_is_refused_naming_the_field_never_the_value(server_url, rule):
    with pytest.raises(InvokeBadRequestError) as caught:
        Connection.of({"server_url": server_url})

    message = str(caught.value)
    assert message.startswith("server_url ") and rule in message, message
    assert "\n" not in message
    for part in ("abc", "99999", "token", "models", "admin", PASSWORD):
        assert part not in message, message
    assert_no_secret(full_text(caught.value))


@pytest.mark.parametrize(
    "api_key",
    [f"{API_KEY}\nX-Injected: 1", f"{API_KEY}\u00e9", f"{API_KEY} {API_KEY}", f"{API_KEY}\x00"],
    ids=["line break", "non-ascii", "space", "control character"],
)
def test_an_api_key_no_header_can_carry_is_refused_naming_the_field_never_the_value(server, api_key):
    with pytest.raises(InvokeBadRequestError) as caught:
        request(Connection.of({"server_url": server.url, "api_key": api_key}), "GET", "models")

    assert str(caught.value).startswith("api_key must be printable ASCII"), str(caught.value)
    assert_no_secret(full_text(caught.value))
    assert server.requests() == []


def test_a_pasted_key_with_a_trailing_line_break_is_sent_without_it(server):
    request(Connection.of({"server_url": server.url, "api_key": f"  {API_KEY}\n"}), "GET", "models")

    assert server.requests("/v1/models")[0]["authorization"] == f"Bearer {API_KEY}"


def test_the_api_key_is_sent_as_a_bearer_token(server):
    request(Connection.of({"server_url": server.url, "api_key": API_KEY}), "GET", "models")

    assert server.requests("/v1/models")[0]["authorization"] == f"Bearer {API_KEY}"


def test_an_api_key_echoed_by_the_server_is_scrubbed_from_errors(server):
    server.fault("/v1/models", status=401, body={"detail": "key {api_key} is not valid"})

    with pytest.raises(InvokeAuthorizationError) as caught:
        request(Connection.of({"server_url": server.url, "api_key": API_KEY}), "GET", "models")

    assert_no_secret(full_text(caught.value))
    assert "key *** is not valid" in str(caught.value) and "401" in str(caught.value)


@pytest.mark.parametrize(
    "encode",
    [
        lambda key: key,
        lambda key: json.dumps(key)[1:-1],
        lambda key: json.dumps(key)[1:-1].replace("/", "\\/"),
        lambda key: (
            json.dumps(key)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        ),
    ],
    ids=["as sent", "json", "json with escaped slashes", "json as go writes it"],
)
def test_scrubbing_finds_the_key_as_json_encoders_write_it(encode):
    key = 'sk-a/b<c>&d"e\\f'
    conn = Connection.of({"server_url": "http://127.0.0.1:1", "api_key": key})
    echoed = ('{"detail": "bad key ' + encode(key) + '"}').encode()

    assert scrub(echoed, conn) == b'{"detail": "bad key ***"}'


def test_calls_with_the_same_settings_reuse_one_pooled_connection(server):
    credentials = {"server_url": server.url, "api_key": API_KEY}
    for _ in range(3):
        request(Connection.of(credentials), "GET", "models")

    ports = {r["client_port"] for r in server.requests("/v1/models")}
    assert len(ports) == 1, "each call opened a new connection"


def test_different_keys_get_different_pools():
    pools = Pools(size=4)
    first = Connection.of({"server_url": "http://127.0.0.1:1", "api_key": "a"})
    second = Connection.of({"server_url": "http://127.0.0.1:1", "api_key": "b"})

    with pools.use(first) as one, pools.use(second) as other, pools.use(first) as again:
        assert one is again and one is not other
        assert one.headers["authorization"] == "Bearer a"


def test_the_least_recently_used_pool_is_closed_once_its_last_call_ends():
    pools = Pools(size=2)
    conns = [Connection.of({"server_url": "http://127.0.0.1:1", "api_key": str(n)}) for n in range(4)]

    with pools.use(conns[0]) as busy:
        with pools.use(conns[1]) as idle:
            pass
        for conn in conns[2:]:
            with pools.use(conn):
                pass
        assert idle.is_closed, "an evicted idle client stays open"
        assert not busy.is_closed, "a client was closed during its call"
    assert busy.is_closed
    assert len(pools) == 2


def test_a_pool_no_call_has_used_for_its_idle_time_is_closed_when_the_next_call_begins():
    pools = Pools(size=8, idle=600)
    now = [1000.0]
    pools.clock = lambda: now[0]
    old, kept, new = (Connection.of({"server_url": "http://127.0.0.1:1", "api_key": k}) for k in "abc")

    with pools.use(old) as forgotten:
        pass
    now[0] += 300
    with pools.use(kept) as recent:
        pass
    now[0] += 301  # `old` idle for 601 s, `kept` for 301 s
    with pools.use(new):
        assert forgotten.is_closed, "a pool unused for longer than its idle time stays open"
        assert not recent.is_closed
    assert len(pools) == 2


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


def test_a_connect_timeout_is_a_connection_error_stating_the_timeout(unanswered_port, short_timeouts):
    credentials = {
        "server_url": f"http://127.0.0.1:{unanswered_port}",
        "request_timeout": "0.2",
        "max_retries": "0",
    }

    with raises_dify_error(InvokeConnectionError, unanswered_port) as caught, bounded(10):
        request(Connection.of(credentials), "GET", "models")

    assert "0.2 s" in str(caught.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"request_timeout": "7.5", "max_retries": "2"}, (7.5, 2)),
        ({"request_timeout": "soon", "max_retries": ""}, (limits.DEFAULT_TIMEOUT, limits.DEFAULT_RETRIES)),
        ({"request_timeout": "nan", "max_retries": "inf"}, (limits.DEFAULT_TIMEOUT, limits.DEFAULT_RETRIES)),
        ({"request_timeout": "0", "max_retries": "-4"}, (limits.TIMEOUT_RANGE[0], 0)),
        ({"request_timeout": "1e9", "max_retries": "1e9"}, (limits.TIMEOUT_RANGE[1], limits.MAX_RETRIES)),
    ],
    ids=["as given", "not numbers", "not finite", "below the range", "above the range"],
)
def test_timeouts_and_retries_come_from_the_credentials_within_their_ranges(given, expected):
    conn = Connection.of({"server_url": "http://127.0.0.1:1", **given})

    assert (conn.timeout, conn.retries) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"request_timeout": "0.5"}, "request_timeout must be a number of seconds from 1 to 600"),
        ({"request_timeout": "soon"}, "request_timeout must be a number of seconds from 1 to 600"),
        ({"request_timeout": "600.5"}, "request_timeout must be a number of seconds from 1 to 600"),
        ({"max_retries": "8"}, "max_retries must be a whole number from 0 to 3"),
        ({"max_retries": "1.5"}, "max_retries must be a whole number from 0 to 3"),
    ],
    ids=[
        "timeout too short",
        "timeout not a number",
        "timeout too long",
        "too many retries",
        "retries not whole",
    ],
)
def test_validation_refuses_settings_outside_their_ranges(server, given, message):
    with pytest.raises(CredentialsValidateFailedError) as caught:
        with credential_check({"server_url": server.url, **given}):
            pass

    assert str(caught.value) == message


{% if plan.customizable %}
def test_the_credential_form_states_the_ranges_calls_keep_to():
    import yaml  # only plugins with a model credential form have these fields
    from conftest import ROOT

    fields = yaml.safe_load((ROOT / "provider" / "{{ plan.provider }}.yaml").read_text(encoding="utf-8"))
    placeholders = {
        field["variable"]: field.get("placeholder", {}).get("en_US", "")
        for field in fields["model_credential_schema"]["credential_form_schemas"]
    }

    assert placeholders["request_timeout"].startswith("{:g} to {:g}".format(*limits.TIMEOUT_RANGE))
    assert placeholders["max_retries"].startswith(f"0 to {limits.MAX_RETRIES}")


{% endif %}
def test_token_estimate_is_offline_and_grows_with_the_text():
    assert estimate_tokens("") == 0
    assert 0 < estimate_tokens("hello world") < estimate_tokens("hello world " * 50)
    assert estimate_tokens("你好世界") == 4


def test_stream_pieces_that_arrive_while_the_last_is_handled_go_on_joined():
    def arriving() -> Iterator[bytes]:
        yield b"data: 1\n\n"
        yield b"data: 2\n\n"  # already there when the first is taken
        gevent.sleep(0.01)  # a wait on the server
        yield b"data: 3\n\n"

    assert list(read_ahead(arriving())) == [b"data: 1\n\ndata: 2\n\n", b"data: 3\n\n"]


def test_stream_read_ahead_holds_at_most_its_limit_of_waiting_pieces():
    assert list(read_ahead(iter([b"x"] * 10), most=4)) == [b"xxxx", b"xxxx", b"xx"]


def test_stream_read_error_is_raised_after_the_pieces_before_it():
    def breaking() -> Iterator[bytes]:
        yield b"data: 1\n\n"
        raise httpx.ReadError("connection reset")

    pieces = read_ahead(breaking())

    assert next(pieces) == b"data: 1\n\n"
    with pytest.raises(httpx.ReadError, match="connection reset"):
        next(pieces)


def test_a_stream_left_early_is_no_longer_read():
    taken = []

    def endless() -> Iterator[bytes]:
        while True:
            taken.append(1)
            yield b"data: more\n\n"
            gevent.sleep(0.001)

    pieces = read_ahead(endless())
    next(pieces)
    pieces.close()
    read = len(taken)
    gevent.sleep(0.05)

    assert len(taken) == read


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


@pytest.mark.parametrize("server_url", ["127.0.0.1:9997", f"http://user:{PASSWORD}@127.0.0.1:9997"])
def test_provider_validation_refuses_an_unusable_server_url_naming_the_field(provider, server_url):
    with pytest.raises(CredentialsValidateFailedError) as caught:
        provider.validate_provider_credentials({"server_url": server_url, "api_key": API_KEY})

    assert str(caught.value).startswith("server_url "), str(caught.value)
    assert_no_secret(full_text(caught.value))
