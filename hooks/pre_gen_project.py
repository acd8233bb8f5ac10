"""Second line of defence: refuse bad answers, one line each on stderr, before any file is rendered.

The same rules already ran while cookiecutter asked (cookiecutter_dify_model_plugin.py), before the output
directory existed; this hook covers bakes that skip the questions, such as --replay. Answers
arrive as a JSON literal (never pasted into code), and the rules are those of hooks/answers.py
of the template being baked.
"""

import json
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # a cached answers.py could belong to another template commit (cruft)
CONTEXT = json.loads(r'''{{ cookiecutter | tojson }}''')
HOOKS_DIR = json.loads(r'''{{ hooks_dir | tojson }}''')

sys.path.insert(0, HOOKS_DIR)
import answers  # noqa: E402

try:
    KNOWN = json.loads((Path(HOOKS_DIR).parent / "cookiecutter.json").read_text(encoding="utf-8"))
except (OSError, ValueError):
    KNOWN = dict(CONTEXT)

unknown = {key: value for key, value in CONTEXT.items() if key not in KNOWN}
found = answers.unknown_names(unknown, KNOWN) + answers.problems(CONTEXT)
if found:
    print("\n".join(f"error: {error}" for error in found), file=sys.stderr)
    sys.exit(1)
