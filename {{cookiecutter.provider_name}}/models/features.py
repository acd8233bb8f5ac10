"""Model features beyond plain text, shared by the model types.

- the model's display name in Dify (the `display_name` answer);
- request fields a server refuses (`stream_options`, `max_tokens`, `user`): the request is
  sent again once without them, and the refusal is remembered for that connection;
- what a llama.cpp server says about its model (`GET /props`), read at validation;
- images for multimodal embedding and rerank, sent as data URIs.

docs/features.md in the template repo lists every feature and the test that proves it.
"""

import base64
import binascii
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from dify_plugin.entities import I18nObject
from dify_plugin.entities.model.text_embedding import MultiModalContent, MultiModalContentType
from dify_plugin.errors.model import InvokeBadRequestError

from models import common

YES = "yes"


def label(model: str, credentials: Mapping[str, Any]) -> I18nObject:
    """The name Dify shows for the model: the `display_name` answer, else the model's name."""
    name = str(credentials.get("display_name") or "").strip() or model
    return I18nObject(en_US=name, zh_Hans=name)


def enabled(credentials: Mapping[str, Any], answer: str) -> bool:
    """Whether a yes/no answer (or what validation detected for it) is "yes"."""
    return str(credentials.get(answer) or "").strip().lower() == YES


# -- fields a server may refuse ------------------------------------------------------------

# Optional request fields this plugin adds on its own; a server that refuses one gets the
# request again without it (max_tokens is renamed to max_completion_tokens instead).
OPTIONAL_FIELDS = ("stream_options", "user", "max_tokens")
RENAMED = {"max_tokens": "max_completion_tokens"}
# Words with which servers say they do not know a field (OpenAI, vLLM, pydantic's 422,
# gateways). "invalid" is not one: it is also said about a known field's bad value.
REFUSAL = re.compile(
    r"unsupported|not supported|does not support|unrecognized|unknown|not permitted|not allowed"
    r"|extra_forbidden|unexpected|no longer supported|use 'max_completion_tokens'",
    re.IGNORECASE,
)
REMEMBERED_CONNECTIONS = 256  # memory stays bounded however many servers are configured

_refusals: OrderedDict[tuple[common.Connection, str], frozenset[str]] = OrderedDict()
_refusals_lock = threading.Lock()


def _key(credentials: Mapping[str, Any], uid: str) -> tuple[common.Connection, str]:
    # The connection (URL, key, limits) and the model: a router in front of several
    # backends may refuse a field for one model and accept it for another.
    return common.connection(credentials), uid


def refused(credentials: Mapping[str, Any], uid: str) -> frozenset[str]:
    """The optional fields this connection has refused before."""
    with _refusals_lock:
        return _refusals.get(_key(credentials, uid), frozenset())


def remember_refusal(credentials: Mapping[str, Any], uid: str, field: str) -> None:
    """Remember that this connection refuses `field`, forgetting the oldest connection if full."""
    key = _key(credentials, uid)
    with _refusals_lock:
        _refusals[key] = _refusals.get(key, frozenset()) | {field}
        _refusals.move_to_end(key)
        while len(_refusals) > REMEMBERED_CONNECTIONS:
            _refusals.popitem(last=False)


def without_refused(payload: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """The payload without the refused fields (a refused max_tokens becomes max_completion_tokens)."""
    changed = dict(payload)
    for field in fields & changed.keys():
        value = changed.pop(field)
        if field in RENAMED:
            changed[RENAMED[field]] = value
    return changed


def refused_field(error: Exception, payload: Mapping[str, Any]) -> str | None:
    """The optional field a 4xx answer says the server does not know, if it names one we sent."""
    if not isinstance(error, InvokeBadRequestError):
        return None
    message = str(error)
    if not REFUSAL.search(message):
        return None
    for field in OPTIONAL_FIELDS:
        if field in payload and re.search(rf"(?<![\w.]){field}(?!\w)", message):
            return field
    return None


# -- what llama.cpp says about its model ------------------------------------------------------


# Any error answer to `GET /props` means "not llama.cpp": gateways may guard paths outside /v1.
NOT_LLAMA_CPP = frozenset(range(400, 600))


def server_props(credentials: Mapping[str, Any], uid: str) -> dict[str, Any] | None:
    """llama.cpp's `GET /props` for the model, or None if the server has no such endpoint.

    Router-mode servers pick the model from the `model` query; single-model servers ignore it.
    Asked only while credentials are checked, so it ends within common.CHECK_TIMEOUT.
    """
    body = common.probe(credentials, f"/props?model={quote(uid, safe='')}", absent=NOT_LLAMA_CPP)
    return body if isinstance(body, dict) and "default_generation_settings" in body else None


def takes_images(credentials: Mapping[str, Any], uid: str, info: Mapping[str, Any] | None) -> bool:
    """Whether the server says the model takes images: a `vision` ability in Xinference's
    description, or llama.cpp's vision modality (asked only when there is no description)."""
    if info is not None:
        return "vision" in {str(ability).lower() for ability in info.get("model_ability") or []}
    props = server_props(credentials, uid)
    modalities = props.get("modalities") if props else None
    return isinstance(modalities, dict) and modalities.get("vision") is True


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


def shortened(item: str | dict[str, str], limit: int, tokenizer: common.Tokenizer) -> str | dict[str, str]:
    """A text input (a string or {"text": ...}) cut to `limit` tokens by a bound no tokenizer
    exceeds (see common.fit); an image input as it is."""
    if isinstance(item, str):
        return common.fit(item, limit, tokenizer, strict=True)
    if "text" in item:
        return {"text": common.fit(item["text"], limit, tokenizer, strict=True)}
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
