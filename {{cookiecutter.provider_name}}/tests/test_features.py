{% set plan = cookiecutter | plan %}
"""Features every model type shares (display name, refused fields remembered per connection),
and the images and audio the feature tests make themselves.

The features of one model type are in tests/test_features_<type>.py: what each declares to
Dify, what it sends, what comes back, and what happens when the server refuses it.
docs/features.md in the template repo names the test that proves each feature.
"""

import base64
import io
import struct
import wave
import zlib

import pytest
from dify_plugin.entities.model.text_embedding import MultiModalContent, MultiModalContentType

from models import features
{% for type in plan.types | sort(attribute="folder") if type.folder < "server" %}
from models.{{ type.folder }}.{{ type.folder }} import {{ plan.class_name(type.name) }}
{% endfor %}
from models.server import limits
from models.server.connection import Connection
{% for type in plan.types | sort(attribute="folder") if type.folder > "server" %}
from models.{{ type.folder }}.{{ type.folder }} import {{ plan.class_name(type.name) }}
{% endfor %}

MODEL_CLASSES = [
    {% for type in plan.types %}
    {{ plan.class_name(type.name) }},
    {% endfor %}
]


def png(rgb: tuple[int, int, int], size: int = 2) -> bytes:
    """A real PNG image of one colour, made here (no file, no download)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


RED = base64.b64encode(png((220, 20, 20))).decode()
BLUE = base64.b64encode(png((20, 20, 220))).decode()


def image(data: str) -> MultiModalContent:
    return MultiModalContent(content=data, content_type=MultiModalContentType.IMAGE)


def text(data: str) -> MultiModalContent:
    return MultiModalContent(content=data, content_type=MultiModalContentType.TEXT)


def wav() -> bytes:
    """A real, silent WAV file of 10 ms, made here."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 80)
    return buffer.getvalue()


# -- every model type -----------------------------------------------------------------------


@pytest.mark.parametrize("model_class", MODEL_CLASSES)
@pytest.mark.parametrize(
    ("answer", "shown"), [("My model", "My model"), ("", "served-uid"), ("  ", "served-uid")]
)
def test_display_name_is_the_name_dify_shows(model_class, answer, shown):
    schema = model_class(model_schemas=[]).get_customizable_model_schema(
        "served-uid", {"display_name": answer}
    )

    assert (schema.label.en_us, schema.label.zh_hans) == (shown, shown)
    assert schema.model == "served-uid"


def test_refused_fields_are_remembered_per_connection_in_bounded_memory(server, credentials):
    def connection(uid: str, **extra: str) -> Connection:
        return Connection.of(credentials(uid, **extra))

    first = connection("chat-model")
    features.remember_refusal(first, "chat-model", "stream_options")

    assert features.refused(first, "chat-model") == {"stream_options"}
    assert features.refused(connection("chat-model", request_timeout="7"), "chat-model") == frozenset()
    assert features.refused(first, "other-model") == frozenset()
    for number in range(limits.REMEMBERED_CONNECTIONS):
        features.remember_refusal(connection(f"model-{number}"), f"model-{number}", "user")
    assert len(features.REFUSALS) == limits.REMEMBERED_CONNECTIONS
    assert features.refused(first, "chat-model") == frozenset()  # the oldest was forgotten


def test_a_refusal_is_forgotten_after_its_time_so_replicas_and_upgraded_servers_agree_again(
    server, credentials, monkeypatch
):
    conn = Connection.of(credentials("chat-model", request_timeout="9"))
    clock = [1000.0]
    monkeypatch.setattr(features.REFUSALS, "clock", lambda: clock[0])
    features.remember_refusal(conn, "chat-model", "user")

    clock[0] += limits.REFUSAL_MEMORY  # still within the bound
    assert features.refused(conn, "chat-model") == {"user"}
    clock[0] += 1  # past it: the field is tried again
    assert features.refused(conn, "chat-model") == frozenset()
