"""Words this plugin and its check (scripts/check_server.py) share: kinds of failure, what a
server says about a model, and the credential answers validation stores.

No SDK import here: the check drives the plugin over stdio, as Dify does, and must not load the
SDK's gevent patching into its own process.

Every error this plugin raises about the server carries a `Fault`: what went wrong as data (the
HTTP status, the form field, the model's real type). Dify sees only the error's class and
message, which stay plain English for people; the fault rides along as a note on the error
(PEP 678), which the SDK's traceback carries over stdio, and which the check reads back with
`Fault.found_in` instead of reading the message.
"""

import json
from typing import NamedTuple

# Kinds of failure (Fault.kind).
STATUS = "status"  # the server answered an HTTP error status (Fault.status)
UNREACHABLE = "unreachable"  # no connection to the server, or it dropped one
TIMEOUT = "timeout"  # a time limit ended the call
FIELD = "field"  # a credential field is unusable (Fault.field, Fault.rule)
WRONG_TYPE = "wrong-type"  # the server runs the model as another type (Fault.actual)
UNKNOWN_MODEL = "unknown-model"  # the server does not run the model
REFUSED_KEY = "refused-key"  # the server did not take the API key, saying so but not with 401 or 403

NOTE = "fault: "  # the start of the note that carries a fault


class Fault(NamedTuple):
    """What went wrong, as data."""

    kind: str
    status: int | None = None
    field: str | None = None
    rule: str | None = None  # what the field must be, e.g. "must be a whole number from 0 to 3"
    actual: str | None = None  # the model's type on the server (a Dify model type where it is one)

    def on[E: BaseException](self, error: E) -> E:
        """`error`, carrying this fault: as `error.fault`, and as a note that its traceback shows."""
        error.fault = self  # type: ignore[attr-defined]
        error.add_note(NOTE + json.dumps({k: v for k, v in self._asdict().items() if v is not None}))
        return error

    @staticmethod
    def of(error: BaseException) -> "Fault | None":
        """The fault `error` carries, if any."""
        fault = getattr(error, "fault", None)
        return fault if isinstance(fault, Fault) else None

    @classmethod
    def found_in(cls, text: str) -> "Fault | None":
        """The last fault noted in `text` (an error's traceback), or None."""
        for line in reversed(text.splitlines()):
            if line.startswith(NOTE):
                try:
                    return cls(**json.loads(line.removeprefix(NOTE)))
                except (TypeError, ValueError):
                    return None
        return None


# Credential answers that validation stores and the schemas read.
YES, NO = "yes", "no"
THINKING_SWITCHABLE, THINKING_ALWAYS = "switchable", "always"  # the `thinking` answer, besides "no"
CHAT, COMPLETION = "chat", "completion"  # the `mode` answer of an LLM
# Kept beside the answers by validation: the server family that described the model ("vLLM"),
# and what it detected ("context_size=32768, function_calling=yes"), see the LLM's detection.py.
SERVER_FAMILY, DETECTED = "server_family", "detected"


class ModelInfo(NamedTuple):
    """What a server says about one of its models (models/server/families/), in this plugin's
    words; None where it does not say."""

    model_type: str | None = None  # the Dify model type, where the server names one
    serves: frozenset[str] = frozenset()  # the Dify model types the description allows
    described: str = ""  # the server's own words for the model's type, for messages
    context_size: int | None = None  # tokens the model takes in
    images: bool | None = None  # it takes images
    mode: str | None = None  # CHAT or COMPLETION
    tools: bool | None = None  # it calls tools
    thinking: str | None = None  # THINKING_SWITCHABLE, THINKING_ALWAYS or NO
    extra_inputs: tuple[str, ...] | None = None  # inputs besides text and images: audio, video
    structured_output: bool | None = None  # it follows a JSON schema
    audio_part: str | None = None  # "input_audio": audio goes as OpenAI's input_audio part
    max_output: int | None = None  # tokens an answer may hold
    family: str | None = None  # the server family whose description this is (its NAME)


def article(model_type: str) -> str:
    """The type with its article: "an llm", "a rerank"."""
    return f"{'an' if model_type[:1] in 'aeiou' or model_type == 'llm' else 'a'} {model_type}"
