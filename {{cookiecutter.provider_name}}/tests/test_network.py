"""The plugin on the networks people run it on: an API under any path or at the server's root,
proxies, private certificate authorities, extra headers, and slow servers on CPUs."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import pytest
import trustme
from checks import PASSWORD, assert_no_secret, bounded, full_text
from conftest import API_KEY, ROOT, FakeServer, closed_port
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeConnectionError, InvokeError
from test_hostile import CALLS, ONE_PER_TYPE, each_type

from models.server import limits
from models.server.connection import Connection
from scripts.check.plugin import PluginProcess

HOST = "http://192.168.1.100:9997"

# server_url (and routes_at_root) -> where the API's routes are.
BASES = {
    "no path": (HOST, "", f"{HOST}/v1"),
    "a slash only": (f"{HOST}/", "", f"{HOST}/v1"),
    "/v1": (f"{HOST}/v1", "", f"{HOST}/v1"),
    "a gateway's path": ("http://gateway/api/v1", "", "http://gateway/api/v1"),
    "GPUStack's path": ("http://gpustack/v1-openai/", "", "http://gpustack/v1-openai"),
    "a prefix without /v1": ("http://host/proxy/xinference", "", "http://host/proxy/xinference"),
    "routes at the root": ("http://infinity:7997", "yes", "http://infinity:7997"),
    "routes at the root, with a slash": ("http://infinity:7997/", "yes", "http://infinity:7997"),
    "routes_at_root beside a path": ("http://host/api/v1", "yes", "http://host/api/v1"),
}


@pytest.mark.parametrize(("server_url", "at_root", "base"), BASES.values(), ids=BASES.keys())
def test_v1_is_added_only_to_a_url_without_a_path(server_url, at_root, base):
    conn = Connection.of({"server_url": server_url, "routes_at_root": at_root})

    assert conn.base_url == base
    assert conn.url("models") == f"{base}/models"


@pytest.mark.parametrize(
    ("server_url", "at_root", "props"),
    [
        (HOST, "", f"{HOST}/props"),
        ("http://host/llama/v1", "", "http://host/llama/props"),
        ("http://infinity:7997", "yes", "http://infinity:7997/props"),
        ("http://gpustack/v1-openai", "", "http://gpustack/v1-openai/props"),
    ],
)
def test_a_servers_own_paths_are_found_beside_v1(server_url, at_root, props):
    """llama.cpp's /props and /tokenize, and the like, sit at the server's root, beside /v1."""
    assert Connection.of({"server_url": server_url, "routes_at_root": at_root}).url("/props") == props


MOUNTS = {  # where the loopback server's API is, and how the form says so
    "at the root (Infinity, TEI)": ("", "", {"routes_at_root": "yes"}),
    "under a gateway's /api/v1": ("/api/v1", "/api/v1", {}),
    "under GPUStack's /v1-openai": ("/v1-openai", "/v1-openai", {}),
}


@each_type
@pytest.mark.parametrize(("mount", "path", "answers"), MOUNTS.values(), ids=MOUNTS.keys())
def test_an_api_mounted_elsewhere_is_validated_and_called_where_the_url_says(
    server, credentials, call, mount, path, answers
):
    server.config(mount=mount)
    given = credentials(call.uid, server_url=server.url + path, **answers)

    call.validate(given)
    call.run(given)

    paths = [request["path"] for request in server.requests()]
    assert mount + call.path.removeprefix("/v1") in paths, paths
    assert not [p for p in paths if p.startswith("/v1/")], paths


# -- proxies: the environment the Dify daemon passes on ------------------------------------------
PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]


class ForwardProxy:
    """tests/forward_proxy.py in its own process: the request lines it received, in order."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "forward_proxy.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"
        self.lines: list[str] = []
        threading.Thread(
            target=lambda: self.lines.extend(line.strip() for line in self.process.stdout), daemon=True
        ).start()

    def received(self, line: str) -> bool:
        """Whether `line` came; the proxy writes it before it forwards, so it is there or coming."""
        with bounded(10):
            while line not in self.lines:
                gevent.sleep(0.01)
        return True

    def stop(self) -> None:
        self.process.stdin.close()  # its signal to end
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def proxy() -> Iterator[ForwardProxy]:
    running = ForwardProxy()
    yield running
    running.stop()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """environment(NAME=value, ...): the proxy variables the daemon would pass on, and no others
    (lowercase names win in curl's reading, so they are cleared too)."""

    def set_only(**variables: str) -> None:
        for name in PROXY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.lower(), raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_only


