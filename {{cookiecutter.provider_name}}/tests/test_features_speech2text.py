{% set plan = cookiecutter | plan %}
"""Speech-to-text features against the loopback server: the language and prompt hints."""

import io

import pytest

from models.speech2text.speech2text import {{ plan.class_name("speech2text") }}


@pytest.mark.parametrize(
    ("answers", "sent"),
    [
        (
            {"language": "de", "initial_prompt": "Dify, Xinference"},
            {"language": "de", "prompt": "Dify, Xinference"},
        ),
        ({"language": " ", "initial_prompt": ""}, {}),
        ({}, {}),
    ],
    ids=["both", "blank", "none"],
)
def test_language_and_prompt_hints_are_sent_with_the_audio(server, credentials, answers, sent):
    transcriber = {{ plan.class_name("speech2text") }}(model_schemas=[])

    transcript = transcriber.invoke(
        model="whisper", credentials=credentials("whisper", **answers), file=io.BytesIO(b"RIFF....")
    )

    [request] = server.requests("/v1/audio/transcriptions")
    assert transcript == f"transcript of {request['size']} bytes"
    assert {
        name: request["form"].get(name) for name in ("language", "prompt") if name in request["form"]
    } == sent
