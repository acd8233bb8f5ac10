"""The refresh command: compare the server's model list with the predefined model files, print
the difference, and write it only when told to (`--write`)."""

import argparse
import difflib
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from scripts.refresh.discovery import KEY_VARIABLE, ImportFailed, discover
from scripts.refresh.server import Server
from scripts.refresh.yamls import FOLDERS, POSITION, owned_files, wanted_files

ROOT = Path(__file__).resolve().parents[2]  # the plugin folder
# Seconds each request may take, as the form's default: a CPU server's first answer loads the model.
TIMEOUT = 60.0


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python scripts/refresh_models.py",
        description=f"Compare the server's models with models/*/ and show the difference. The API key, if "
        f"the server needs one, comes from the environment variable {KEY_VARIABLE}.",
    )
    parser.add_argument("--server-url", required=True, help="e.g. http://192.168.1.10:9997 (gets /v1)")
    parser.add_argument(
        "--routes-at-root", action="store_true", help="the API's routes are at the root (no /v1)"
    )
    parser.add_argument(
        "--timeout", type=float, default=TIMEOUT, help=f"seconds per request (default {TIMEOUT:g})"
    )
    parser.add_argument(
        "--write", action="store_true", help="write the difference (without it nothing is written)"
    )
    # The template's hook: write, no diff, errors named after the import_models_from answer.
    parser.add_argument("--bake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 < args.timeout <= 600:
        parser.error("--timeout must be a number of seconds from 0 to 600")
    parts = urlsplit(args.server_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error("--server-url must be an http(s) URL with a host, e.g. http://192.168.1.10:9997")
    if "@" in parts.netloc:  # it would show in every line that names the server
        parser.error(f"--server-url must not contain a user or password: give the key in {KEY_VARIABLE}")
    return args


def plugin_types(root: Path) -> tuple[str, ...]:
    """The model types of this plugin that have predefined models (a _position.yaml)."""
    return tuple(t for t, folder in FOLDERS.items() if (root / "models" / folder / POSITION).exists())


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    args = arguments(argv)
    name = "import_models_from" if args.bake else "--server-url"
    types = plugin_types(root)
    if not types:
        print(f"error: {name}: this plugin has no predefined models (configurate_method)", file=sys.stderr)
        return 1
    key = os.environ.get(KEY_VARIABLE, "")
    server = Server(args.server_url, key, args.timeout, args.routes_at_root)
    try:
        models, left_out = discover(server, types, bool(key))
    except ImportFailed as error:
        print(f"error: {name}: {printable(str(error))}", file=sys.stderr)
        return 1
    now, wanted = owned_files(root, types), wanted_files(root, models, types)
    changed = sorted(path for path in now.keys() | wanted.keys() if now.get(path) != wanted.get(path))
    if not args.bake:
        for path in changed:
            before, after = now.get(path, "").splitlines(True), wanted.get(path, "").splitlines(True)
            sys.stdout.writelines(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}"))
    counts = ", ".join(f"{t} {sum(m.model_type == t for m in models)}" for t in types)
    print(f"{server.base}: {len(models)} models of this plugin's types ({counts})")
    for note in left_out:
        print(f"left out: {printable(note)}")
    if not changed:
        print("the model files are up to date")
    elif args.write or args.bake:
        for path in changed:
            target = root / path
            if path in wanted:
                target.write_text(wanted[path], encoding="utf-8")
            else:
                target.unlink()
        print(f"wrote {len(changed)} files")
    else:
        print(f"{len(changed)} files differ; nothing written: run again with --write to apply")
    return 0


def printable(text: str) -> str:
    """`text` on one line, with what a terminal would act on (control characters) escaped: model
    ids and descriptions are the server's words."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