@each_type
def test_requests_go_through_the_proxy_the_environment_names(server, credentials, proxy, environment, call):
    environment(HTTP_PROXY=proxy.url)

    call.validate(credentials(call.uid))
    call.run(credentials(call.uid))

    assert proxy.received(f"POST {server.url}{call.path}")


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
def test_a_host_no_proxy_covers_is_reached_directly(server, credentials, proxy, environment, no_proxy):
    call = CALLS[0]
    environment(HTTP_PROXY=proxy.url, NO_PROXY=no_proxy)
    seen = len(proxy.lines)

    call.run(credentials(call.uid))

    assert server.requests(call.path)
    assert proxy.lines[seen:] == []


def test_all_proxy_serves_when_no_proxy_for_the_scheme_is_named(server, credentials, proxy, environment):
    call = CALLS[0]
    environment(ALL_PROXY=proxy.url.removeprefix("http://"))  # no scheme: an http:// proxy, as curl reads it

    call.run(credentials(call.uid))

    assert proxy.received(f"POST {server.url}{call.path}")


def test_the_plugin_started_as_the_daemon_starts_it_uses_the_proxy(server, credentials, proxy):
    """The daemon passes HTTP_PROXY on to the plugin's process (dify-plugin-daemon
    internal/core/local_runtime/subprocess.go); the plugin's own httpx transport read none before."""
    plugin = PluginProcess(env={"HTTP_PROXY": proxy.url})
    try:
        call = CALLS[0]
        results, error = plugin.call(
            "validate_model_credentials",
            model_type=call.model_type,
            model=call.uid,
            credentials=credentials(call.uid),
        )
    finally:
        plugin.stop()

    assert error is None, error
    assert proxy.received(f"GET {server.url}/v1/models/{call.uid}")


def test_a_proxy_that_cannot_be_reached_is_named_without_its_password(server, credentials, environment):
    call = CALLS[0]
    port = closed_port()
    environment(HTTP_PROXY=f"http://team:{PASSWORD}@127.0.0.1:{port}")

    with pytest.raises(InvokeConnectionError) as caught, bounded(10):
        call.run(credentials(call.uid))

    assert f"through the proxy http://127.0.0.1:{port}" in str(caught.value), str(caught.value)
    assert_no_secret(full_text(caught.value))


# -- certificates: a private certificate authority ------------------------------------------------
CA_VARIABLES = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "SSL_CERT_DIR"]


class PrivateCA:
    """A certificate authority made for this module, its certificate in a file, and an https
    loopback server whose certificate (for 127.0.0.1) it signed."""

    def __init__(self, folder: Path) -> None:
        authority = trustme.CA(organization_name="Private CA of the tests")
        self.bundle = folder / "private-ca.pem"
        authority.cert_pem.write_to_path(str(self.bundle))
        served = folder / "server.pem"
        authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(served))
        self.server = FakeServer(certificate=served)


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCA]:
    made = PrivateCA(tmp_path_factory.mktemp("private-ca"))
    yield made
    made.server.stop()


@pytest.fixture
def ca_environment(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """ca_environment(NAME=path): the CA variable given, and no other."""

    def set_only(**variables: str) -> None:
        for name in CA_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_only


def over_https(private_ca: PrivateCA, uid: str, **answers: str) -> dict[str, str]:
    return {
        "server_url": private_ca.server.url,
        "model_uid": uid,
        "request_timeout": "5",
        "max_retries": "0",
        **answers,
    }


@each_type
@pytest.mark.parametrize("where", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "ca_bundle"])
def test_a_server_with_a_private_ca_is_trusted_where_the_bundle_is_named(
    private_ca, ca_environment, call, where
):
    if where == "ca_bundle":
        ca_environment()
        given = over_https(private_ca, call.uid, ca_bundle=str(private_ca.bundle))
    else:
        ca_environment(**{where: str(private_ca.bundle)})
        given = over_https(private_ca, call.uid)

    call.validate(given)
    call.run(given)


@each_type
def test_without_the_ca_the_error_names_certificate_verification_in_one_line(
    private_ca, ca_environment, call
):
    ca_environment()
    given = over_https(private_ca, call.uid, api_key=API_KEY)

    with pytest.raises(InvokeError) as caught, bounded(10):
        call.run(given)
    with pytest.raises(CredentialsValidateFailedError) as refused, bounded(10):
        call.validate(given)

    for error in (caught.value, refused.value):
        message = str(error)
        assert "certificate verification failed" in message and "ca_bundle" in message, message
        assert f"127.0.0.1:{private_ca.server.port}" in message and "\n" not in message, message
        assert "Traceback" not in message
        assert_no_secret(full_text(error))


