"""The user guide stays true to the template: every answer documented, every link alive."""

import json
import re
from pathlib import Path

import pytest
from conftest import TEMPLATE

DOCS = TEMPLATE / "docs"
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
PUBLIC = [key for key in CONTEXT if not key.startswith("_")]
PRIVATE = [key for key in CONTEXT if key.startswith("_")]
ANSWER_HEADING = re.compile(r"^### `([^`]+)`\s*$", re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PAGES = sorted(DOCS.glob("*.md")) + [TEMPLATE / "README.md"]


def answers_page() -> str:
    return (DOCS / "answers.md").read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """The text under each "### `name`" heading, up to the next heading."""
    parts = re.split(r"^#{1,3} ", text, flags=re.MULTILINE)
    found = {}
    for part in parts:
        match = re.match(r"`([^`]+)`\s*\n", part)
        if match:
            found[match.group(1)] = part[match.end() :]
    return found


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_answers_page_documents_exactly_the_current_answers():
    documented = ANSWER_HEADING.findall(answers_page())
    assert sorted(set(documented)) == sorted(documented), "an answer is documented twice"
    missing = [key for key in PUBLIC if key not in documented]
    stale = [key for key in documented if key not in PUBLIC]
    assert not missing, f"docs/answers.md does not document {missing}"
    assert not stale, f"docs/answers.md documents answers that no longer exist: {stale}"


@pytest.mark.parametrize("key", PUBLIC)
def test_each_answer_states_its_current_default(key):
    text = sections(answers_page()).get(key, "")
    default = CONTEXT[key]
    expected = "**Default:** empty" if default == "" else f"**Default:** `{default}`"
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    assert first_line == expected, f"{key}: docs say {first_line!r}, cookiecutter.json has {default!r}"
    assert len(text.split()) >= 12, f"{key}: say what the answer changes"


def test_answers_page_lists_exactly_the_template_set_keys():
    rows = re.findall(r"^\| `(_[^`]+)` \|", answers_page(), flags=re.MULTILINE)
    assert sorted(rows) == sorted(PRIVATE)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(TEMPLATE).as_posix())
def test_relative_links_and_anchors_resolve(page: Path):
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.is_file(), f"{page.name}: link to missing {target}"
        if fragment:
            headings = re.findall(r"^#{1,6} (.+)$", linked.read_text(encoding="utf-8"), flags=re.MULTILINE)
            assert fragment in {anchor(h) for h in headings}, f"{page.name}: no heading for #{fragment} in {path}"
