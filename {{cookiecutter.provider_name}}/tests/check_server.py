{% set plan = cookiecutter | plan %}
"""Check this plugin against your own model server, exactly as Dify will run it.

    read -rsp "API key: " MODEL_SERVER_API_KEY && export MODEL_SERVER_API_KEY  # if the server needs one
    python tests/check_server.py --server-url http://192.168.1.10:9997 --llm my-chat-model

It starts the plugin as Dify's plugin daemon does (`python -m main`, requests over stdio),
then for each model given validates its credentials and makes one small real call of its type.
It prints one row per check (ok, FAIL or todo, the time taken) and, under each failure, a
`fix:` line. Exit status: 0 when everything passed, 1 when anything failed, 2 for bad arguments.

The credentials are those of Dify's form: `--server-url` (or MODEL_SERVER_URL), the API key
from MODEL_SERVER_API_KEY or `--api-key-file` (never from the command line, where it would stay
in the shell history), any other form field with `--set FIELD=VALUE`, or all of them in a JSON
file (`--credentials`). The key is never printed. Every call ends within `--timeout` seconds
(default 60, as in the form) plus 5 s; failed connections are retried only if max_retries is
set. Nothing but the server named is contacted.
"""

import argparse
import base64
{% if plan.has("speech2text") %}
import io
{% endif %}
import json
import math
import os
import re
import socket
{% if plan.has("speech2text") %}
import struct
{% endif %}
import sys
import threading
import time
import urllib.error
import urllib.request
{% if plan.has("speech2text") %}
import wave
{% endif %}
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote, urlsplit

import yaml
from stdio_plugin import PROVIDER, ROOT, PluginProcess, PluginSilent

KEY_ENV = "MODEL_SERVER_API_KEY"
URL_ENV = "MODEL_SERVER_URL"
DEFAULT_TIMEOUT = 60.0  # the request_timeout default of the Dify form
BOUNDS = ("request_timeout", "max_retries")  # credentials that bound a call, in every form of this plugin
PLUGIN_MARGIN = 5.0  # seconds the plugin itself may add to a call's request timeout
PROBE_TIMEOUT = 5.0  # this script's own look at the server when explaining a failure
DETAIL_WIDTH = 90
USAGE = 2  # exit status for bad arguments, as argparse uses


class UsageError(Exception):
    """A bad argument: str() is the one line shown."""


# -- what the plugin declares -----------------------------------------------------------------


@dataclass
class Form:
    """The plugin's model types and credential forms, read from its provider YAML."""

    types: list[str]
    provider_fields: list[dict[str, Any]]
    model_fields: list[dict[str, Any]]

    @classmethod
    def load(cls, root: Path = ROOT) -> "Form":
        text = (root / "provider" / f"{PROVIDER}.yaml").read_text(encoding="utf-8")
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster

        def fields(schema: str) -> list[dict[str, Any]]:
            return list(((data.get(schema) or {}).get("credential_form_schemas")) or [])

        return cls(
            list(data.get("supported_model_types") or []),
            fields("provider_credential_schema"),
            fields("model_credential_schema"),
        )

    @property
    def names(self) -> set[str]:
        return {f["variable"] for f in self.provider_fields + self.model_fields} | set(BOUNDS)

    def credentials(
        self, given: dict[str, str], model_type: str | None = None, uid: str = ""
    ) -> dict[str, str]:
        """What Dify's form would send: the defaults of the fields shown, then what was given.

        The timeout and retries always go along, also where the form has no such field: the
        plugin reads them from any credentials, so every call of the check stays bounded.
        """
        fields = self.provider_fields if model_type is None else (self.model_fields or self.provider_fields)
        names = {f["variable"] for f in fields} | set(BOUNDS)
        values = {k: v for k, v in given.items() if k in names}
        if model_type is not None and "model_uid" in names:
            values["model_uid"] = uid
        context = {"__model_type": model_type or "", **values}
        for f in fields:
            shown = all(context.get(c.get("variable")) == c.get("value") for c in f.get("show_on") or [])
            if shown and f.get("default") is not None and f["variable"] not in values:
                values[f["variable"]] = str(f["default"])
        return values


