"""Second line of defence: refuse bad answers with one line on stderr before any file is rendered.

The same rules already ran while cookiecutter prompted (local_extensions.check_answers), before
the output directory existed; this hook covers bakes that skip prompting, such as --replay.
Answers arrive as a JSON literal (never pasted into code), and the rules live in
hooks/answers.py of the template that is being baked.
"""

import json
import sys
from pathlib import Path

CONTEXT = json.loads(r'''{{ cookiecutter | tojson }}''')
ORIGINAL = json.loads(r'''{{ _cookiecutter | default({}) | tojson }}''')
HOOKS_DIR = json.loads(r'''{{ hooks_dir | tojson }}''')

sys.path.insert(0, HOOKS_DIR)
import answers  # noqa: E402

try:
    DEFAULTS = json.loads((Path(HOOKS_DIR).parent / "cookiecutter.json").read_text(encoding="utf-8"))
except (OSError, ValueError):
    DEFAULTS = {}

try:
    answers.validate(CONTEXT, ORIGINAL, DEFAULTS)
except answers.AnswerError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(1)
