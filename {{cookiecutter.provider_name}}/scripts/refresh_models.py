"""Refresh the predefined models from the model server: show what changed, write it when told.

    read -rsp "API key: " MODEL_SERVER_API_KEY && export MODEL_SERVER_API_KEY  # if the server needs one
    python scripts/refresh_models.py --server-url http://192.168.1.10:9997           # the difference
    python scripts/refresh_models.py --server-url http://192.168.1.10:9997 --write   # ... written

It lists the server's models (`GET /v1/models`) and tells each one's type and features as
validation does (models/server/families/), then compares one YAML per model in models/<type>/
(and each _position.yaml) with the files an earlier import wrote. Hand-written model files are
never touched. Only the standard library and this plugin's own code are used, so it runs before
the plugin's dependencies are installed (the template's hook runs it when a bake imports models).
Every request ends within --timeout seconds. Exit status: 0 done, 1 the import failed (one line
says why; nothing written), 2 bad arguments.
"""

import sys
from pathlib import Path

# The plugin folder, where scripts.refresh and models.server are.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.refresh.command import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
