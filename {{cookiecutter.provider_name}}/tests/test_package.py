"""The .difypkg holds exactly the files this plugin needs to run, and nothing else.

`dify plugin package` (dify-plugin-daemon 0.6.10, pkg/plugin_packager) walks the plugin folder and
leaves out what the ROOT `.difyignore` matches, or `.gitignore` when there is no `.difyignore`.
Each line is one go-git gitignore pattern; a `!` pattern never puts a file back, because the
packager only acts on exclusions. When requirements.txt is missing but pyproject.toml and uv.lock
exist, it adds a requirements.txt exported from uv.lock. `package_listing` below does the same.
"""

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPENDENCY_FILES = ("pyproject.toml", "uv.lock", "requirements.txt")


def go_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match for one path element: `*`, `?`, `[...]` (with `^` to negate), `\\` escapes."""
    regex, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            regex += ".*"
        elif char == "?":
            regex += "."
        elif char == "\\":
            if i + 1 == len(pattern):
                return False  # Go: ErrBadPattern, which go-git treats as no match
            i += 1
            regex += re.escape(pattern[i])
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] == "^" else i + 1)
            if end == -1:
                return False
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            regex += "[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]"
            i = end
        else:
            regex += re.escape(char)
        i += 1
    try:
        return re.fullmatch(regex, name, flags=re.DOTALL) is not None
    except re.error:
        return False


class IgnorePattern:
    """go-git's plumbing/format/gitignore pattern (v5.19), as the packager parses each line."""

    def __init__(self, line: str) -> None:
        self.inclusion = line.startswith("!")
        line = line[1:] if self.inclusion else line
        if not line.endswith("\\ "):
            line = line.rstrip(" ")
        self.dir_only = line.endswith("/")
        line = line[:-1] if self.dir_only else line
        self.is_glob = "/" in line
        self.parts = line.split("/")

    def excludes(self, path: list[str], is_dir: bool) -> bool:
        """True when the packager leaves `path` out (an inclusion pattern never does)."""
        matched = self._glob_match(path, is_dir) if self.is_glob else self._name_match(path, is_dir)
        return matched and not self.inclusion

    def _name_match(self, path: list[str], is_dir: bool) -> bool:
        for i, name in enumerate(path):
            if go_match(self.parts[0], name):
                return not (self.dir_only and not is_dir and i == len(path) - 1)
        return False

    def _glob_match(self, path: list[str], is_dir: bool) -> bool:
        matched, can_traverse = False, False
        for i, part in enumerate(self.parts):
            if part == "":
                can_traverse = False
                continue
            if part == "**":
                if i == len(self.parts) - 1:
                    break
                can_traverse = True
                continue
            if "**" in part or not path:
                return False
            if can_traverse:
                can_traverse = False
                while path:
                    element, path = path[0], path[1:]
                    if go_match(part, element):
                        matched = True
                        break
                    if not path:
                        matched = False
            else:
                if not go_match(part, path[0]):
                    return False
                matched, path = True, path[1:]
        return not (matched and self.dir_only and not is_dir and not path) and matched


def ignore_patterns(root: Path) -> list[IgnorePattern]:
    for name in (".difyignore", ".gitignore"):
        if (root / name).is_file():
            lines = (root / name).read_text(encoding="utf-8").split("\n")
            return [
                IgnorePattern(line.strip())
                for line in lines
                if line.strip() and not line.strip().startswith("#")
            ]
    return []


