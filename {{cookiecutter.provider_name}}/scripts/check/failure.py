"""A check that failed, as the SDK reports the plugin's error over stdio: its type, message and
traceback; and what every kind of plugin says about it the same way."""

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scripts.check.arguments import Settings
from scripts.check.plugin import ROOT

LOOPBACK = ("localhost", "127.", "::1", "0.0.0.0")


@dataclass
class Failure:
    error_type: str
    message: str
    traceback: str = ""

    @property
    def not_implemented(self) -> bool:
        return self.error_type == "NotImplementedError" or "NotImplementedError" in self.traceback

    def stub(self) -> str:
        """Where the unfinished method is: its name, file and line, from the frames of the plugin's traceback."""
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', self.traceback)
        ours = [
            (path, line, name) for path, line, name in frames if Path(path).resolve().is_relative_to(ROOT)
        ]
        if not ours:
            return "the method named in the error above"
        path, line, name = ours[-1]
        return f"{name} in {Path(path).resolve().relative_to(ROOT)} (line {line})"


class CheckFailed(Exception):
    def __init__(self, error_type: str, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.failure = Failure(error_type, message, traceback)


def first_words(failure: Failure, settings: Settings) -> tuple[str, str] | None:
    """(kind, fix line) for the failures any plugin has: a method still to write, no answer at all."""
    if failure.not_implemented:
        return "todo", f"fill in {failure.stub()}"
    if failure.error_type == "PluginSilent":
        return "slow", (
            f"no answer within {settings.deadline:g} s: the server accepted the connection but did not answer in time "
            "(model still loading, or too slow); try again, or raise --timeout"
        )
    return None


def last_words(failure: Failure) -> tuple[str, str]:
    """(kind, fix line) for a failure nothing else explains."""
    if failure.error_type == "CredentialsValidateFailedError":
        return "other", "the plugin refused these credentials: read its message above"
    return "other", f"the plugin reported {failure.error_type}: read its message above"


def loopback_note(server_url: str) -> str | None:
    """What to know when `server_url` is a loopback address: the plugin in Dify cannot reach it."""
    host = urlsplit(server_url).hostname or ""
    if not host.startswith(LOOPBACK):
        return None
    return (
        f"note: {host} works from here, but the plugin installed in Dify runs inside the plugin "
        f"daemon's container, where {host} is that container: give Dify an address it can reach."
    )
