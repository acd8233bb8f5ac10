"""Checks made while Dify saves credentials: is the server there, does it run the model, and as
the right type? Each family says what its servers tell (families/); this module asks them, in
the order families/__init__.py sets, all within request_timeout (a CPU server's first answer,
while it loads the model, takes what the person setting it up allows).
"""

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

from models.server import families, limits
from models.server.connection import Connection, refused
from models.server.errors import validation_failed
from models.server.families.openai import COMMON_TYPES, Ask, TypeCheck, type_checks
from models.server.transport import request, time_limit
from models.server.vocabulary import UNKNOWN_MODEL, WRONG_TYPE, Fault, ModelInfo, article

# Answers meaning "this server has no such endpoint", as opposed to a real error.
NO_SUCH_ENDPOINT = frozenset({404, 405, 501})


@contextmanager
def credential_check(credentials: Mapping[str, Any]) -> Iterator[Connection]:
    """The connection, for a credential check whose requests all end within request_timeout; any
    failure becomes CredentialsValidateFailedError.

    Settings that calls would keep within their ranges are refused here, so the person sees why.
    """
    try:
        conn = Connection.of(credentials)
        _check_range(credentials, "request_timeout", *limits.TIMEOUT_RANGE)
        _check_range(credentials, "max_retries", 0, limits.MAX_RETRIES, whole=True)
        _check_range(credentials, "answer_seconds", 1, limits.STREAM_LIMIT)  # the LLM's, if given
        message = (
            f"{conn.base_url} did not pass the credential check within request_timeout = {conn.timeout:g} s"
        )
        with time_limit(conn.timeout, message):
            yield conn
    except InvokeError as error:
        raise validation_failed(error) from None


def _check_range(
    credentials: Mapping[str, Any], name: str, low: float, high: float, whole: bool = False
) -> None:
    value = str(credentials.get(name) or "").strip()
    try:
        number = float(value) if value else low
    except ValueError:
        number = math.nan
    if not low <= number <= high or (whole and not number.is_integer()):
        kind = "a whole number" if whole else "a number of seconds"
        raise refused(name, f"must be {kind} from {low:g} to {high:g}")


def probe(conn: Connection, ask: Ask | str, absent: frozenset[int] = NO_SUCH_ENDPOINT) -> Any:
    """GET (or POST, as `ask` says) within request_timeout; the JSON answered, or None if the
    status is one of `absent` (the server has no such endpoint) or the answer is not JSON.

    Other error answers raise, e.g. Xinference's 400 for a uid it does not run.
    """
    ask = ask if isinstance(ask, Ask) else Ask("GET", ask)
    body = {} if ask.json is None else {"json": ask.json}
    answer = request(conn, ask.method, ask.path, allowed=absent, **body)
    return None if answer.status in absent else answer.json()


def model_ids(conn: Connection) -> list[str] | None:
    """The ids of the server's model list, or None if it does not list its models."""
    return families.GENERIC.read_ids(probe(conn, families.GENERIC.MODELS_PATH))


def describe(conn: Connection, uid: str, asked: tuple[Any, ...]) -> ModelInfo | None:
    """What the first of the `asked` families that recognises the server says about `uid`
    (families.first_description); a request several families make (the model list) is made once."""
    answered: dict[str, Any] = {}

    def answer(ask: Ask, absent: frozenset[int]) -> Any:
        key = f"{ask.method} {ask.path} {json.dumps(ask.json, sort_keys=True)}"
        if key not in answered:
            answered[key] = probe(conn, ask, absent)
        return answered[key]

    return families.first_description(uid, asked, answer)


def described_features(conn: Connection, uid: str) -> ModelInfo | None:
    """What a server that does not describe its models' types says about what `uid` can do."""
    return describe(conn, uid, families.DESCRIBE_FEATURES)


def validate_model(
    conn: Connection, credentials: Mapping[str, Any], uid: str, model_type: str
) -> ModelInfo | None:
    """Check, with cheap real requests, that the server runs `uid` as `model_type`.

    Where the server describes its models (families.DESCRIBE_MODEL), its description decides;
    elsewhere one small real request of that type does (see check_type). Returns the server's
    description when it gives one. Raises CredentialsValidateFailedError with a message a person
    can act on. Callers run it inside `credential_check`, which bounds it in time.
    """
    info = describe(conn, uid, families.DESCRIBE_MODEL)
    if info is None:
        ids = model_ids(conn)
        if ids is not None and uid not in ids:
            listed = ", ".join(ids[:10]) or "none"
            message = f"{conn.base_url} does not run a model called {uid!r} (it runs: {listed})"
            raise Fault(UNKNOWN_MODEL).on(CredentialsValidateFailedError(message))
        check_type(conn, credentials, uid, model_type)
        return None
    if model_type not in info.serves:
        actual = info.model_type or "unknown"
        message = (
            f"{uid!r} on {conn.base_url} is {article(actual)} model (the server describes it as "
            f"{info.described}), not {article(model_type)} model"
        )
        raise Fault(WRONG_TYPE, actual=actual).on(CredentialsValidateFailedError(message))
    return info


def check_type(conn: Connection, credentials: Mapping[str, Any], uid: str, model_type: str) -> None:
    """Make one small request of `model_type` to `uid`; raise CredentialsValidateFailedError if it fails.

    On failure, the same small request for the other common types says what the model is instead,
    so the message can name it. Auth and connection failures are reported as they are.
    """
    checks = type_checks(credentials, uid)
    if model_type not in checks:
        return
    failure = _try(conn, checks[model_type])
    if failure is None:
        return
    if isinstance(failure, (InvokeAuthorizationError, InvokeConnectionError, InvokeRateLimitError)):
        raise validation_failed(failure)
    for other in COMMON_TYPES:
        if other != model_type and _try(conn, checks[other]) is None:
            message = (
                f"{uid!r} on {conn.base_url} is {article(other)} model, not {article(model_type)} model: "
                f"it answers {checks[other].what} but not {checks[model_type].what} ({failure})"
            )
            raise Fault(WRONG_TYPE, actual=other).on(CredentialsValidateFailedError(message))
    message = (
        f"{uid!r} on {conn.base_url} did not answer {checks[model_type].what} as "
        f"{article(model_type)} model would: {failure}"
    )
    raise validation_failed(failure, message)


def _try(conn: Connection, check: TypeCheck) -> InvokeError | None:
    """None if the server answered `check` with that type's answer, else the error to report."""
    try:
        answer = request(conn, "POST", check.path, **check.request)
    except InvokeError as error:
        return error
    if not check.answered(answer):
        return InvokeServerUnavailableError(
            f"POST {answer.url} answered {answer.status} with something else: {answer.text[:120]!r}"
        )
    return None
