"""The check as a command: arguments and environment in, the table out, the exit status back.

Its parts, each in this folder: form.py (the credential forms), arguments.py, plugin.py (the plugin
over stdio, as Dify runs it), calls.py (what is checked), diagnosis.py (why a check failed),
report.py (the table).
"""

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from scripts.check.arguments import UsageError, parse_settings
from scripts.check.form import Form
from scripts.check.plugin import PluginProcess
from scripts.check.report import Checker

USAGE = 2  # exit status for bad arguments, as argparse uses


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