def test_verification_can_be_turned_off_for_a_lab_server(private_ca, ca_environment):
    ca_environment()
    call = CALLS[0]

    call.run(over_https(private_ca, call.uid, tls_verify="no"))


def test_the_form_bundle_is_read_once_per_version_of_the_file(private_ca, ca_environment, tmp_path):
    """Spoiled in place with its modification time kept, the file is not read again; once its
    time changes, it is, and the spoiled bundle is refused by name."""
    ca_environment()
    call = CALLS[0]
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(private_ca.bundle.read_bytes())
    given = over_https(private_ca, call.uid, ca_bundle=str(bundle))
    call.run(given)
    stat = bundle.stat()

    bundle.write_text("not a certificate\n")
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    call.run(given)

    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(CredentialsValidateFailedError) as caught:
        call.validate(given)
    assert str(caught.value).startswith("ca_bundle names no PEM bundle of CA certificates ("), str(
        caught.value
    )


@pytest.mark.parametrize(
    ("where", "content", "rule"),
    [
        ("ca_bundle", None, "ca_bundle names no file the plugin can read (No such file or directory)"),
        (
            "ca_bundle",
            "-----BEGIN CERTIFICATE-----\nnot base64\n",
            "ca_bundle names no PEM bundle of CA certificates",
        ),
        (
            "SSL_CERT_FILE",
            None,
            "SSL_CERT_FILE names no file the plugin can read (No such file or directory)",
        ),
        ("REQUESTS_CA_BUNDLE", "", "REQUESTS_CA_BUNDLE names no PEM bundle of CA certificates"),
    ],
    ids=["missing file", "not a certificate", "missing SSL_CERT_FILE", "empty REQUESTS_CA_BUNDLE"],
)
def test_an_unusable_bundle_is_refused_naming_where_it_was_named(
    private_ca, ca_environment, tmp_path, where, content, rule
):
    bundle = tmp_path / "bundle.pem"
    if content is not None:
        bundle.write_text(content)
    given = over_https(private_ca, CALLS[0].uid)
    if where == "ca_bundle":
        ca_environment()
        given["ca_bundle"] = str(bundle)
    else:
        ca_environment(**{where: str(bundle)})

    with pytest.raises(CredentialsValidateFailedError) as caught:
        CALLS[0].validate(given)

    assert str(caught.value).startswith(rule), str(caught.value)


# -- extra headers: gateway keys, tenant headers -------------------------------------------------
GATEWAY_KEY = "gw-9f2c41d7e8"  # a secret like the API key: no message may show it


@each_type
def test_extra_headers_reach_every_request_of_each_type(server, credentials, call):
    headers = {"X-Tenant": "team-a", "X-Gateway-Key": GATEWAY_KEY}
    given = credentials(call.uid, api_key=API_KEY, extra_headers=json.dumps(headers))

    call.validate(given)
    call.run(given)

    sent = server.requests()
    assert any(request["path"] == call.path for request in sent)
    for request in sent:
        assert (
            request["headers"]["x-tenant"] == "team-a" and request["headers"]["x-gateway-key"] == GATEWAY_KEY
        )
        assert request["authorization"] == f"Bearer {API_KEY}"


REFUSED_HEADERS = {
    "Authorization": (
        {"Authorization": "Bearer other"},
        "extra_headers must not set Authorization: the API key field sets it",
    ),
    "authorization in lowercase": (
        {"authorization": "Basic eA=="},
        "extra_headers must not set Authorization",
    ),
    "a line break": (
        {"X-Tenant": f"team\r\nX-Injected: {GATEWAY_KEY}"},
        "extra_headers must give X-Tenant a value of printable ASCII on one line",
    ),
    "a hop-by-hop header": (
        {"Connection": "close"},
        "extra_headers must not set Connection: it concerns one connection",
    ),
    "Transfer-Encoding": ({"Transfer-Encoding": "chunked"}, "extra_headers must not set Transfer-Encoding"),
    "Proxy-Authorization": (
        {"Proxy-Authorization": GATEWAY_KEY},
        "extra_headers must not set Proxy-Authorization",
    ),
    "Host": ({"Host": "elsewhere"}, "extra_headers must not set Host: the plugin sets it for each request"),
    "Accept-Encoding": ({"Accept-Encoding": "br"}, "extra_headers must not set Accept-Encoding"),
    "a name with a space": (
        {f"X Key {GATEWAY_KEY}": "1"},
        "extra_headers has a name that is no HTTP header name",
    ),
    "a name twice": ({"X-Tenant": "a", "x-tenant": "b"}, "extra_headers names x-tenant twice"),
    "a value that is no text": (
        {"X-Retries": 3},
        "extra_headers must be a JSON object of header names and text values",
    ),
    "not JSON": (
        f"X-Gateway-Key: {GATEWAY_KEY}",
        "extra_headers must be a JSON object of header names and text values",
    ),
}