# -- arguments ------------------------------------------------------------------------------------


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
        prog="python tests/check_server.py",
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
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


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
    """Replaces every secret (API key, URL password) in text that is about to be printed."""

    def __init__(self, settings: Settings) -> None:
        password = urlsplit(settings.server_url).password
        self.secrets = sorted(
            {s for s in (settings.api_key, password) if s and len(s) >= 4}, key=len, reverse=True
        )

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


# -- the server, as this script sees it when explaining a failure ---------------------------------


LOOPBACK = ("localhost", "127.", "::1", "0.0.0.0")


def in_container() -> bool:
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


class Server:
    """Quick looks at the server (bounded by PROBE_TIMEOUT) that explain why a check failed."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.server_url
        parts = urlsplit(self.url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.root = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"  # without user:password
        path = parts.path.rstrip("/").removesuffix("/v1")
        self.base = f"{self.root}{path}/v1"  # where the plugin sends its requests
        self.headers = {}
        if settings.api_key:
            self.headers["Authorization"] = f"Bearer {settings.api_key}"
        elif parts.username is not None:
            user = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.headers["Authorization"] = f"Basic {base64.b64encode(user).decode()}"
        self._reach: list[str | None] = []
        self._listing: dict[str, tuple[int | None, Any]] = {}
        self._running: list[tuple[str, str | None]] | None = None

    @cached_property
    def opener(self) -> urllib.request.OpenerDirector:
        """Made when first needed: it loads the CA bundle (about 50 ms), and a check that passes never probes."""
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def loopback(self) -> bool:
        return self.host.lower().startswith(LOOPBACK)

    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def unreachable(self) -> str | None:
        """None if a TCP connection to the server opens, else the fix line saying why not."""
        if not self._reach:
            self._reach.append(self._connect())
        return self._reach[0]

    def _connect(self) -> str | None:
        addresses: list[Any] = []
        lookup = threading.Thread(target=lambda: addresses.append(self._resolve()), daemon=True)
        lookup.start()
        lookup.join(PROBE_TIMEOUT)
        if not addresses:
            return f"the name {self.host!r} did not resolve within {PROBE_TIMEOUT:g} s: use the server's IP address"
        if isinstance(addresses[0], OSError):
            return f"the name {self.host!r} does not resolve here: check its spelling, or use the server's IP address"
        try:
            with socket.create_connection((self.host, self.port), timeout=PROBE_TIMEOUT):
                return None
        except ConnectionRefusedError:
            return f"nothing listens on {self.where()}: start the server or correct the port{self.localhost_hint()}"
        except TimeoutError:
            return (
                f"{self.where()} does not answer (no connection within {PROBE_TIMEOUT:g} s): "
                "check the address, and that no firewall blocks the port"
            )
        except OSError as error:
            return (
                f"cannot reach {self.where()} ({error.strerror or error}): check the address and the network"
            )

    def _resolve(self) -> Any:
        try:
            return socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except OSError as error:
            return error

    def localhost_hint(self) -> str:
        if not self.loopback:
            return ""
        if in_container():
            return (
                f"; this check runs in a container, where {self.host} is the container itself: "
                "use the address of the machine running the server (its LAN IP, or host.docker.internal)"
            )
        return f"; if the server runs in a container or on another machine, {self.host} is the wrong address: use that machine's IP"

    def get(self, url: str) -> tuple[int | None, Any]:
        """(status, JSON body or None); status None if the request got no answer at all."""
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with self.opener.open(request, timeout=PROBE_TIMEOUT) as response:
                status, raw = response.status, response.read(1_000_000)
        except urllib.error.HTTPError as error:
            status, raw = error.code, b""
        except (OSError, ValueError):
            return None, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None

    def listing(self, base: str | None = None) -> tuple[int | None, Any]:
        base = base or self.base
        if base not in self._listing:
            self._listing[base] = self.get(f"{base}/models")
        return self._listing[base]

    def running(self) -> list[tuple[str, str | None]] | None:
        """The models the server lists (uid, Dify model type or None), or None if it lists none.

        Types come from the listing or, within PROBE_TIMEOUT overall, from asking about each model.
        """
        if self._running is None:
            status, body = self.listing()
            data = body.get("data") if status == 200 and isinstance(body, dict) else None
            if not isinstance(data, list):
                return None
            until = time.monotonic() + PROBE_TIMEOUT
            self._running = []
            for item in (i for i in data if isinstance(i, dict)):
                uid = str(item.get("id"))
                kind = dify_type(item) or (self.describe(uid) if time.monotonic() < until else None)
                self._running.append((uid, kind))
        return self._running

    def describe(self, uid: str) -> str | None:
        """The Dify model type the server says `uid` has (Xinference describes each model)."""
        status, body = self.get(f"{self.base}/models/{quote(uid, safe='')}")
        return dify_type(body) if status == 200 and isinstance(body, dict) else None

    def type_of(self, uid: str) -> str | None:
        return dict(self.running() or []).get(uid) or self.describe(uid)

    def runs(self, want: str | None = None) -> str:
        """The running models as a short list; only those of type `want` if the server says."""
        models = self.running() or []
        if want and any(kind for _, kind in models):  # a server that does not say types: list them all
            models = [m for m in models if m[1] == want]
            if not models:
                return f"the server runs no {want} model"
        shown = [f"{uid} ({kind})" if kind and not want else uid for uid, kind in models[:8]]
        more = f" and {len(models) - 8} more" if len(models) > 8 else ""
        return "the server runs: " + ((", ".join(shown) + more) if shown else "no models")


def dify_type(info: dict[str, Any]) -> str | None:
    """Xinference's model_type/model_ability as a Dify model type.

    models/common.py has its own for the plugin's chosen types; this one names any type (a model
    of a type the plugin lacks included), and this script never imports the plugin's code, which
    would load the SDK and its gevent patching into the process that drives the plugin.
    """
    kind = str(info.get("model_type") or "").lower()
    abilities = {str(a).lower() for a in info.get("model_ability") or []}
    if kind == "audio":
        if abilities & {"audio2text", "audio_to_text"}:
            return "speech2text"
        return "tts" if abilities & {"text2audio", "text_to_audio"} else "audio"
    return {"embedding": "text-embedding"}.get(kind, kind or None)


# -- explaining a failure -------------------------------------------------------------------------


@dataclass
class Failure:
    error_type: str
    message: str
    traceback: str = ""

    @property
    def not_implemented(self) -> bool:
        return self.error_type == "NotImplementedError" or "NotImplementedError" in self.traceback

    def stub(self) -> str:
        """Where the unfinished method is: its name, file and line, from the plugin's traceback."""
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', self.traceback)
        ours = [
            (path, line, name) for path, line, name in frames if Path(path).resolve().is_relative_to(ROOT)
        ]
        if not ours:
            return "the method named in the error above"
        path, line, name = ours[-1]
        return f"{name} in {Path(path).resolve().relative_to(ROOT)} (line {line})"

    def actual_type(self) -> str | None:
        """The model type the plugin says the model has ("... is an embedding model ..., not ...")."""
        found = re.search(r"\bis an? ([\w-]+) model\b.*\bnot an? [\w-]+ model\b", self.message, re.I)
        return dify_type({"model_type": found.group(1)}) if found else None

    def status(self, uid: str) -> int | None:
        """The HTTP status the plugin's message reports, if any (URLs, the uid and durations left out)."""
        text = re.sub(r"\S+://\S+", " ", self.message)
        text = text.replace(uid, " ") if uid else text
        text = re.sub(r"\b\d+(\.\d+)? ?s\b", " ", text)
        found = re.search(r"\b([45]\d\d)\b", text)
        return int(found.group(1)) if found else None


