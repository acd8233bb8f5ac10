{% set plan = cookiecutter | plan %}
"""PRIVACY.md names everything the plugin sends: every header, JSON field and form field the
loopback server receives from each model type's calls, credential checks and token counts is
named there (the extra headers entered and the app's own extra_body fields are the user's)."""

import re
from typing import Any

import pytest
from conftest import API_KEY, ROOT
{% if plan.has("llm") %}
from dify_plugin.entities.model.message import UserPromptMessage
{% endif %}
from test_hostile import CALL_IDS, CALLS, Call

PRIVACY = (ROOT / "PRIVACY.md").read_text(encoding="utf-8")
NAMED = {name.lower() for name in re.findall(r"`([^`\s]+)`", PRIVACY)}
EXTRA_HEADERS = '{"X-Tenant": "team-a"}'  # named by the person who enters them, not by the plugin


def received_names(requests: list[dict[str, Any]]) -> set[str]:
    """The header names, top-level JSON field names and form field names of `requests`."""
    names = set()
    for received in requests:
        names |= set(received["headers"]) - {"x-tenant"}
        if isinstance(received["json"], dict):
            names |= set(received["json"])
        names |= set(received["form"] or {})
    return names


@pytest.mark.parametrize("call", CALLS, ids=CALL_IDS)
def test_privacy_names_every_field_a_call_and_its_check_send(server, credentials, call: Call):
    given = credentials(call.uid, api_key=API_KEY, extra_headers=EXTRA_HEADERS)
    call.validate(dict(given))
    call.run(given)

    received = received_names(server.requests())

    assert received, "the server received nothing to compare"
    assert received - NAMED == set(), f"sent but not in PRIVACY.md: {sorted(received - NAMED)}"
{% if plan.has("llm") %}


def test_privacy_names_dify_s_end_user_id_and_the_app_s_settings(server, credentials):
    """Dify passes the end user's id; the plugin sends it as OpenAI's `user`."""
    llm = next(call for call in CALLS if call.model_type == "llm").model_class(model_schemas=[])
    settings = {"temperature": 0.2, "top_p": 0.9, "max_tokens": 16, "seed": 7, "top_k": 4}
    chunks = llm.invoke(
        "chat-model",
        credentials("chat-model", api_key=API_KEY),
        [UserPromptMessage(content="ping")],
        model_parameters=settings,
        stop=["END"],
        stream=True,
        user="end-user-7",
    )
    list(chunks)
    llm.get_num_tokens("chat-model", credentials("chat-model"), [UserPromptMessage(content="ping")])

    [chat] = server.requests("/v1/chat/completions")
    assert chat["json"]["user"] == "end-user-7"
    assert "user" in NAMED and "Dify's id of the app's end user" in " ".join(PRIVACY.split())
    received = received_names(server.requests())
    assert received - NAMED == set(), f"sent but not in PRIVACY.md: {sorted(received - NAMED)}"
{% endif %}
