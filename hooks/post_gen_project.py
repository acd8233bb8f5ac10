"""Make the baked tree exactly the plugin that was asked for.

Removes every file that belongs to an unchosen model type or configure method, following
the tables in hooks/answers.py, and applies the blank-implementation overlay if chosen. With
`import_models_from`, the baked plugin's own scripts/refresh_models.py then writes the server's
models; if it fails, its one line is the error and cookiecutter removes the half-made plugin.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # a cached answers.py could belong to another template commit (cruft)
CONTEXT = json.loads(r'''{{ cookiecutter | tojson }}''')

sys.path.insert(0, json.loads(r'''{{ hooks_dir | tojson }}'''))
import answers  # noqa: E402

plan = answers.validate(CONTEXT)
root = Path.cwd()

overlay = root / answers.BLANK_OVERLAY
if plan.implementation == "blank":
    kept = {path: (root / path).read_bytes() for path in answers.KEPT_IN_BLANK}
    for path in answers.WORKING_ONLY:
        if (root / path).is_dir():
            shutil.rmtree(root / path)
        else:
            (root / path).unlink(missing_ok=True)
    for path, content in kept.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    for source in sorted(p for p in overlay.rglob("*") if p.is_file()):
        target = root / source.relative_to(overlay)
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)
shutil.rmtree(overlay, ignore_errors=True)

for relative in answers.paths_to_remove(plan):
    path = root / relative
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)

if plan.imports:
    if sys.version_info[:2] == (3, 12):
        python = sys.executable
    else:  # the import runs the plugin's code, which is Python 3.12's
        found = subprocess.run(["bash", "scripts/find_python.sh"], capture_output=True, text=True)
        python = found.stdout.strip()
        if found.returncode != 0 or not python:
            print(
                "error: import_models_from: needs Python 3.12 to ask the server (the plugin's code runs on it); "
                "install it or set PYTHON312=/path/to/python3.12",
                file=sys.stderr,
            )
            sys.exit(1)
    command = [python, "scripts/refresh_models.py", "--bake", "--server-url", plan.imports_from]
    sys.exit(subprocess.run(command).returncode)
