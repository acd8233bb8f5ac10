"""The model server as the model list's import sees it: the standard library's HTTP only, so the
template's post-generation hook can run it before the plugin's dependencies are installed.

Every request ends within `timeout` seconds (urllib's socket timeout bounds each wait for the
server; answers are read up to MAX_ANSWER_BYTES). The API key goes only into the Authorization
header and is never part of a message.
"""

import json
import urllib.error
import urllib.request
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from models.server.families import openai
from models.server.families.openai import Ask

MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a model list or description is far smaller
MULTIPART_BOUNDARY = "refresh-models-boundary"


class Unreachable(Exception):
    """No answer: the message says why (connection refused, time limit, not HTTP)."""


class Reply(NamedTuple):
    """An answer, as families/openai.py's type checks read it."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Server:
    """Requests to one server's OpenAI-style API, each bounded by `timeout` seconds."""

    def __init__(self, url: str, api_key: str, timeout: float, routes_at_root: bool = False) -> None:
        parts = urlsplit(url.strip())
        self.base = openai.api_base(f"{parts.scheme}://{parts.netloc}", parts.path, routes_at_root)
        self.timeout = timeout
        self.headers = {"Accept": "application/json", "User-Agent": "refresh_models"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def url(self, path: str) -> str:
        """As the plugin's Connection.url: under the API base, or beside /v1 if it starts with "/"."""
        return f"{openai.server_root(self.base)}{path}" if path.startswith("/") else f"{self.base}/{path}"

    def send(self, method: str, path: str, **request: Any) -> Reply:
        """One request (`json=`, or `data=` and `files=` as for httpx); any HTTP status is a Reply."""
        body, headers = encoded(request)
        sent = urllib.request.Request(
            self.url(path), data=body, method=method, headers={**self.headers, **headers}
        )
        try:
            with urllib.request.urlopen(sent, timeout=self.timeout) as answer:
                return Reply(
                    answer.status, answer.headers.get("Content-Type", ""), answer.read(MAX_ANSWER_BYTES)
                )
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, error.headers.get("Content-Type", ""), error.read(MAX_ANSWER_BYTES))
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise Unreachable(f"{method} {self.url(path)} got no answer: {reason}") from None

    def answer(self, ask: Ask, absent: frozenset[int]) -> Any:
        """The JSON answered to `ask`, None for a status in `absent` or an answer that is not JSON;
        other error statuses are None too (a model the import cannot describe is left undescribed)."""
        reply = self.send(ask.method, ask.path, **({} if ask.json is None else {"json": ask.json}))
        return None if reply.status >= 400 else reply.json()


def encoded(request: dict[str, Any]) -> tuple[bytes | None, dict[str, str]]:
    """The body and content type for httpx-style arguments: `json=`, or `data=` with `files=`."""
    if "json" in request:
        return json.dumps(request["json"]).encode(), {"Content-Type": "application/json"}
    if "files" not in request:
        return None, {}
    parts = []
    for name, value in request.get("data", {}).items():
        parts.append(
            f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content, content_type) in request["files"].items():
        head = (
            f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{MULTIPART_BOUNDARY}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"}
