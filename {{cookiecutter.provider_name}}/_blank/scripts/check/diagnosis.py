"""Why a check failed, for a plugin whose model code is still being written.

A method that raises NotImplementedError is reported as `todo`, with the file and line to fill
in; once written, a failure says what the plugin reported. Give your errors' messages the server,
the status and the rule that failed: the table shows them as they are.
"""

from scripts.check.arguments import Settings
from scripts.check.failure import Failure, first_words, last_words, loopback_note

# Kinds of failure after which checking models of the same server is pointless: none of those named here.
BLOCKING: tuple[str, ...] = ()


class Diagnosis:
    """Explains the failures of one run of the check."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def shown(self, message: str) -> str:
        return message

    def models_hint(self) -> str:
        return "the model UIDs your server runs"

    def api_at(self) -> str | None:
        return None  # where your code sends its requests is for it to say

    def closing_note(self) -> str | None:
        return loopback_note(self.settings.server_url)

    def explain(
        self, failure: Failure, model_type: str | None, uid: str, validating: bool, seconds: float
    ) -> tuple[str, str]:
        """(kind, fix line) for a failed check."""
        return first_words(failure, self.settings) or last_words(failure)
