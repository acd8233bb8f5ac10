"""Model features beyond plain text, shared by the model types.

- the model's display name in Dify (the `display_name` answer);
- request fields a server refuses (`stream_options`, `max_tokens`, `user`, `reasoning_content`):
  the request is sent again once without them, and the refusal is remembered for that
  connection for a while;
- images for multimodal embedding and rerank, sent as data URIs.

What a server says a model can do is read by its family (models/server/families/).
docs/features.md in the template repo lists every feature and the test that proves it.
"""

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from dify_plugin.entities import I18nObject
from dify_plugin.entities.model.text_embedding import MultiModalContent, MultiModalContentType
from dify_plugin.errors.model import InvokeBadRequestError

from models.server import limits
from models.server.connection import Connection
from models.server.memory import Memory
from models.server.tokens import Tokenizer, fit
from models.server.vocabulary import YES


def label(model: str, credentials: Mapping[str, Any]) -> I18nObject:
    """The name Dify shows for the model: the `display_name` answer, else the model's name."""
    name = str(credentials.get("display_name") or "").strip() or model
    return I18nObject(en_US=name, zh_Hans=name)


def enabled(credentials: Mapping[str, Any], answer: str) -> bool:
    """Whether a yes/no answer (or what validation detected for it) is "yes"."""
    return str(credentials.get(answer) or "").strip().lower() == YES


# -- fields a server may refuse ------------------------------------------------------------

# Optional request fields this plugin adds on its own; a server that refuses one gets the
# request again without it (max_tokens is renamed to max_completion_tokens instead, and
# reasoning_content is left out of the messages that carry it).
OPTIONAL_FIELDS = ("stream_options", "user", "max_tokens", "reasoning_content")
RENAMED = {"max_tokens": "max_completion_tokens"}
IN_MESSAGES = {"reasoning_content"}  # fields of the messages, not of the request
# Words with which servers say they do not know a field (OpenAI, vLLM, pydantic's 422,
# gateways). "invalid" is not one: it is also said about a known field's bad value.
REFUSAL = re.compile(
    r"unsupported|not supported|does not support|unrecognized|unknown|not permitted|not allowed"
    r"|extra_forbidden|unexpected|no longer supported|use 'max_completion_tokens'",
    re.IGNORECASE,
)

# By the connection (URL, key, limits) and the model: a router in front of several backends may
# refuse a field for one model and accept it for another. Bounded in size and in time (see
# models/server/memory.py): a server upgraded, or a replica of this plugin that learned
# otherwise, must not keep a field left out forever.
REFUSALS: Memory[tuple[Connection, str], frozenset[str]] = Memory(
    limits.REMEMBERED_CONNECTIONS, limits.REFUSAL_MEMORY
)


def refused(conn: Connection, uid: str) -> frozenset[str]:
    """The optional fields this connection has refused lately."""
    return REFUSALS.get((conn, uid)) or frozenset()


def remember_refusal(conn: Connection, uid: str, field: str) -> None:
    """Remember for a while that this connection refuses `field`."""
    REFUSALS.put((conn, uid), refused(conn, uid) | {field})


def without_refused(payload: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """The payload without the refused fields (a refused max_tokens becomes max_completion_tokens)."""
    changed = dict(payload)
    for field in fields & changed.keys():
        value = changed.pop(field)
        if field in RENAMED:
            changed[RENAMED[field]] = value
    if fields & IN_MESSAGES and isinstance(changed.get("messages"), list):
        changed["messages"] = [
            {k: v for k, v in message.items() if k not in fields} if isinstance(message, dict) else message
            for message in changed["messages"]
        ]
    return changed


def sent(payload: Mapping[str, Any], field: str) -> bool:
    """Whether the request carries `field`, at its top level or in one of its messages."""
    if field not in IN_MESSAGES:
        return field in payload
    messages = payload.get("messages")
    return isinstance(messages, list) and any(isinstance(m, dict) and field in m for m in messages)


def refused_field(error: Exception, payload: Mapping[str, Any]) -> str | None:
    """The optional field a 4xx answer says the server does not know, if it names one we sent."""
    if not isinstance(error, InvokeBadRequestError):
        return None
    message = str(error)
    if not REFUSAL.search(message):
        return None
    for field in OPTIONAL_FIELDS:
        if sent(payload, field) and re.search(rf"(?<![\w.]){field}(?!\w)", message):
            return field
    return None


# -- images for embedding and rerank ----------------------------------------------------------

IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def image_url(content: str) -> str:
    """An image as the server takes it: a URL or data URI as given, base64 as a data URI.

    Raises InvokeBadRequestError if base64 data is not a PNG, JPEG, GIF, WebP or BMP image.
    """
    content = content.strip()
    if content.startswith(("data:", "http://", "https://")):
        return content
    try:
        head = base64.b64decode(content[:64], validate=True)
    except (binascii.Error, ValueError):
        raise InvokeBadRequestError("an image input is neither a URL nor base64 data") from None
    mime = next((mime for magic, mime in IMAGE_SIGNATURES if head.startswith(magic)), None)
    if mime is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        raise InvokeBadRequestError("an image input is not a PNG, JPEG, GIF, WebP or BMP image")
    return f"data:{mime};base64,{content}"


def multimodal_item(content: MultiModalContent) -> dict[str, str]:
    """One input in the Jina/Xinference shape: {"text": ...} or {"image": URL or data URI}."""
    if content.content_type == MultiModalContentType.IMAGE:
        return {"image": image_url(content.content)}
    return {"text": content.content}


def shortened(item: str | dict[str, str], limit: int, tokenizer: Tokenizer) -> str | dict[str, str]:
    """A text input (a string or {"text": ...}) cut to `limit` tokens by a bound no tokenizer
    exceeds (see tokens.fit); an image input as it is."""
    if isinstance(item, str):
        return fit(item, limit, tokenizer, strict=True)
    if "text" in item:
        return {"text": fit(item["text"], limit, tokenizer, strict=True)}
    return item


def require_images(credentials: Mapping[str, Any], answer: str, items: list[MultiModalContent]) -> None:
    """Raise InvokeBadRequestError if images came for a model not set up to take them."""
    if not enabled(credentials, answer) and any(
        item.content_type == MultiModalContentType.IMAGE for item in items
    ):
        raise InvokeBadRequestError(
            f"this model is not set up for images: set {answer} to yes in its credentials "
            "if the server embeds images"
        )