# Kinds of failure after which checking models of the same server is pointless.
BLOCKING = ("unreachable", "auth", "field")
# Where each credential comes from on the command line, for fix lines.
FLAGS = {"server_url": "--server-url", "api_key": f"${KEY_ENV}", "request_timeout": "--timeout"}


def explain(
    failure: Failure,
    server: Server,
    settings: Settings,
    model_type: str | None,
    uid: str,
    validating: bool,
    seconds: float,
) -> tuple[str, str]:
    """(kind, fix line) for a failed check."""
    if failure.not_implemented:
        return "todo", f"fill in {failure.stub()}"
    refused = re.match(rf"({'|'.join(map(re.escape, sorted(settings.fields)))}) (.+)", failure.message)
    if refused:  # the plugin names the form field it refuses, e.g. "request_timeout must be ..."
        field, rule = refused.groups()
        return "field", f"the plugin refuses {field} ({FLAGS.get(field, f'--set {field}=...')}): {rule}"
    if failure.error_type == "PluginSilent":
        unreachable = server.unreachable()
        if unreachable:
            return "unreachable", unreachable
        return "slow", (
            f"no answer within {settings.deadline:g} s: the server accepted the connection but did not answer in time "
            "(model still loading, or too slow); try again, or raise --timeout"
        )
    status = failure.status(uid)
    if status is None or failure.error_type == "InvokeConnectionError":
        unreachable = server.unreachable()
        if unreachable:
            return "unreachable", unreachable
    if status in (401, 403):
        if not settings.api_key:
            return "auth", f"the server answered {status}: set the API key (${KEY_ENV} or --api-key-file)"
        return (
            "auth",
            f"the server answered {status} to the API key from {settings.key_source}: check that key",
        )
    if status == 429:
        return "busy", "the server answered 429 (too many requests): wait a moment and run the check again"
    if validating or status in (400, 404, 405, 422):  # 405: a POST to a path that is no API route
        listed, _ = server.listing()
        if listed == 404:
            return "path", path_fix(server)
        running = server.running()
        if uid and running is not None and uid not in dict(running):
            return "uid", f"uid {uid!r} is not running; {server.runs()}"
        actual = (server.type_of(uid) if uid else None) or failure.actual_type()
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
        suspect = f"{uid!r} may not be {article(model_type)} model, or " if not validating else ""
        return "server", f"the server failed ({status}): {suspect}the model crashed; its log says which"
    if seconds >= settings.timeout or re.search(r"time(d ?)?out", failure.message, re.I):
        return "slow", (
            f"the server accepted the connection but did not answer within {settings.timeout:g} s: "
            "try again (a model may still be loading), or raise --timeout"
        )
    listed, body = server.listing()
    if listed == 200 and body is None:
        return (
            "path",
            f"{server.base}/models answers, but not with JSON: is {server.where()} the model server's API, not a web page?",
        )
    if failure.error_type == "CredentialsValidateFailedError":
        return "other", "the plugin refused these credentials: read its message above"
    return "other", f"the plugin reported {failure.error_type}: read its message above"


