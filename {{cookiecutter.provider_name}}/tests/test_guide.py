"""DEVELOPMENT.md matches the code: it names every module, and every place marked `# ADAPT:`."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "DEVELOPMENT.md").read_text(encoding="utf-8")
ROWS = [line for line in GUIDE.splitlines() if line.startswith("| ")]
MODULES = sorted(
    p.relative_to(ROOT).as_posix() for folder in ("models", "scripts") for p in (ROOT / folder).rglob("*.py")
)


def section(title: str) -> str:
    return GUIDE.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def adapt_places() -> list[tuple[str, str]]:
    """(file, function) of every `# ADAPT:` comment in the model code: a model class's methods by
    their name (`_invoke`), other methods as Class.method."""
    places = []
    for path in sorted((ROOT / "models").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        marked = [number for number, line in enumerate(lines, 1) if line.strip().startswith("# ADAPT:")]
        functions = []
        for node in ast.parse(source).body:
            if isinstance(node, ast.ClassDef):
                model_class = any(getattr(base, "id", "") == "ErrorMapping" for base in node.bases)
                owner = "" if model_class else f"{node.name}."
                methods = [child for child in node.body if isinstance(child, ast.FunctionDef)]
                functions += [(child.lineno, child.end_lineno, owner + child.name) for child in methods]
            elif isinstance(node, ast.FunctionDef):
                functions.append((node.lineno, node.end_lineno, node.name))
        for number in marked:
            inside = [name for start, end, name in functions if start <= number <= end]
            # Outside a function, the marker stands above a constant: `NAME = ...`.
            name = inside[0] if inside else lines[number].split("=")[0].strip()
            places.append((path.relative_to(ROOT).as_posix(), name))
    return places


@pytest.mark.parametrize("module", MODULES)
def test_the_guide_names_every_module(module):
    folder, name = module.rsplit("/", 1)
    assert any(f"`{module}`" in row or (f"`{folder}/" in row and f"`{name}`" in row) for row in ROWS), (
        f"DEVELOPMENT.md has no table row for {module}"
    )


def test_the_adapting_table_names_every_adapt_place_and_no_other():
    table = [row for row in section("Adapting to another API").splitlines() if row.startswith("| ")]
    named = {
        (path, name)
        for row in table
        for names, path in re.findall(r"((?:`[\w.]+`(?:,| and) )*`[\w.]+`) in `([\w/]+\.py)`", row)
        for name in re.findall(r"`([\w.]+)`", names)
    }
    places = set(adapt_places())

    assert places, "no # ADAPT: marker in the code"
    assert places <= named, f"marked but not in the table: {sorted(places - named)}"
    assert named <= places, f"in the table but not marked: {sorted(named - places)}"
