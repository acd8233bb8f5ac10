{% set plan = cookiecutter | plan %}
"""Check this plugin against your own model server, exactly as Dify will run it.

    read -rsp "API key: " MODEL_SERVER_API_KEY && export MODEL_SERVER_API_KEY  # if the server needs one
    python scripts/check_server.py --server-url http://192.168.1.10:9997 --{{ plan.types[0].name }} MODEL_UID

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

import sys
from pathlib import Path

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # the plugin folder: scripts.check, models.server

from scripts.check.command import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
