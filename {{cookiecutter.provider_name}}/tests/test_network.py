"""The plugin on the networks people run it on: an API under any path or at the server's root."""

import pytest
from model_calls import each_type

from models.server.connection import Connection

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