def article(model_type: str) -> str:
    return f"an {model_type}" if model_type[:1] in "aeiou" or model_type == "llm" else f"a {model_type}"


def path_fix(server: Server) -> str:
    if server.base != f"{server.root}/v1":
        status, _ = server.listing(f"{server.root}/v1")
        if status in (200, 401, 403):
            return f"{server.base} is not the API (404), {server.root}/v1 is: set server_url to {server.root}"
    return f"{server.base}/models answered 404: server_url must be the address of the server's OpenAI-style API (the part before /v1)"


# -- the checks -----------------------------------------------------------------------------------


@dataclass
class Row:
    status: str  # ok, FAIL, todo
    model_type: str
    model: str
    check: str
    seconds: float
    detail: str
    fix: str = ""
    kind: str = ""


class CheckFailed(Exception):
    def __init__(self, error_type: str, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.failure = Failure(error_type, message, traceback)


def send(plugin: PluginProcess, action: str, deadline: float, **data: Any) -> list[Any]:
    """One request as Dify sends it: the results streamed back, or CheckFailed with the plugin's error."""
    results, error = plugin.call(action, deadline=deadline, **data)
    if error is not None:
        args = error.get("args") if isinstance(error.get("args"), dict) else {}
        raise CheckFailed(
            str(error.get("error_type") or "Error"),
            str(error.get("message") or ""),
            str(args.get("traceback") or ""),
        )
    return results


def validate(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    """Validate credentials as Dify does when they are saved: the provider's, or one model's."""
    action = "validate_model_credentials" if "model_type" in model else "validate_provider_credentials"
    results = send(plugin, action, deadline, **model)
    if not results or results[0].get("result") is not True:
        raise CheckFailed(
            "CredentialsValidateFailedError", f"the plugin did not accept the credentials: {results!r:.100}"
        )
    stored = results[0].get("credentials") or {}
    given = model["credentials"]
    learned = [f"{k}={v}" for k, v in stored.items() if k != "api_key" and given.get(k) != v]
    return ("accepted; learned " + ", ".join(learned)) if learned else "accepted", results


def quoted(text: str, limit: int = 40) -> str:
    text = " ".join(str(text).split())
    return json.dumps(text[:limit] + ("..." if len(text) > limit else ""), ensure_ascii=False)


# A check: (plugin, the model's request fields, deadline) -> (what came back, in words; the results).
Call = Callable[[PluginProcess, dict[str, Any], float], tuple[str, list[Any]]]
{% if plan.has("llm") %}


PROMPT = "Reply with one short sentence."


def llm_chat(stream: bool) -> Call:
    def call(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
        results = send(
            plugin,
            "invoke_llm",
            deadline,
            **model,
            prompt_messages=[{"role": "user", "content": PROMPT}],
            model_parameters={"max_tokens": 16},
            stop=None,
            tools=None,
            stream=stream,
        )
        text = "".join(str(r["delta"]["message"].get("content") or "") for r in results)
        usage = (results[-1]["delta"].get("usage") or {}) if results else {}
        tokens = f", {usage['total_tokens']} tokens" if usage.get("total_tokens") else ""
        chunks = f"{len(results)} chunks" if stream else "1 answer"
        return f"{quoted(text) if text.strip() else 'an empty answer'} ({chunks}{tokens})", results

    return call
{% endif %}
{% if plan.has("text-embedding") %}


def embed(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    texts = ["Dify checks this server."]
    results = send(plugin, "invoke_text_embedding", deadline, **model, texts=texts, input_type="document")
    vectors = results[0]["embeddings"] if results else []
    if not vectors or not vectors[0]:
        raise CheckFailed("InvokeServerUnavailableError", "the plugin returned no vector")
    return f"1 vector of {len(vectors[0])} numbers", results
{% endif %}
{% if plan.has("rerank") %}


def rerank(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    query, docs = "What does this check do?", ["It checks a model server for Dify."]
    results = send(
        plugin, "invoke_rerank", deadline, **model, query=query, docs=docs, score_threshold=None, top_n=None
    )
    scored = results[0]["docs"] if results else []
    if not scored:
        raise CheckFailed("InvokeServerUnavailableError", "the plugin returned no scored document")
    return f"1 document scored {float(scored[0]['score']):.4f}", results
{% endif %}
{% if plan.has("speech2text") %}


def tone_wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A short 440 Hz tone as a WAV file, made here: no sample file needed."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def transcribe(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    audio = tone_wav().hex()  # Dify sends the audio hex-encoded
    results = send(plugin, "invoke_speech2text", deadline, **model, file=audio)
    text = str(results[0]["result"]) if results else ""
    return f"1 s of tone heard as {quoted(text) if text.strip() else 'silence'}", results
{% endif %}
{% if plan.has("tts") %}


def speak(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    voices = send(plugin, "get_tts_model_voices", deadline, **model, language=None)
    names = [v["value"] for v in (voices[0]["voices"] if voices else [])]
    voice = names[0] if names else ""
    text = "Hello from Dify."
    chunks = send(plugin, "invoke_tts", deadline, **model, content_text=text, voice=voice, tenant_id="check")
    size = sum(len(chunk["result"]) // 2 for chunk in chunks)
    if not size:
        raise CheckFailed("InvokeServerUnavailableError", "the plugin returned no audio")
    return f"{size} bytes of audio, voice {voice!r}", chunks
{% endif %}
{% if plan.has("moderation") %}


def moderate(plugin: PluginProcess, model: dict[str, Any], deadline: float) -> tuple[str, list[Any]]:
    results = send(plugin, "invoke_moderation", deadline, **model, text="Have a nice day.")
    return f"flagged: {'yes' if results and results[0]['result'] else 'no'}", results
{% endif %}


# The small real call(s) made for each model type once its credentials passed, as Dify makes them.
CALLS: dict[str, list[tuple[str, Call]]] = {
{% if plan.has("llm") %}
    "llm": [("chat, streamed", llm_chat(True)), ("chat, blocking", llm_chat(False))],
{% endif %}
{% if plan.has("text-embedding") %}
    "text-embedding": [("embedding", embed)],
{% endif %}
{% if plan.has("rerank") %}
    "rerank": [("rerank", rerank)],
{% endif %}
{% if plan.has("speech2text") %}
    "speech2text": [("transcription", transcribe)],
{% endif %}
{% if plan.has("tts") %}
    "tts": [("speech", speak)],
{% endif %}
{% if plan.has("moderation") %}
    "moderation": [("moderation", moderate)],
{% endif %}
}


class Checker:
    """Runs the checks one by one, printing each row as it completes."""

    def __init__(self, settings: Settings, form: Form, out: TextIO) -> None:
        self.settings, self.form, self.out = settings, form, out
        self.redact = Redactor(settings)
        self.server = Server(settings)
        self.rows: list[Row] = []
        self.widths = (
            max([len(t) for t, _ in settings.models] + [len("provider")]),
            max([len(u) for _, u in settings.models] + [len("model")]),
            max([len("credentials"), *(len(name) for steps in CALLS.values() for name, _ in steps)]),
        )
        color = out.isatty() and not os.environ.get("NO_COLOR")
        self.colors = {"ok": "\033[32m", "FAIL": "\033[31m", "todo": "\033[33m"} if color else {}

    def run(self, plugin: PluginProcess | None = None) -> int:
        """Print the table; return the exit status. `plugin`: one already running (the tests share one)."""
        s = self.settings
        self.say(
            f"Checking the {PROVIDER} plugin against {redact_url(s.server_url)} as Dify runs it (python -m main, stdio)"
        )
        key = "none" if not s.api_key else f"from {s.key_source} (not shown)"
        self.say(f"API key: {key}; each call ends within {s.deadline:g} s\n")
        if plugin is not None:
            self.check_all(plugin)
            return self.finish()
        started = time.monotonic()
        try:
            plugin = PluginProcess()
        except (PluginSilent, OSError, ValueError) as error:
            lines = [line for line in getattr(error, "output", "").splitlines() if line.strip()]
            self.add(
                "FAIL",
                "plugin",
                "-",
                "start",
                started,
                f"{error}: {lines[-1] if lines else 'no output'}",
                "python -m main does not start: run it to see why (missing packages? pip install -r requirements.txt)",
                "start",
            )
            return self.finish()
        try:
            self.check_all(plugin)
        finally:
            plugin.stop()
        return self.finish()

    def check_all(self, plugin: PluginProcess) -> None:
        s = self.settings
        provider = {"credentials": self.form.credentials(s.given)}
        kind = self.step(plugin, None, "-", "credentials", validate, provider)
        if kind in BLOCKING:
            if s.models:
                self.say(
                    f"\nModels not checked: the server must pass the provider check first ({len(s.models)} given)."
                )
            return
        for model_type, uid in s.models:
            creds = self.form.credentials(s.given, model_type, uid)
            model = {"model_type": model_type, "model": uid, "credentials": creds}
            stored: list[Any] = []
            kind = self.step(plugin, model_type, uid, "credentials", validate, model, stored)
            if kind not in ("", "todo"):
                continue  # Dify would not save this model
            if stored and isinstance(stored[0].get("credentials"), dict):  # what Dify keeps
                model["credentials"] = {k: str(v) for k, v in stored[0]["credentials"].items()}
            for name, call in CALLS.get(model_type, []):
                self.step(plugin, model_type, uid, name, call, model)
        if not s.models:
            types = " ".join(f"--{t} UID" for t in self.form.types)
            self.say(f"\nNo model given: add {types} ({self.server.runs()}).")

    def step(
        self,
        plugin: PluginProcess,
        model_type: str | None,
        uid: str,
        name: str,
        call: Call,
        model: dict[str, Any],
        keep: list[Any] | None = None,
    ) -> str:
        """Run one check and print its row; return the kind of failure, or "" if it passed."""
        started = time.monotonic()
        shown_type = model_type or "provider"
        try:
            detail, results = call(plugin, model, started + self.settings.deadline)
        except PluginSilent:
            failure = Failure(
                "PluginSilent", f"no answer from the plugin within {self.settings.deadline:g} s"
            )
        except CheckFailed as failed:
            failure = failed.failure
        except (KeyError, IndexError, TypeError, ValueError) as error:
            failure = Failure(
                "UnexpectedAnswer",
                f"the plugin's answer has an unexpected shape ({type(error).__name__}: {error})",
            )
        else:
            if keep is not None:
                keep.extend(results)
            self.add("ok", shown_type, uid, name, started, detail)
            return ""
        seconds = time.monotonic() - started
        model_uid = uid if model_type else ""  # the provider row has no model
        kind, fix = explain(
            failure, self.server, self.settings, model_type, model_uid, name == "credentials", seconds
        )
        message = failure.message.replace(self.server.root, "")  # the header names the server
        if failure.error_type != "CredentialsValidateFailedError" or not message:
            message = f"{failure.error_type}: {message}" if message else failure.error_type
        if kind == "todo":
            self.add("todo", shown_type, uid, name, started, "not implemented yet", fix, kind)
        else:
            self.add("FAIL", shown_type, uid, name, started, message, fix, kind)
        return kind

    def add(
        self,
        status: str,
        model_type: str,
        model: str,
        check: str,
        started: float,
        detail: str,
        fix: str = "",
        kind: str = "",
    ) -> None:
        row = Row(
            status,
            model_type,
            model,
            check,
            time.monotonic() - started,
            self.redact(detail),
            self.redact(fix),
            kind,
        )
        self.rows.append(row)
        if len(self.rows) == 1:
            self.say(self.line("RESULT", "TYPE", "MODEL", "CHECK", "TIME", "DETAIL"))
        detail = (
            row.detail
            if self.settings.verbose or len(row.detail) <= DETAIL_WIDTH
            else row.detail[: DETAIL_WIDTH - 3] + "..."
        )
        self.say(self.line(row.status, row.model_type, row.model, row.check, f"{row.seconds:.2f}s", detail))
        if row.fix:
            self.say(f"{'':8}fix: {row.fix}")

    def line(self, status: str, model_type: str, model: str, check: str, seconds: str, detail: str) -> str:
        t, m, c = self.widths
        color, reset = self.colors.get(status, ""), "\033[0m" if self.colors.get(status) else ""
        return f"{color}{status:<6}{reset}  {model_type:<{t}}  {model:<{m}}  {check:<{c}}  {seconds:>7}  {detail}".rstrip()

    def finish(self) -> int:
        counts = {status: sum(row.status == status for row in self.rows) for status in ("ok", "FAIL", "todo")}
        parts = [f"{counts['ok']} ok"]
        if counts["FAIL"]:
            parts.append(f"{counts['FAIL']} failed")
        if counts["todo"]:
            parts.append(f"{counts['todo']} not implemented yet")
        failed = counts["FAIL"] + counts["todo"]
        if not failed and self.server.loopback:
            self.say(
                f"\nnote: {self.server.host} works from here, but the plugin installed in Dify runs inside the plugin "
                f"daemon's container, where {self.server.host} is that container: give Dify an address it can reach."
            )
        self.say(f"\n{', '.join(parts)}: {'FAILED' if failed else 'all passed'}")
        return 1 if failed else 0

    def say(self, text: str) -> None:
        print(self.redact(text), file=self.out, flush=True)


def main(
    argv: Sequence[str] | None = None,
    environ: dict[str, str] | None = None,
    out: TextIO = sys.stdout,
    plugin: PluginProcess | None = None,
) -> int:
    """The command: arguments and environment in, table out, exit status back."""
    form = Form.load()
    try:
        settings = parse_settings(
            sys.argv[1:] if argv is None else argv, form, dict(os.environ if environ is None else environ)
        )
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE
    return Checker(settings, form, out).run(plugin)


if __name__ == "__main__":
    sys.exit(main())
