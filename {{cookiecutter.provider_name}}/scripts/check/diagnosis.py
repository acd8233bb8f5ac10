"""Why a check failed against an OpenAI-style server, and the fix line that says so.

The plugin's errors carry their fault as data (models/server/vocabulary.py): the HTTP status,
the form field it refuses, the model's real type. Where that is not enough, the check looks at
the server itself (server.py): can it be reached, what does it list, what is a model's type.
"""

from models.server.families import openai
from models.server.vocabulary import FIELD, REFUSED_KEY, TIMEOUT, WRONG_TYPE, Fault, article
from scripts.check.arguments import KEY_ENV, Settings
from scripts.check.failure import Failure, first_words, last_words, loopback_note
from scripts.check.server import Server

# Kinds of failure after which checking models of the same server is pointless.
BLOCKING = ("unreachable", "auth", "field")
# Where each credential comes from on the command line, for fix lines.
FLAGS = {"server_url": "--server-url", "api_key": f"${KEY_ENV}", "request_timeout": "--timeout"}


class Diagnosis:
    """Explains the failures of one run of the check."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = Server(settings)

    def shown(self, message: str) -> str:
        """The plugin's message as the table shows it: without the server's address, which the header names."""
        return message.replace(self.server.root, "")

    def models_hint(self) -> str:
        """What to check, for a run given no model."""
        return self.server.runs()

    def api_at(self) -> str | None:
        """Where the plugin sends its requests, and why there, for the header."""
        return f"API at: {self.server.base} ({self.server.base_rule})"

    def closing_note(self) -> str | None:
        return loopback_note(self.settings.server_url)

    def explain(
        self, failure: Failure, model_type: str | None, uid: str, validating: bool, seconds: float
    ) -> tuple[str, str]:
        """(kind, fix line) for a failed check."""
        settings, server = self.settings, self.server
        known = first_words(failure, settings)
        fault = Fault.found_in(failure.traceback)
        if known and known[0] == "todo":
            return known
        if fault and fault.kind == FIELD and fault.field:
            flag = FLAGS.get(fault.field, f"--set {fault.field}=...")
            return "field", f"the plugin refuses {fault.field} ({flag}): {fault.rule}"
        if known:  # no answer from the plugin in time
            unreachable = server.unreachable()
            return ("unreachable", unreachable) if unreachable else known
        status = fault.status if fault else None
        if status is None or failure.error_type == "InvokeConnectionError":
            unreachable = server.unreachable()
            if unreachable:
                return "unreachable", unreachable
        if status in (401, 403) or (fault and fault.kind == REFUSED_KEY):
            if not settings.api_key:
                return "auth", f"the server answered {status}: set the API key (${KEY_ENV} or --api-key-file)"
            return (
                "auth",
                f"the server answered {status} to the API key from {settings.key_source}: check that key",
            )
        if status == 429:
            return (
                "busy",
                "the server answered 429 (too many requests): wait a moment and run the check again",
            )
        if validating or status in (400, 404, 405, 422):  # 405: a POST to a path that is no API route
            listed, _ = server.listing()
            if listed == 404:
                return "path", path_fix(server)
            running = server.running()
            if uid and running is not None and uid not in dict(running):
                return "uid", f"uid {uid!r} is not running; {server.runs()}"
            actual = (server.type_of(uid) if uid else None) or (
                fault.actual if fault and fault.kind == WRONG_TYPE else None
            )
            if actual and model_type and actual != model_type:
                hint = f"check it with --{actual} {uid}, or " if actual in settings.types else ""
                return (
                    "type",
                    f"uid {uid!r} is {article(actual)} model, not {model_type}: {hint}give {article(model_type)} model ({server.runs(model_type)})",
                )
        if status == 501 and model_type:
            return "type", (
                f"the server does not offer this call for {uid!r} (501): check that it is {article(model_type)} "
                "model (a server started for one kind of model refuses the others)"
            )
        if status is not None and status >= 500:
            # Servers that run several kinds of model (Xinference) answer 500 to a call of the wrong kind.
            suspect = (
                f"{uid!r} may not be {article(model_type or 'other')} model, or " if not validating else ""
            )
            return "server", f"the server failed ({status}): {suspect}the model crashed; its log says which"
        if seconds >= settings.timeout or (fault and fault.kind == TIMEOUT):
            return "slow", (
                f"the server accepted the connection but did not answer within {settings.timeout:g} s: "
                "try again (a model may still be loading), or raise --timeout"
            )
        listed, body = server.listing()
        if listed == 200 and body is None:
            return (
                "path",
                f"{server.base}/{openai.MODELS_PATH} answers, but not with JSON: is {server.where()} the model server's API, not a web page?",
            )
        return last_words(failure)


def path_fix(server: Server) -> str:
    """Where the API is, when the model list is not at the base URL: after /v1 under the path
    given, at the server's /v1, or at its root."""
    v1 = f"{server.root}{openai.API_PREFIX}"
    for candidate, fix in (
        (f"{server.base}{openai.API_PREFIX}", f"set server_url to {server.base}{openai.API_PREFIX}"),
        (v1, f"set server_url to {server.root}"),
        (server.root, "its routes are at the root: --set routes_at_root=yes"),
    ):
        if candidate != server.base and server.listing(candidate)[0] in (200, 401, 403):
            return f"{server.base} is not the API (404), {candidate} is: {fix}"
    return (
        f"{server.base}/{openai.MODELS_PATH} answered 404: server_url must be the address of the server's "
        f"OpenAI-style API, e.g. {v1} (a URL without a path gets {openai.API_PREFIX})"
    )
