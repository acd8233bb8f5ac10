"""The check's table: each check run in turn, one row printed as it completes, then the summary."""

import os
import time
from dataclasses import dataclass
from typing import Any, TextIO

from scripts.check.arguments import Redactor, Settings, redact_url
from scripts.check.calls import CALLS, Call, validate
from scripts.check.diagnosis import BLOCKING, Diagnosis
from scripts.check.failure import CheckFailed, Failure
from scripts.check.form import Form
from scripts.check.plugin import PROVIDER, PluginProcess, PluginSilent

DETAIL_WIDTH = 90


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


class Checker:
    """Runs the checks one by one, printing each row as it completes."""

    def __init__(self, settings: Settings, form: Form, out: TextIO) -> None:
        self.settings, self.form, self.out = settings, form, out
        self.redact = Redactor(settings)
        self.diagnosis = Diagnosis(settings)
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
        api_at = self.diagnosis.api_at()
        if api_at:
            self.say(api_at)
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
            self.say(f"\nNo model given: add {types} ({self.diagnosis.models_hint()}).")

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
        kind, fix = self.diagnosis.explain(failure, model_type, model_uid, name == "credentials", seconds)
        message = self.diagnosis.shown(failure.message)
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
        note = self.diagnosis.closing_note() if not failed else None
        if note:
            self.say(f"\n{note}")
        self.say(f"\n{', '.join(parts)}: {'FAILED' if failed else 'all passed'}")
        return 1 if failed else 0

    def say(self, text: str) -> None:
        print(self.redact(text), file=self.out, flush=True)
