{% set plan = cookiecutter | plan %}
"""Moderation against the loopback server: flagged or not, validation, errors.

Calls go through the public `invoke`, as Dify's executor makes them, so the SDK's own error
wrapping takes part.
"""

import pytest
from checks import HTTP_ERRORS, error_answer, raises_dify_error, spoil_validation, unreachable_server
from conftest import API_KEY
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeConnectionError,
    InvokeServerUnavailableError,
)

from models.moderation.moderation import {{ plan.class_name("moderation") }}

MODERATIONS = "/v1/moderations"
UID = "moderation-model"


@pytest.fixture
def moderator() -> {{ plan.class_name("moderation") }}:
    return {{ plan.class_name("moderation") }}(model_schemas=[])


def moderate(
    moderator: {{ plan.class_name("moderation") }},
    credentials: dict,
    text: str = "hello",
) -> bool:
    return moderator.invoke(model=UID, credentials=credentials, text=text)


# -- answers --------------------------------------------------------------------------------


def test_moderation_flags_text(moderator, server, credentials):
    assert moderate(moderator, credentials(UID), "I hate you and will kill you") is True
    assert moderate(moderator, credentials(UID), "What a lovely day") is False

    bodies = [r["json"] for r in server.requests(MODERATIONS)]
    assert bodies == [
        {"model": UID, "input": "I hate you and will kill you"},
        {"model": UID, "input": "What a lovely day"},
    ]


@pytest.mark.parametrize(
    ("results", "flagged"),
    [
        ([{"flagged": False}, {"flagged": True}], True),
        ([{"flagged": False}, {"flagged": False}], False),
        ([{"flagged": "true"}], True),
        ([{"categories": {}}], False),
        ([], False),
    ],
    ids=["one of two", "none of two", "flag as a string", "no flag", "no results"],
)
def test_moderation_is_true_if_any_result_is_flagged(moderator, server, credentials, results, flagged):
    server.fault(MODERATIONS, status=200, body={"id": "modr-1", "results": results})

    assert moderate(moderator, credentials(UID)) is flagged


def test_moderation_of_blank_text_sends_no_request(moderator, server, credentials):
    assert moderate(moderator, credentials(UID), " \n") is False
    assert server.requests() == []


def test_schema_is_never_none(moderator):
    schema = moderator.get_customizable_model_schema(UID, {})

    assert schema.model == UID
    assert schema.model_type.value == "moderation"


# -- validation -----------------------------------------------------------------------------


def test_validation_accepts_a_model_that_moderates(moderator, server, credentials):
    moderator.validate_credentials(UID, credentials(UID))

    assert len(server.requests(MODERATIONS)) == 1  # servers do not describe moderation models


@pytest.mark.parametrize(
    "case", ["unknown uid", "no moderation endpoint", "wrong api key", "connection refused"]
)
def test_validation_failure_names_the_server_and_never_the_key(moderator, server, credentials, case):
    given = credentials(UID, api_key=API_KEY)
    if case == "no moderation endpoint":
        server.fault(MODERATIONS, status=404, body={"detail": "Not Found"})
        port = server.port
    else:
        port = spoil_validation(case, server, given)

    with raises_dify_error(CredentialsValidateFailedError, port):
        moderator.validate_credentials(UID, given)


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), HTTP_ERRORS)
def test_http_errors_map_to_difys_errors_by_cause(moderator, server, credentials, status, expected):
    server.fault(MODERATIONS, **error_answer(status))

    with raises_dify_error(expected, server.port, status):
        moderate(moderator, credentials(UID, api_key=API_KEY))


def test_connection_refused_is_a_connection_error(moderator, credentials):
    url, port = unreachable_server()

    with raises_dify_error(InvokeConnectionError, port):
        moderate(moderator, credentials(UID, api_key=API_KEY, server_url=url))


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": "<html>busy</html>", "content_type": "text/html"},
        {"status": 200, "body": {"id": "modr-1"}},
        {"status": 200, "body": {"results": [True]}},
    ],
    ids=["non-json body", "no results", "result not an object"],
)
def test_malformed_answers_are_clear_dify_errors(moderator, server, credentials, fault):
    server.fault(MODERATIONS, **fault)

    with raises_dify_error(InvokeServerUnavailableError, server.port):
        moderate(moderator, credentials(UID, api_key=API_KEY))


# -- as Dify runs it ------------------------------------------------------------------------


def test_dify_validates_and_moderates_over_stdio(plugin, server, credentials):
    results, error = plugin.call(
        "validate_model_credentials", model_type="moderation", model=UID, credentials=credentials(UID)
    )
    assert error is None, error
    assert results[0]["result"] is True
    stored = results[0]["credentials"]

    for text, flagged in [("I will kill it", True), ("A quiet afternoon", False)]:
        [answer], error = plugin.call(
            "invoke_moderation", model_type="moderation", model=UID, credentials=stored, text=text
        )
        assert error is None, error
        assert answer["result"] is flagged
