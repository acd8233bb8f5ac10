"""The check's command line and environment, read into `Settings`; a bad argument is a `UsageError`."""

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scripts.check.form import Form
from scripts.check.plugin import PROVIDER

KEY_ENV = "MODEL_SERVER_API_KEY"
URL_ENV = "MODEL_SERVER_URL"
DEFAULT_TIMEOUT = 60.0  # the request_timeout default of the Dify form
PLUGIN_MARGIN = 5.0  # seconds the plugin itself may add to a call's request timeout


class UsageError(Exception):
    """A bad argument: str() is the one line shown."""


@dataclass
class Settings:
    server_url: str
    given: dict[str, str]  # form fields, api_key included
    key_source: str
    models: list[tuple[str, str]]  # (model type, uid), in the order given
    timeout: float
    retries: int
    types: list[str]  # the plugin's model types
    fields: set[str]  # the fields of its credential forms
    verbose: bool = False

    @property
    def api_key(self) -> str:
        return self.given.get("api_key", "")

    @property
    def deadline(self) -> float:
        """Seconds one call may take, the plugin's retries and its own work included."""
        return self.timeout * (self.retries + 1) + PLUGIN_MARGIN


def parser(form: Form) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python scripts/check_server.py",
        allow_abbrev=False,  # else "--api-key KEY" would be taken as --api-key-file and the key echoed
        description=f"Check the {PROVIDER} plugin against a model server, as Dify runs it.",
        epilog=f"The API key comes from ${KEY_ENV}, --api-key-file or the credentials file, never from a flag.",
    )
    p.add_argument(
        "--server-url", "--url", help=f"the server's address, as in the Dify form (default: ${URL_ENV})"
    )
    for model_type in form.types:
        p.add_argument(
            f"--{model_type}",
            action="append",
            default=[],
            metavar="UID",
            help=f"a {model_type} model the server runs (repeat, or separate with commas)",
        )
    p.add_argument("--api-key-file", metavar="FILE", help="a file holding the API key (its first line)")
    p.add_argument(
        "--credentials",
        metavar="FILE",
        help='a JSON object of form fields, e.g. {"server_url": ..., "api_key": ...}',
    )
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="any other form field")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"request timeout of each call (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print whole error messages")
    return p


def parse_settings(argv: Sequence[str], form: Form, environ: dict[str, str]) -> Settings:
    """Read the arguments, files and environment; raise UsageError naming what is wrong."""
    args, unknown = parser(form).parse_known_args(argv)
    for token in unknown:
        name = token.split("=", 1)[0]
        if name in ("--api-key", "--key"):
            raise UsageError(
                f"{name}: the key would stay in your shell history; put it in ${KEY_ENV} or a file for --api-key-file"
            )
    if unknown:
        options = [t.split("=", 1)[0] for t in unknown if t.startswith("-")]
        shown = options[0] if options else "a value with no option before it"  # a value may be a secret
        models = ", ".join(f"--{t}" for t in form.types)
        raise UsageError(f"unknown argument {shown}; this plugin's model types are {models} (see --help)")

    given: dict[str, str] = {}
    key_source = "none"
    if args.credentials:
        given.update(read_credentials(args.credentials, form))
        key_source = f"{args.credentials}" if given.get("api_key") else key_source
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set {name}: expected FIELD=VALUE")
        if name == "api_key":
            raise UsageError(
                f"--set api_key: the key would stay in your shell history; put it in ${KEY_ENV} or a file for --api-key-file"
            )
        if name in form.secrets:
            raise UsageError(
                f"--set {name}: a secret would stay in your shell history; put it in the file for --credentials"
            )
        check_field(name, form, "--set")
        given[name] = value
    if environ.get(URL_ENV) and "server_url" not in given:
        given["server_url"] = environ[URL_ENV]
    if args.server_url:
        given["server_url"] = args.server_url
    if environ.get(KEY_ENV):
        given["api_key"], key_source = environ[KEY_ENV].strip(), f"${KEY_ENV}"
    if args.api_key_file:
        given["api_key"], key_source = read_key_file(args.api_key_file), args.api_key_file

    server_url = str(given.get("server_url") or "").strip()
    parts = urlsplit(server_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = redact_url(server_url) if server_url else "nothing"
        raise UsageError(
            f"--server-url: must be an http:// or https:// URL with a host (got {shown}); or set ${URL_ENV}"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise UsageError(f"--server-url: the port is not a number (got {redact_url(server_url)})") from None
    given["server_url"] = server_url

    timeout = (
        args.timeout if args.timeout is not None else number(given.get("request_timeout"), DEFAULT_TIMEOUT)
    )
    if not (math.isfinite(timeout) and 0 < timeout <= 3600):
        raise UsageError(f"--timeout: must be a number of seconds between 0 and 3600 (got {timeout:g})")
    given["request_timeout"] = f"{timeout:g}"
    retries = int(number(given.setdefault("max_retries", "0"), 0))

    models = []
    for model_type in form.types:
        for value in getattr(args, model_type.replace("-", "_")):
            models += [(model_type, uid.strip()) for uid in value.split(",") if uid.strip()]
    return Settings(
        server_url, given, key_source, models, timeout, max(0, retries), form.types, form.names, args.verbose
    )


def check_field(name: str, form: Form, origin: str) -> None:
    if name not in form.names:
        raise UsageError(
            f"{origin} {name}: not a field of this plugin's form (fields: {', '.join(sorted(form.names))})"
        )


def read_credentials(path: str, form: Form) -> dict[str, str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"--credentials {path}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise UsageError(
            f"--credentials {path}: not valid JSON ({type(error).__name__} at line {getattr(error, 'lineno', '?')})"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"--credentials {path}: must hold a JSON object of form fields")
    for name in data:
        check_field(str(name), form, f"--credentials {path}:")
    return {
        str(k): "" if v is None else json.dumps(v) if isinstance(v, dict | list) else str(v)
        for k, v in data.items()
    }


def read_key_file(path: str) -> str:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UsageError(f"--api-key-file {path}: cannot read it ({error.strerror})") from None
    key = lines[0].strip() if lines else ""
    if not key:
        raise UsageError(f"--api-key-file {path}: the first line is empty")
    return key


def number(value: object, default: float) -> float:
    try:
        return float(str(value).strip()) if value not in (None, "") else default
    except ValueError:
        return default


# -- never show a secret --------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


class Redactor:
    """Replaces every secret (API key, URL password, extra header values) in text that is about to be printed."""

    def __init__(self, settings: Settings) -> None:
        password = urlsplit(settings.server_url).password
        secrets = {settings.api_key, password, *header_values(settings.given.get("extra_headers"))}
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def extra_headers(answer: str | None) -> dict[str, str]:
    """The headers of an extra_headers answer (a JSON object of text values; the plugin checks it)."""
    try:
        given = json.loads(answer or "{}")
    except ValueError:
        return {}
    return {str(k): str(v).strip() for k, v in given.items()} if isinstance(given, dict) else {}


def header_values(answer: str | None) -> list[str]:
    """The values of an extra_headers answer, and the answer itself."""
    return [answer or "", *extra_headers(answer).values()]