def package_listing(root: Path) -> set[str]:
    """The paths `dify plugin package` would write into the .difypkg."""
    patterns = ignore_patterns(root)
    listing: set[str] = set()

    def walk(folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            parts = list(entry.relative_to(root).parts)
            is_dir = entry.is_dir() and not entry.is_symlink()
            if any(p.excludes(parts, is_dir) for p in patterns):
                continue
            if is_dir:
                walk(entry)
            else:
                listing.add("/".join(parts))

    walk(root)
    if (
        not (root / "requirements.txt").exists()
        and (root / "pyproject.toml").exists()
        and (root / "uv.lock").exists()
    ):
        listing.add("requirements.txt")
    return listing


def local_imports(source: Path) -> set[Path]:
    """Files of this plugin that `source` imports (`models.server.transport`, `from models.server import limits`, ...)."""
    found: set[Path] = set()
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from . import x` in models/a/b.py is models.a.x
                package = source.relative_to(ROOT).parent.parts
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            modules = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for module in filter(None, modules):
            parts = module.split(".")
            # The module's file, and the __init__.py of each package above it, which Python runs first.
            candidates = [ROOT / Path(*parts).with_suffix(".py")]
            candidates += [ROOT / Path(*parts[:end]) / "__init__.py" for end in range(1, len(parts) + 1)]
            found.update(candidate for candidate in candidates if candidate.is_file())
    return found


def needed_files() -> set[str]:
    """What Dify reads to install, run and show this plugin, followed from manifest.yaml."""
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    needed = {"manifest.yaml", "README.md"}  # the daemon refuses a package without README.md
    needed |= {name for name in DEPENDENCY_FILES if (ROOT / name).is_file()}
    needed |= {f"_assets/{manifest[key]}" for key in ("icon", "icon_dark") if manifest.get(key)}
    if manifest.get("privacy"):
        needed.add(manifest["privacy"])
    python = [ROOT / f"{manifest['meta']['runner']['entrypoint']}.py"]
    for provider_file in manifest["plugins"]["models"]:
        needed.add(provider_file)
        provider = yaml.safe_load((ROOT / provider_file).read_text(encoding="utf-8"))
        for key in ("icon_small", "icon_large", "icon_small_dark", "icon_large_dark"):
            needed |= {f"_assets/{name}" for name in (provider.get(key) or {}).values()}
        sources = provider["extra"]["python"]
        python += [ROOT / sources["provider_source"], *(ROOT / s for s in sources["model_sources"])]
        for declared in (provider.get("models") or {}).values():
            for pattern in declared.get("predefined", []):
                needed |= {p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern)}
            if declared.get("position"):
                needed.add(declared["position"])
    seen: set[Path] = set()
    while python:
        source = python.pop()
        if source not in seen:
            seen.add(source)
            python += local_imports(source)
    return needed | {p.relative_to(ROOT).as_posix() for p in seen}


def test_package_holds_exactly_what_the_plugin_needs():
    listing, needed = package_listing(ROOT), needed_files()
    assert not needed - listing, f"needed but left out of the package: {sorted(needed - listing)}"
    assert not listing - needed, f"packaged but not needed to run: {sorted(listing - needed)}"


@pytest.mark.parametrize(
    "junk",
    ["models/a/b.py.orig", "models/x.rej", "main.py~", ".DS_Store", "_assets/Thumbs.db", "debug.log"]
    + [
        ".idea/workspace.xml",
        ".vscode/settings.json",
        "models/.b.py.swp",
        "__pycache__/main.cpython-312.pyc",
    ]
    + [".env", ".venv/bin/python", ".pytest_cache/v/x", "dist/x.difypkg", "logs/today.txt", ".uv-cache/x"],
)
def test_debris_a_developer_leaves_behind_stays_out(junk, tmp_path):
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / ".difyignore").write_bytes((ROOT / ".difyignore").read_bytes())
    (plugin / "manifest.yaml").write_text("name: x\n", encoding="utf-8")
    (plugin / junk).parent.mkdir(parents=True, exist_ok=True)
    (plugin / junk).write_text("junk\n", encoding="utf-8")
    assert package_listing(plugin) == {"manifest.yaml"}


def test_listing_follows_the_packagers_rules(tmp_path):
    """The rules of dify-plugin-daemon's decoder/fs.go Walk, on a tree made for them."""
    for name in (
        "a.txt",
        "keep.log",
        "sub/tests/t.py",
        "tests",
        "docs/x.md",
        "deep/docs/y.md",
        "pyproject.toml",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    (tmp_path / "uv.lock").write_text("version = 1\n", encoding="utf-8")
    (tmp_path / ".gitignore").write_text("a.txt\n", encoding="utf-8")
    # Only the root .difyignore counts; `!` never brings a file back; `tests/` matches folders at any
    # depth but not a file; a pattern with a slash is anchored at the root.
    (tmp_path / ".difyignore").write_text("*.log\n!keep.log\n tests/ \n/docs\n# comment\n", encoding="utf-8")
    assert package_listing(tmp_path) == {
        ".difyignore",
        ".gitignore",
        "a.txt",
        "deep/docs/y.md",
        "tests",
        "pyproject.toml",
        "uv.lock",
        "requirements.txt",  # exported from uv.lock by the packager
    }
    (tmp_path / ".difyignore").unlink()
    assert "a.txt" not in package_listing(tmp_path), ".gitignore applies when there is no .difyignore"