@each_type
@pytest.mark.parametrize(("headers", "rule"), REFUSED_HEADERS.values(), ids=REFUSED_HEADERS.keys())
def test_a_header_no_request_should_carry_is_refused_at_validation_by_name(
    server, credentials, call, headers, rule
):
    text = headers if isinstance(headers, str) else json.dumps(headers)

    with pytest.raises(CredentialsValidateFailedError) as caught:
        call.validate(credentials(call.uid, extra_headers=text))

    assert str(caught.value).startswith(rule), str(caught.value)
    assert GATEWAY_KEY not in full_text(caught.value) and "Bearer other" not in str(caught.value)
    assert server.requests() == []


def test_extra_headers_may_take_8_kib_exactly_as_sent():
    """8 KiB: nginx's default large_client_header_buffers (4 8k) refuses a longer header line."""
    assert limits.MAX_EXTRA_HEADER_BYTES == 8 * 1024
    name = "X-Blob"
    fitting = "v" * (8 * 1024 - len(name) - 4)  # "X-Blob: vvv...\r\n" is 8192 bytes

    assert Connection.of({"server_url": HOST, "extra_headers": json.dumps({name: fitting})}).headers == (
        (name, fitting),
    )
    with pytest.raises(InvokeError, match=r"must be at most 8192 bytes as sent .*, not 8193\b"):
        Connection.of({"server_url": HOST, "extra_headers": json.dumps({name: fitting + "v"})})


ECHOES = {  # a server that repeats a request header in its error
    "401": {"status": 401, "body": {"detail": "key {header:X-Gateway-Key} is not valid for this route"}},
    "400 openai shape": {
        "status": 400,
        "body": {"error": {"message": "tenant key {header:X-Gateway-Key} refused"}},
    },
}


@each_type
@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
def test_a_header_value_the_server_echoes_never_reaches_the_error(server, credentials, call, echo):
    server.fault(call.path, **echo)
    given = credentials(call.uid, extra_headers=json.dumps({"X-Gateway-Key": GATEWAY_KEY}))

    with pytest.raises(InvokeError) as caught, bounded(10):
        call.run(given)

    assert GATEWAY_KEY not in full_text(caught.value)
    assert "***" in str(caught.value), str(caught.value)


# -- time: slow servers on CPUs ------------------------------------------------------------------


def test_request_timeout_goes_up_to_600_s_exactly():
    """600 s: the daemon ends any call after PLUGIN_MAX_EXECUTION_TIMEOUT, 600 s by default
    (dify-plugin-daemon internal/types/app/default.go), and Dify's API waits as long."""
    assert limits.TIMEOUT_RANGE[1] == 600
    assert Connection.of({"server_url": HOST, "request_timeout": "600"}).timeout == 600
    assert Connection.of({"server_url": HOST, "request_timeout": "601"}).timeout == 600


CHECKED_BY_A_REQUEST = [call for call in ONE_PER_TYPE if call.model_type != "moderation"]


@pytest.mark.parametrize("call", CHECKED_BY_A_REQUEST, ids=[call.model_type for call in CHECKED_BY_A_REQUEST])
@pytest.mark.parametrize(("timeout", "passes"), [("5", True), ("1", False)])
def test_the_credential_check_follows_request_timeout(server, credentials, call, timeout, passes):
    """A model whose first answer takes 1.5 s (a CPU Whisper loading its model) passes with a
    request_timeout of 5 s; at 1 s the check is cut, stating the limit."""
    server.config(describe=False)  # as most servers: a request of the model's type tells its type
    server.fault(call.path, delay=1.5)
    given = credentials(call.uid, request_timeout=timeout)

    with bounded(10):
        if passes:
            call.validate(given)
            return
        with pytest.raises(CredentialsValidateFailedError, match="within request_timeout = 1 s"):
            call.validate(given)
