"""Refuse bad answers with one line on stderr before any file is rendered.

Answers arrive as a JSON literal (never pasted into code), and the rules live in
hooks/answers.py of the template that is being baked.
"""

import json
import sys

CONTEXT = json.loads(r'''{{ cookiecutter | tojson }}''')
ORIGINAL = json.loads(r'''{{ _cookiecutter | default({}) | tojson }}''')

sys.path.insert(0, json.loads(r'''{{ hooks_dir | tojson }}'''))
import answers  # noqa: E402

try:
    answers.validate(CONTEXT, ORIGINAL)
except answers.AnswerError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(1)
