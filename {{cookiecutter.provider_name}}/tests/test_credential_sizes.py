"""Every credential field has a length limit (models/server/limits.py's FIELD_CHARS): the form
states it as max_length, validation refuses a longer answer in one line naming the field and the
limit before any request, and credential sets churned through at those limits leave memory flat.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from models.server import limits
from models.server.connection import Connection
from models.server.pools import POOLS
from models.server.transport import request

MIB = 1024 * 1024
FORM = yaml.safe_load(next((ROOT / "provider").glob("*.yaml")).read_text(encoding="utf-8"))
TYPED = {"text-input", "secret-input"}  # the fields a person types into; selects offer values


def typed_fields(schema: str) -> list[dict[str, Any]]:
    return [
        field
        for field in (FORM.get(schema) or {}).get("credential_form_schemas", [])
        if field["type"] in TYPED
    ]


PROVIDER_FIELDS = typed_fields("provider_credential_schema")
MODEL_FIELDS = typed_fields("model_credential_schema")


def limit_of(name: str) -> int:
    return limits.FIELD_CHARS.get(name, (limits.OTHER_FIELD_CHARS, ""))[0]


def model_type_of(field: dict[str, Any]) -> str:
    """The model type whose form shows `field` (the first supported type if all show it)."""
    shown = [rule["value"] for rule in field.get("show_on", []) if rule["variable"] == "__model_type"]
    return shown[0] if shown else FORM["supported_model_types"][0]


def field_id(field: dict[str, Any]) -> str:
    return f"{field['variable']}-{model_type_of(field)}"


@pytest.mark.parametrize("field", PROVIDER_FIELDS + MODEL_FIELDS, ids=field_id)
def test_the_form_states_the_limit_that_validation_keeps(field):
    assert field.get("max_length") == limit_of(field["variable"])


def over_the_limit(name: str, server_url: str) -> str:
    """An answer for `name` one character longer than its limit, otherwise well formed."""
    size = limit_of(name) + 1
    if name == "server_url":
        return server_url + "/" + "v" * (size - len(server_url) - 1)
    return "7" * size


@pytest.mark.skipif(not MODEL_FIELDS, reason="this plugin's models take no credentials of their own")
@pytest.mark.parametrize("field", MODEL_FIELDS, ids=field_id)
def test_a_model_answer_over_its_limit_is_refused_at_validation_naming_field_and_limit(
    plugin, server, credentials, field
):
    name, model_type = field["variable"], model_type_of(field)
    given = credentials("any-model") | {name: over_the_limit(name, server.url)}

    results, error = plugin.call(
        "validate_model_credentials", model_type=model_type, model="any-model", credentials=given
    )

    message = (error or {}).get("message", "")
    assert error is not None and error["error_type"] == "CredentialsValidateFailedError", (results, error)
    assert f"{name} must be at most {limit_of(name):,} characters" in message
    assert "\n" not in message
    assert server.requests() == []


@pytest.mark.parametrize("field", PROVIDER_FIELDS, ids=field_id)
def test_a_provider_answer_over_its_limit_is_refused_at_validation(plugin, server, credentials, field):
    name = field["variable"]
    given = credentials("any-model") | {name: over_the_limit(name, server.url)}

    _, error = plugin.call("validate_provider_credentials", credentials=given)

    assert error is not None and error["error_type"] == "CredentialsValidateFailedError", error
    assert f"{name} must be at most {limit_of(name):,} characters" in error["message"]
    assert server.requests() == []


@pytest.mark.parametrize("name", ["api_key", "model_uid", "server_url", "ca_bundle"])
def test_an_answer_at_its_limit_is_not_refused_for_its_length(server, credentials, name):
    given = credentials("any-model") | {name: over_the_limit(name, server.url)[:-1]}

    try:
        Connection.of(given)
    except Exception as error:  # a path at PATH_MAX names no file: refused for that, not its length
        assert "must be at most" not in str(error)


def resident_memory() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident memory from Linux /proc")
def test_churning_through_large_distinct_keys_keeps_memory_flat(server, credentials):
    """Each set at the limits: a 4,096-character key and 8 KiB of extra headers. Before the
    limits, eight 4 MB keys kept about 100 MB (a client and the secret's forms per set)."""
    key_chars = limit_of("api_key")
    header = "x" * (limits.MAX_EXTRA_HEADER_BYTES - len("X-Tenant: ") - 2)

    def use(count: int, start: int) -> None:
        for n in range(start, start + count):
            key = f"{n:08d}".ljust(key_chars, "k")
            headers = json.dumps({"X-Tenant": f"{n:08d}" + header[8:]})
            given = credentials("x", api_key=key, extra_headers=headers)
            request(Connection.of(given), "GET", "models")

    use(2 * limits.MAX_CLIENTS, 0)  # every pool and cache slot taken, and evicted, at least once
    memory = resident_memory()
    use(400, 100_000)
    grown = resident_memory() - memory

    print(f"after 400 more credential sets at the limits: {grown / MIB:+.1f} MiB RSS, {len(POOLS)} pools")
    assert len(POOLS) <= limits.MAX_CLIENTS
    assert grown < 16 * MIB
